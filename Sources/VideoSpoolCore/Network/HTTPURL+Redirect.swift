extension HTTPURL {
    /// The target of a redirect's `Location` from this URL (RFC 9110 §10.2.2, RFC 3986 §5.2): an
    /// absolute URL, a scheme-relative `//host/path`, an absolute path, or a path relative to this
    /// one's directory. A fragment is dropped (it is never sent).
    /// - Throws: ``ParseError`` when the target is not an http(s) URL ``HTTPURL`` accepts.
    public func resolving(location: String) throws(ParseError) -> HTTPURL {
        let location = location.trimmingWhitespace
        guard !location.isEmpty else { throw ParseError(message: "is empty") }
        let resolved: String
        if location.hasPrefix("//") {
            resolved = scheme + ":" + location
        } else if location.hasPrefix("/") {
            resolved = origin + location
        } else if Self.hasScheme(location) {
            resolved = location
        } else {
            let path = pathAndQuery.prefix { $0 != "?" && $0 != "#" }
            let directory = path.lastIndex(of: "/").map { path[...$0] } ?? "/"
            resolved = origin + directory + location
        }
        return try HTTPURL(parsing: resolved).withoutFragment
    }

    /// This URL without its `#fragment`, which is not part of a request.
    public var withoutFragment: HTTPURL {
        guard let hash = pathAndQuery.firstIndex(of: "#") else { return self }
        // Re-parsing a prefix of a valid URL cannot fail.
        return (try? HTTPURL(parsing: origin + pathAndQuery[..<hash])) ?? self
    }

    /// `scheme://host[:port]`.
    public var origin: String {
        "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")"
    }

    /// Whether `text` starts with `scheme:` (RFC 3986: a letter, then letters, digits, `+-.`).
    private static func hasScheme(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":"), let first = text.first, first.isASCII, first.isLetter else {
            return false
        }
        return text[..<colon].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
    }
}
