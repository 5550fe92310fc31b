import Foundation

/// An absolute `http` or `https` URL, split into the parts the daemon checks and connects to.
///
/// Parsing is deliberately strict for callback URLs: no whitespace or control characters, no user
/// info (credentials would end up in logs), an explicit host, and a port in range.
public struct HTTPURL: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    /// Lowercased host; IPv6 literals keep their brackets, as in the URL.
    public let host: String
    public let port: Int?
    /// Path, query and fragment as written (at least `/`).
    public let pathAndQuery: String

    public struct ParseError: Error, Sendable, Equatable {
        public let message: String
    }

    /// - Parameter maximumLength: the longest text taken, in UTF-8 bytes (callback URLs: 2048;
    ///   video URLs, which may carry a long signature: more).
    public init(parsing text: String, maximumLength: Int = 2048) throws(ParseError) {
        guard text.utf8.count <= maximumLength else {
            throw ParseError(message: "is longer than \(maximumLength) characters")
        }
        guard let schemeEnd = text.firstRange(of: "://") else {  // stdlib search, not Foundation bridging
            // `javascript:…`, `mailto:…`, `file:/…`: name the scheme rather than just "not a URL".
            if let colon = text.firstIndex(of: ":"), text.first?.isLetter == true,
                text[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) })
            {
                throw ParseError(message: "uses the scheme '\(text[..<colon].lowercased())'; only http and https are allowed")
            }
            throw ParseError(message: "is not an absolute URL (expected http:// or https://)")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw ParseError(message: "uses the scheme '\(scheme)'; only http and https are allowed")
        }
        for scalar in text.unicodeScalars where scalar.value <= 0x20 || scalar.value == 0x7F {
            throw ParseError(message: "contains whitespace or a control character")
        }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if authority.contains("@") {
            throw ParseError(message: "contains user info ('user@' or 'user:password@'), which is not allowed")
        }
        var host = Substring(authority)
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw ParseError(message: "has an unclosed '['") }
            host = authority[...close]
            guard case .v6? = IPAddress.parseIPv6(authority[authority.index(after: authority.startIndex)..<close]
                .prefix { $0 != "%" })
            else { throw ParseError(message: "has brackets around something that is not an IPv6 address") }
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), after.utf8.dropFirst().allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                    let value = Int(after.dropFirst())
                else {
                    throw ParseError(message: "has an invalid port")
                }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            let digits = authority[authority.index(after: colon)...]
            // `Int(_:)` alone would also take a sign ("+80").
            guard digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(digits) else {
                throw ParseError(message: "has an invalid port")
            }
            port = value
        }
        if let port, !(1...65535).contains(port) { throw ParseError(message: "has a port outside 1-65535") }
        guard !host.isEmpty else { throw ParseError(message: "has no host") }
        let allowed = host.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-._[]:%".unicodeScalars.contains(scalar)
        }
        guard allowed else { throw ParseError(message: "has invalid characters in its host") }
        if path.isEmpty || path.hasPrefix("?") || path.hasPrefix("#") { path = "/" + path }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.pathAndQuery = path
    }

    /// The host without IPv6 brackets, as passed to a resolver.
    public var hostForResolution: String {
        host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
    }

    /// The address if the host is an IP literal in any spelling a resolver would accept.
    public var literalAddress: IPAddress? {
        IPAddress(lenient: host)
    }

    public var effectivePort: Int { port ?? (scheme == "https" ? 443 : 80) }

    public var description: String {
        "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")\(pathAndQuery)"
    }

    /// The URL without query and fragment, which may carry tokens; safe for logs and outcome files.
    public var redacted: String {
        let cut = pathAndQuery.firstIndex { $0 == "?" || $0 == "#" }
        let path = cut.map { String(pathAndQuery[..<$0]) } ?? pathAndQuery
        let suffix = cut == nil ? "" : "?…"
        return "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")\(path)\(suffix)"
    }
}
