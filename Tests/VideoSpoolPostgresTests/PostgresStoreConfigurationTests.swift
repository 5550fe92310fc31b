import Testing
import VideoSpoolPostgres

/// `state.postgresql.*`: both connection spellings, TLS modes, where the password comes from, and
/// errors that name the key and never show the password.
@Suite struct PostgresStoreConfigurationTests {
    typealias Values = PostgresStoreConfiguration.Values

    private func parse(_ values: Values, files: [String: String] = [:]) throws -> PostgresStoreConfiguration {
        try PostgresStoreConfiguration.parse(
            values,
            readFile: { path in
                guard let text = files[path] else { throw CocoaErrorLike.noSuchFile }
                return text
            },
            fileExists: { files[$0] != nil }
        )
    }

    enum CocoaErrorLike: Error { case noSuchFile }

    @Test func aURLGivesHostPortUserDatabaseAndTLS() throws {
        let configuration = try parse(Values(url: "postgresql://spool@db1.example:6432/jobs?sslmode=verify-full&sslrootcert=/etc/ca.pem"))
        #expect(configuration.endpoint == .tcp(host: "db1.example", port: 6432))
        #expect(configuration.username == "spool")
        #expect(configuration.database == "jobs")
        #expect(configuration.tls == .verifyFull)
        #expect(configuration.rootCertificatePath == "/etc/ca.pem")
        #expect(configuration.password == nil)
    }

    @Test func aURLMayNameAUnixSocketDirectoryEitherWay() throws {
        let query = try parse(Values(url: "postgresql://spool@/jobs?host=/run/postgresql"))
        #expect(query.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(query.tls == .disable, "TLS is never used on a local socket")
        let encoded = try parse(Values(url: "postgres://spool@%2Fvar%2Frun%2Fpostgresql:5433/jobs"))
        #expect(encoded.endpoint == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5433"))
    }

    @Test func anIPv6HostAndPercentEncodedCredentialsAreDecoded() throws {
        let configuration = try parse(Values(url: "postgresql://us%40er:p%3Ass@[::1]:5432/db%20name?sslmode=require"))
        #expect(configuration.endpoint == .tcp(host: "::1", port: 5432))
        #expect(configuration.username == "us@er")
        #expect(configuration.password == "p:ss")
        #expect(configuration.database == "db name")
        #expect(configuration.tls == .require)
    }

    @Test func keyValuePairsWithQuotedValues() throws {
        let configuration = try parse(
            Values(url: "host=db2.example port=5433 user=spool dbname='my jobs' password='it\\'s' sslmode=disable")
        )
        #expect(configuration.endpoint == .tcp(host: "db2.example", port: 5433))
        #expect(configuration.database == "my jobs")
        #expect(configuration.password == "it's")
        #expect(configuration.tls == .disable)
    }

    @Test func theDefaultsAreTheDocumentedOnes() throws {
        let configuration = try parse(Values(url: "postgresql://spool@db/jobs"))
        #expect(configuration.tls == .prefer)
        #expect(configuration.schema == "videospool")
        #expect(configuration.leaseDuration == .seconds(15))
        #expect(configuration.heartbeatInterval == .seconds(5))
        #expect(configuration.reaperInterval == .seconds(2))
        #expect(configuration.claimInterval == .seconds(1))
        #expect(configuration.submitGrace == .seconds(120))
        #expect(configuration.listen)
        #expect(configuration.maximumConnections == 10)
        #expect(configuration.statementTimeout == .seconds(5))
    }

    @Test func timingsAndTheSchemaAreRead() throws {
        let configuration = try parse(
            Values(
                url: "postgresql://spool@db/jobs",
                schema: "spool_b",
                leaseSeconds: 9,
                reaperIntervalSeconds: 0.5,
                claimIntervalSeconds: 0.25,
                submitGraceSeconds: 300,
                listen: false,
                maximumConnections: 4,
                statementTimeoutSeconds: 2.5
            )
        )
        #expect(configuration.schema == "spool_b")
        #expect(configuration.leaseDuration == .seconds(9))
        #expect(configuration.heartbeatInterval == .seconds(3))
        #expect(configuration.reaperInterval == .milliseconds(500))
        #expect(configuration.claimInterval == .milliseconds(250))
        #expect(configuration.submitGrace == .seconds(300))
        #expect(!configuration.listen)
        #expect(configuration.maximumConnections == 4)
        #expect(configuration.statementTimeout == .milliseconds(2500))
    }

    @Test func thePasswordFileWinsOverTheCredentialsDirectoryWhichWinsOverTheURL() throws {
        let url = "postgresql://spool:from-url@db/jobs"
        let files = ["/etc/pw": "from-file\n", "/run/credentials/videospool.service/postgresql-password": "from-credentials"]
        #expect(try parse(Values(url: url), files: files).password == "from-url")
        let credentials = "/run/credentials/videospool.service"
        #expect(try parse(Values(url: url, credentialsDirectory: credentials), files: files).password == "from-credentials")
        #expect(try parse(Values(url: url, credentialsDirectory: "/elsewhere"), files: files).password == "from-url")
        #expect(
            try parse(Values(url: url, passwordFile: "/etc/pw", credentialsDirectory: credentials), files: files).password
                == "from-file"
        )
    }

    @Test(arguments: [
        BadValue(Values(url: nil), "state.postgresql.url", "is required"),
        BadValue(Values(url: "mysql://x"), "state.postgresql.url", "postgresql:// URL"),
        BadValue(Values(url: "postgresql://spool@db:0/jobs"), "state.postgresql.url", "port"),
        BadValue(Values(url: "postgresql://spool@db/jobs?sslmode=maybe"), "state.postgresql.url", "sslmode"),
        BadValue(Values(url: "postgresql://spool@db/jobs?connect_timeout=3"), "state.postgresql.url", "'connect_timeout' is not supported"),
        BadValue(Values(url: "postgresql://spool@db1,db2/jobs"), "state.postgresql.url", "several hosts"),
        BadValue(Values(url: "host=db dbname='unclosed"), "state.postgresql.url", "closing quote"),
        BadValue(Values(url: "postgresql://spool@db/jobs", passwordFile: "/missing"), "state.postgresql.password_file", "cannot read '/missing'"),
        BadValue(Values(url: "postgresql://spool@db/jobs", schema: "Bad-Name"), "state.postgresql.schema", "identifier"),
        BadValue(Values(url: "postgresql://spool@db/jobs", leaseSeconds: 0.5), "state.postgresql.lease_seconds", "between 1 and 3600"),
        BadValue(Values(url: "postgresql://spool@db/jobs", reaperIntervalSeconds: 0), "state.postgresql.reaper_interval_seconds", "between"),
        BadValue(Values(url: "postgresql://spool@db/jobs", claimIntervalSeconds: -1), "state.postgresql.claim_interval_seconds", "between"),
        BadValue(Values(url: "postgresql://spool@db/jobs", submitGraceSeconds: 1e9), "state.postgresql.submit_grace_seconds", "between"),
        BadValue(Values(url: "postgresql://spool@db/jobs", maximumConnections: 1), "state.postgresql.max_connections", "between 2"),
        BadValue(Values(url: "postgresql://spool@db/jobs", statementTimeoutSeconds: .nan), "state.postgresql.statement_timeout_seconds", "between"),
    ])
    func badValuesAreErrorsNamingTheKey(bad: BadValue) throws {
        let error = try #require(throws: PostgresConfigurationError.self) { try parse(bad.values, files: [:]) }
        #expect(error.key == bad.key)
        #expect(error.message.contains(bad.message), "\(error)")
        #expect("\(error)".hasPrefix(bad.key + ": "))
    }

    @Test(arguments: [
        "postgresql://spool:hunter2secret@db/jobs?sslmode=bogus",
        "postgresql://spool@db/jobs?password=hunter2secret&sslmode=bogus",
        "host=db password=hunter2secret sslmode=bogus",
        "host=db password='hunter2secret' sslmode=bogus",
        "host=db password = hunter2secret sslmode=bogus",
    ])
    func errorsAboutTheURLNeverShowItsPassword(url: String) throws {
        let error = try #require(throws: PostgresConfigurationError.self) { try parse(Values(url: url)) }
        #expect(!"\(error)".contains("hunter2secret"), "\(error)")
        #expect("\(error)".contains("***"), "\(error)")
        #expect(!PostgresStoreConfiguration.redacting(url).contains("hunter2secret"))
    }

    @Test func theDescriptionNamesTheDatabaseButNotThePassword() throws {
        let configuration = try parse(Values(url: "postgresql://spool:hunter2secret@db.example/jobs?sslmode=require"))
        #expect("\(configuration)" == "postgresql://spool@db.example:5432/jobs (sslmode=require, schema videospool)")
    }
}

/// A value that must be refused, the key the error must name and what it must say.
struct BadValue: Sendable, CustomTestStringConvertible {
    let values: PostgresStoreConfiguration.Values
    let key: String
    let message: String

    init(_ values: PostgresStoreConfiguration.Values, _ key: String, _ message: String) {
        self.values = values
        self.key = key
        self.message = message
    }

    var testDescription: String { "\(key): \(message)" }
}
