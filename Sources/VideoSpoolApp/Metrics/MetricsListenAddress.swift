/// `metrics.listen`: where `GET /metrics` is served, a TCP `host:port` (`127.0.0.1:9464`,
/// `[::1]:9464`) or the absolute path of a unix socket.
public enum MetricsListenAddress: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unixSocket(path: String)

    /// Parses the setting; throws, naming the key, when it is neither form.
    public init(parsing text: String) throws(ConfigurationError) {
        if text.hasPrefix("/") {
            self = .unixSocket(path: text)
            return
        }
        guard let colon = text.lastIndex(of: ":") else {
            throw ConfigurationError(key: "metrics.listen", "must be host:port or the absolute path of a unix socket (got '\(text)')")
        }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("/"), !host.contains("["), !host.contains("]") else {
            throw ConfigurationError(key: "metrics.listen", "'\(text)' has no usable host (IPv6 addresses go in brackets: [::1]:9464)")
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ConfigurationError(key: "metrics.listen", "'\(text)' needs a port between 1 and 65535")
        }
        self = .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): path
        }
    }
}
