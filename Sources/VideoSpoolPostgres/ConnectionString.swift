#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// libpq's two spellings of a connection: a URL (`postgresql://user@host:5432/db?sslmode=require`,
/// `postgresql:///db?host=/run/postgresql`) or key/value pairs (`host=db1 port=5432 dbname=spool`).
/// Only what the store uses is accepted; anything else is an error rather than silently ignored.
enum ConnectionString {
    static let key = "state.postgresql.url"
    /// Debian's libpq looks for the server's socket here when no host is given.
    static let defaultSocketDirectory = "/var/run/postgresql"
    static let supportedParameters = ["host", "port", "user", "password", "dbname", "sslmode", "sslrootcert"]

    static func parse(_ text: String) throws(PostgresConfigurationError) -> PostgresStoreConfiguration {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let parameters: [String: String]
        if trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://") {
            parameters = try parseURL(trimmed)
        } else if trimmed.contains("=") {
            parameters = try parseKeyValue(trimmed)
        } else {
            throw error("must be a postgresql:// URL or key=value pairs (got '\(redacting(trimmed))')", in: trimmed)
        }
        if let unknown = parameters.keys.sorted().first(where: { !supportedParameters.contains($0) }) {
            throw error(
                "'\(unknown)' is not supported (supported: \(supportedParameters.joined(separator: ", ")))",
                in: trimmed
            )
        }

        let portText = parameters["port"].flatMap { $0.isEmpty ? nil : $0 } ?? "5432"
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw error("port must be 1-65535 (got '\(portText)')", in: trimmed)
        }
        let host = parameters["host"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultSocketDirectory
        if host.contains(",") {
            throw error("several hosts are not supported; name one (a virtual IP or a proxy for failover)", in: trimmed)
        }
        let user = parameters["user"].flatMap { $0.isEmpty ? nil : $0 } ?? currentUserName()
        let database = parameters["dbname"].flatMap { $0.isEmpty ? nil : $0 } ?? user

        let endpoint: PostgresStoreConfiguration.Endpoint
        let mode: PostgresStoreConfiguration.TLSMode
        if host.hasPrefix("/") {
            endpoint = .unixSocket(path: host + "/.s.PGSQL.\(port)")
            // libpq never uses TLS on a local socket, whatever sslmode says.
            mode = .disable
        } else {
            endpoint = .tcp(host: host, port: port)
            let sslmode = parameters["sslmode"] ?? "prefer"
            guard let parsed = PostgresStoreConfiguration.TLSMode(rawValue: sslmode) else {
                throw error(
                    "sslmode must be one of \(PostgresStoreConfiguration.TLSMode.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(sslmode)')",
                    in: trimmed
                )
            }
            mode = parsed
        }
        let password = parameters["password"].flatMap { $0.isEmpty ? nil : $0 }
        return PostgresStoreConfiguration(
            endpoint: endpoint,
            username: user,
            password: password,
            database: database,
            tls: mode,
            rootCertificatePath: parameters["sslrootcert"]
        )
    }

    /// `postgresql://[user[:password]@][host][:port][/dbname][?key=value&...]`, percent-encoded.
    private static func parseURL(_ url: String) throws(PostgresConfigurationError) -> [String: String] {
        var rest = Substring(url[url.range(of: "://")!.upperBound...])
        var parameters: [String: String] = [:]
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let name = rest[rest.index(after: slash)...]
            if !name.isEmpty { parameters["dbname"] = try decode(name, in: url) }
        }
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                parameters["user"] = try decode(userInfo[..<colon], in: url)
                parameters["password"] = try decode(userInfo[userInfo.index(after: colon)...], in: url)
            } else if !userInfo.isEmpty {
                parameters["user"] = try decode(userInfo, in: url)
            }
        }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw error("an IPv6 host needs a closing ']'", in: url)
            }
            parameters["host"] = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { parameters["port"] = String(after.dropFirst()) } else if !after.isEmpty {
                throw error("unexpected '\(after)' after the host", in: url)
            }
        } else if let colon = authority.lastIndex(of: ":") {
            parameters["host"] = try decode(authority[..<colon], in: url)
            parameters["port"] = String(authority[authority.index(after: colon)...])
        } else if !authority.isEmpty {
            parameters["host"] = try decode(authority, in: url)
        }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "=") else {
                throw error("'\(redactingPair(pair))' in the query is not key=value", in: url)
            }
            let name = try decode(pair[..<equals], in: url)
            parameters[name] = try decode(pair[pair.index(after: equals)...], in: url)
        }
        return parameters
    }

    /// `key=value key='quoted value'`, with `\'` and `\\` inside quotes.
    private static func parseKeyValue(_ text: String) throws(PostgresConfigurationError) -> [String: String] {
        var parameters: [String: String] = [:]
        var characters = Substring(text)
        func skipSpaces() { while let first = characters.first, first.isWhitespace { characters = characters.dropFirst() } }
        skipSpaces()
        while !characters.isEmpty {
            var name = ""
            while let first = characters.first, first != "=", !first.isWhitespace {
                name.append(first)
                characters = characters.dropFirst()
            }
            skipSpaces()
            guard characters.first == "=" else { throw error("'\(name)' has no '=value'", in: text) }
            characters = characters.dropFirst()
            skipSpaces()
            var value = ""
            if characters.first == "'" {
                characters = characters.dropFirst()
                var closed = false
                while let first = characters.first {
                    characters = characters.dropFirst()
                    if first == "\\", let escaped = characters.first {
                        value.append(escaped)
                        characters = characters.dropFirst()
                    } else if first == "'" {
                        closed = true
                        break
                    } else {
                        value.append(first)
                    }
                }
                if !closed { throw error("the value of '\(name)' has no closing quote", in: text) }
            } else {
                while let first = characters.first, !first.isWhitespace {
                    if first == "\\", let escaped = characters.dropFirst().first {
                        value.append(escaped)
                        characters = characters.dropFirst(2)
                    } else {
                        value.append(first)
                        characters = characters.dropFirst()
                    }
                }
            }
            parameters[name] = value
            skipSpaces()
        }
        return parameters
    }

    private static func decode(_ text: Substring, in url: String) throws(PostgresConfigurationError) -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw error("has a malformed %-escape", in: url)
        }
        return decoded
    }

    private static func error(_ message: String, in text: String) -> PostgresConfigurationError {
        PostgresConfigurationError(key: key, "\(message) in '\(redacting(text))'")
    }

    /// The connection string with its password, wherever it is, replaced by `***`.
    static func redacting(_ text: String) -> String {
        var result = text
        if let scheme = result.range(of: "://") {
            // user:password@ in the authority.
            let authorityEnd = result[scheme.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? result.endIndex
            if let at = result[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
                let colon = result[scheme.upperBound..<at].firstIndex(of: ":")
            {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        // password=... as a query parameter or a key/value pair, quoted or not.
        var output = ""
        var rest = Substring(result)
        while let range = rest.range(of: "password", options: .caseInsensitive) {
            output += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            var probe = rest.drop(while: { $0 == " " })
            guard probe.first == "=" else { continue }
            probe = probe.dropFirst().drop(while: { $0 == " " })
            output += "="
            if probe.first == "'" {
                var index = probe.index(after: probe.startIndex)
                while index < probe.endIndex, probe[index] != "'" {
                    index = probe[index] == "\\" ? probe.index(index, offsetBy: 2, limitedBy: probe.endIndex) ?? probe.endIndex : probe.index(after: index)
                }
                rest = index < probe.endIndex ? probe[probe.index(after: index)...] : probe[probe.endIndex...]
            } else {
                rest = probe.drop(while: { !$0.isWhitespace && $0 != "&" })
            }
            output += "***"
        }
        return output + rest
    }

    private static func redactingPair(_ pair: Substring) -> String {
        pair.lowercased().hasPrefix("password") ? "password=***" : String(pair)
    }

    private static func currentUserName() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "postgres"
    }
}
