#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Where the shared job store is and how the store behaves: the `state.postgresql.*` keys.
///
/// ``parse(_:)`` takes values already read from the configuration (the daemon's settings reader
/// does the reading) and checks them; every error names its key. The password is never part of a
/// description or an error.
public struct PostgresStoreConfiguration: Sendable, CustomStringConvertible {
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`/run/postgresql/.s.PGSQL.5432`).
        case unixSocket(path: String)
    }

    /// libpq's `sslmode` values that the store supports.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS if the server offers it (certificate not verified), else plain.
        case prefer
        /// TLS, the certificate not verified (libpq: as `verify-ca` when a root certificate is given).
        case require
        /// TLS, the certificate chain verified, not the host name.
        case verifyCA = "verify-ca"
        /// TLS, the certificate chain and the host name verified.
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var username: String
    /// Never printed; see ``description``.
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// A PEM file of the certificate authorities to trust (`sslrootcert`); the system's when `nil`.
    public var rootCertificatePath: String?
    /// The schema the store's tables live in (`state.postgresql.schema`).
    public var schema: String
    /// How long an instance's lease lasts after a renewal (`state.postgresql.lease_seconds`).
    public var leaseDuration: Duration
    /// How often any daemon releases the jobs of instances whose lease ran out.
    public var reaperInterval: Duration
    /// How often a daemon looks for released work even without an announcement.
    public var claimInterval: Duration
    /// How long a job whose owner died during its POST waits before another daemon may take it,
    /// so that a generation id the old owner learns late can still land.
    public var submitGrace: Duration
    /// Whether to LISTEN for work announcements (off behind PgBouncer in transaction mode).
    public var listen: Bool
    /// The pool's connections (the lease renewal and LISTEN have one each besides).
    public var maximumConnections: Int
    /// The server-side limit for one statement (claims, renewals, commits).
    public var statementTimeout: Duration

    public init(
        endpoint: Endpoint,
        username: String,
        password: String? = nil,
        database: String,
        tls: TLSMode = .disable,
        rootCertificatePath: String? = nil,
        schema: String = "videospool",
        leaseDuration: Duration = .seconds(15),
        reaperInterval: Duration = .seconds(2),
        claimInterval: Duration = .seconds(1),
        submitGrace: Duration = .seconds(120),
        listen: Bool = true,
        maximumConnections: Int = 10,
        statementTimeout: Duration = .seconds(5)
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.rootCertificatePath = rootCertificatePath
        self.schema = schema
        self.leaseDuration = leaseDuration
        self.reaperInterval = reaperInterval
        self.claimInterval = claimInterval
        self.submitGrace = submitGrace
        self.listen = listen
        self.maximumConnections = maximumConnections
        self.statementTimeout = statementTimeout
    }

    /// How often the lease must be renewed: a third of it, so that two renewals may fail.
    public var heartbeatInterval: Duration { leaseDuration / 3 }

    /// Where and as whom, without the password: for logs, `check-config` and errors.
    public var description: String {
        let place: String
        switch endpoint {
        case .tcp(let host, let port): place = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .unixSocket(let path): place = path
        }
        return "postgresql://\(username)@\(place)/\(database) (sslmode=\(tls.rawValue), schema \(schema))"
    }

    // MARK: - Parsing

    /// The `state.postgresql.*` values as read from the configuration; `nil` means "not set".
    public struct Values: Sendable {
        public var url: String?
        public var passwordFile: String?
        /// `$CREDENTIALS_DIRECTORY` (systemd's `LoadCredential=`), where `postgresql-password` may be.
        public var credentialsDirectory: String?
        public var schema: String?
        public var leaseSeconds: Double?
        public var reaperIntervalSeconds: Double?
        public var claimIntervalSeconds: Double?
        public var submitGraceSeconds: Double?
        public var listen: Bool?
        public var maximumConnections: Int?
        public var statementTimeoutSeconds: Double?

        public init(
            url: String?,
            passwordFile: String? = nil,
            credentialsDirectory: String? = nil,
            schema: String? = nil,
            leaseSeconds: Double? = nil,
            reaperIntervalSeconds: Double? = nil,
            claimIntervalSeconds: Double? = nil,
            submitGraceSeconds: Double? = nil,
            listen: Bool? = nil,
            maximumConnections: Int? = nil,
            statementTimeoutSeconds: Double? = nil
        ) {
            self.url = url
            self.passwordFile = passwordFile
            self.credentialsDirectory = credentialsDirectory
            self.schema = schema
            self.leaseSeconds = leaseSeconds
            self.reaperIntervalSeconds = reaperIntervalSeconds
            self.claimIntervalSeconds = claimIntervalSeconds
            self.submitGraceSeconds = submitGraceSeconds
            self.listen = listen
            self.maximumConnections = maximumConnections
            self.statementTimeoutSeconds = statementTimeoutSeconds
        }
    }

    /// The configuration keys, for documentation checks and `check-config`.
    public static let keys = [
        "state.postgresql.url",
        "state.postgresql.password_file",
        "state.postgresql.schema",
        "state.postgresql.lease_seconds",
        "state.postgresql.reaper_interval_seconds",
        "state.postgresql.claim_interval_seconds",
        "state.postgresql.submit_grace_seconds",
        "state.postgresql.listen",
        "state.postgresql.max_connections",
        "state.postgresql.statement_timeout_seconds",
    ]

    /// Checks `values` and builds the configuration. The password comes from
    /// `state.postgresql.password_file`, else `$CREDENTIALS_DIRECTORY/postgresql-password`, else
    /// the URL.
    public static func parse(
        _ values: Values,
        readFile: ((String) throws -> String)? = nil,
        fileExists: ((String) -> Bool)? = nil
    ) throws(PostgresConfigurationError) -> PostgresStoreConfiguration {
        let readFile = readFile ?? { try String(contentsOfFile: $0, encoding: .utf8) }
        let fileExists = fileExists ?? { FileManager.default.fileExists(atPath: $0) }
        guard let url = values.url, !url.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw PostgresConfigurationError(key: "state.postgresql.url", "is required with state.backend: postgresql")
        }
        var configuration = try ConnectionString.parse(url)

        if let file = values.passwordFile {
            configuration.password = try readPassword(file, key: "state.postgresql.password_file", readFile: readFile)
        } else if let directory = values.credentialsDirectory, !directory.isEmpty {
            let file = directory + "/postgresql-password"
            if fileExists(file) {
                configuration.password = try readPassword(file, key: "state.postgresql.password_file", readFile: readFile)
            }
        }

        if let schema = values.schema {
            guard Self.isPlainIdentifier(schema) else {
                throw PostgresConfigurationError(
                    key: "state.postgresql.schema",
                    "must be a plain lower-case identifier (letters, digits, '_', at most 63; got '\(schema)')"
                )
            }
            configuration.schema = schema
        }
        configuration.leaseDuration = try seconds(
            values.leaseSeconds,
            key: "state.postgresql.lease_seconds",
            default: configuration.leaseDuration,
            in: 1...3600
        )
        configuration.reaperInterval = try seconds(
            values.reaperIntervalSeconds,
            key: "state.postgresql.reaper_interval_seconds",
            default: configuration.reaperInterval,
            in: 0.1...3600
        )
        configuration.claimInterval = try seconds(
            values.claimIntervalSeconds,
            key: "state.postgresql.claim_interval_seconds",
            default: configuration.claimInterval,
            in: 0.05...3600
        )
        configuration.submitGrace = try seconds(
            values.submitGraceSeconds,
            key: "state.postgresql.submit_grace_seconds",
            default: configuration.submitGrace,
            in: 0...86400
        )
        configuration.statementTimeout = try seconds(
            values.statementTimeoutSeconds,
            key: "state.postgresql.statement_timeout_seconds",
            default: configuration.statementTimeout,
            in: 0.1...3600
        )
        configuration.listen = values.listen ?? configuration.listen
        if let connections = values.maximumConnections {
            guard (2...1000).contains(connections) else {
                throw PostgresConfigurationError(
                    key: "state.postgresql.max_connections",
                    "must be between 2 and 1000 (got \(connections))"
                )
            }
            configuration.maximumConnections = connections
        }
        return configuration
    }

    /// `url` with any password in it replaced by `***`, for messages.
    public static func redacting(_ url: String) -> String {
        ConnectionString.redacting(url)
    }

    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        let lower = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz_")
        let rest = lower.union(CharacterSet(charactersIn: "0123456789"))
        return lower.contains(first) && name.unicodeScalars.allSatisfy { rest.contains($0) }
    }

    private static func readPassword(
        _ path: String,
        key: String,
        readFile: (String) throws -> String
    ) throws(PostgresConfigurationError) -> String {
        let text: String
        do {
            text = try readFile(path)
        } catch {
            throw PostgresConfigurationError(key: key, "cannot read '\(path)' (\(Self.reason(error)))")
        }
        // One line: a trailing newline (as `echo` writes) is not part of the password.
        var password = Substring(text)
        while let last = password.last, last == "\n" || last == "\r" { password = password.dropLast() }
        guard !password.isEmpty else { throw PostgresConfigurationError(key: key, "'\(path)' is empty") }
        return String(password)
    }

    private static func reason(_ error: any Error) -> String {
        let error = error as NSError
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if error.domain == NSCocoaErrorDomain, error.code == NSFileReadNoSuchFileError { return "no such file" }
        if error.domain == NSCocoaErrorDomain, error.code == NSFileReadNoPermissionError { return "permission denied" }
        return error.localizedDescription
    }

    private static func seconds(
        _ value: Double?,
        key: String,
        default fallback: Duration,
        in range: ClosedRange<Double>
    ) throws(PostgresConfigurationError) -> Duration {
        guard let value else { return fallback }
        guard value.isFinite, range.contains(value) else {
            throw PostgresConfigurationError(
                key: key,
                "must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound)) seconds (got \(Self.format(value)))"
            )
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// Reflection (`dump`, `String(reflecting:)`, test failure messages) shows no password either.
extension PostgresStoreConfiguration: CustomReflectable {
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "endpoint": endpoint, "username": username, "password": password == nil ? "nil" : "***",
                "database": database, "tls": tls, "rootCertificatePath": rootCertificatePath as Any, "schema": schema,
                "leaseDuration": leaseDuration, "reaperInterval": reaperInterval, "claimInterval": claimInterval,
                "submitGrace": submitGrace, "listen": listen, "maximumConnections": maximumConnections,
                "statementTimeout": statementTimeout,
            ],
            displayStyle: .struct
        )
    }
}

/// A `state.postgresql.*` value that cannot be used; the message names the key and never shows a
/// password.
public struct PostgresConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let key: String
    public let message: String

    public init(key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}
