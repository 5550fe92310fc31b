import Foundation
public import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore
import VideoSpoolSupport

/// The job store on PostgreSQL, shared by several daemons (issue 12; see WorkOwnership.swift for
/// the model and PostgresSchema.swift for the tables).
///
/// The store is a `Service`: its ``run()`` runs the connection pool and, with `listen`, the LISTEN
/// connection. Put it first in the daemon's `ServiceGroup`, so that it stops last (the runtime's
/// last commits and ``releaseOwnership()`` need it); tests run it in a task group.
///
/// Commits are grouped as on SQLite: while one transaction is being written, commits from other
/// tasks queue and go into the next transaction together; if a shared transaction fails, each
/// caller's changes are retried alone, so one caller's bad change (or lost lease) fails only that
/// caller. While the database cannot be reached, commits wait and retry (logged once as
/// `store.unavailable`, once as `store.recovered`); a COMMIT whose answer was lost is looked up by
/// its transaction id rather than applied twice.
public final class PostgresJobStore: JobStore, Service, Sendable {
    public let configuration: PostgresStoreConfiguration
    let client: PostgresClient
    let logger: Logger
    /// The app's wall clock: job timestamps that are data (accepted, finished, …) are its readings;
    /// every lease, claim and due time is the database's `now()`.
    let clock: @Sendable () -> Timestamp
    /// Quoted table names in the configured schema.
    let tables: Tables
    let connectionConfiguration: PostgresConnection.Configuration
    private let state = Mutex(State())
    /// Two transactions at a time: while one waits on the server, the next is prepared and sent,
    /// so the daemon's and the server's work overlap instead of taking turns.
    private let groupCommit = GroupCommit<StoreChange>(maximumTransactions: 2)
    private let unavailability = Mutex(StoreAvailability.available)

    struct State {
        var me: UUID?
        var spoolID: String?
        var subscribers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextSubscriber = 0
        var heartbeat: PostgresConnection?
        var stopped = false
    }



    /// - Parameters:
    ///   - spoolID: the spool this process works for (the daemon's `.videospool-id`); ``register(_:replacing:)``
    ///     sets it too. Needed to insert jobs and to find what a spool owes (outcomes, sources).
    ///   - clock: the app's wall clock (see ``clock``); the system's when `nil`.
    public init(
        configuration: PostgresStoreConfiguration,
        spoolID: String? = nil,
        logger: Logger = Logger(label: "videospool.store"),
        clock: (@Sendable () -> Timestamp)? = nil
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock ?? { Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded())) }
        self.tables = Tables(schema: configuration.schema)
        state.withLock { $0.spoolID = spoolID }

        let tls = try Self.tlsConfiguration(configuration)
        var startup: [(String, String)] = [
            ("application_name", "videospool"),
            ("statement_timeout", "\(configuration.statementTimeout.wholeMilliseconds)"),
            // A stalled client must not hold back vacuum (and the rows it locked) for long.
            ("idle_in_transaction_session_timeout", "\(max(10_000, 2 * configuration.statementTimeout.wholeMilliseconds))"),
        ]
        var clientConfiguration: PostgresClient.Configuration
        var connection: PostgresConnection.Configuration
        switch configuration.endpoint {
        case .tcp(let host, let port):
            let clientTLS: PostgresClient.Configuration.TLS
            let connectionTLS: PostgresConnection.Configuration.TLS
            switch (configuration.tls, tls) {
            case (.disable, _), (_, nil):
                clientTLS = .disable
                connectionTLS = .disable
            case (.prefer, let tls?):
                clientTLS = .prefer(tls)
                connectionTLS = .prefer(try NIOSSLContext(configuration: tls))
            case (_, let tls?):
                clientTLS = .require(tls)
                connectionTLS = .require(try NIOSSLContext(configuration: tls))
            }
            clientConfiguration = PostgresClient.Configuration(
                host: host,
                port: port,
                username: configuration.username,
                password: configuration.password,
                database: configuration.database,
                tls: clientTLS
            )
            connection = PostgresConnection.Configuration(
                host: host,
                port: port,
                username: configuration.username,
                password: configuration.password,
                database: configuration.database,
                tls: connectionTLS
            )
        case .unixSocket(let path):
            clientConfiguration = PostgresClient.Configuration(
                unixSocketPath: path,
                username: configuration.username,
                password: configuration.password,
                database: configuration.database
            )
            connection = PostgresConnection.Configuration(
                unixSocketPath: path,
                username: configuration.username,
                password: configuration.password,
                database: configuration.database
            )
        }
        clientConfiguration.options.maximumConnections = configuration.maximumConnections
        clientConfiguration.options.connectTimeout = configuration.statementTimeout
        clientConfiguration.options.additionalStartupParameters = startup
        // The lease connection answers within a renewal interval or not at all.
        startup[0] = ("application_name", "videospool lease")
        let renewalLimit = min(configuration.statementTimeout, configuration.heartbeatInterval)
        startup[1] = ("statement_timeout", "\(max(100, renewalLimit.wholeMilliseconds))")
        connection.options.additionalStartupParameters = startup
        connection.options.connectTimeout = .milliseconds(configuration.statementTimeout.wholeMilliseconds)
        self.connectionConfiguration = connection
        var backgroundLogger = logger
        backgroundLogger[metadataKey: "store"] = "postgresql"
        self.client = PostgresClient(configuration: clientConfiguration, backgroundLogger: backgroundLogger)
    }

    private static func tlsConfiguration(_ configuration: PostgresStoreConfiguration) throws -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let root = configuration.rootCertificatePath { tls.trustRoots = .file(root) }
        switch configuration.tls {
        case .disable:
            return nil
        case .prefer:
            tls.certificateVerification = .none
        case .require:
            // As libpq: `require` with a root certificate verifies the chain (`verify-ca`).
            tls.certificateVerification = configuration.rootCertificatePath == nil ? .none : .noHostnameVerification
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
        case .verifyFull:
            tls.certificateVerification = .fullVerification
        }
        return tls
    }

    // MARK: - Service

    /// Runs the connection pool and, with `listen`, the LISTEN connection, until cancelled or a
    /// graceful shutdown; then closes the lease connection and ends every announcement stream.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            if configuration.listen {
                group.addTask { await cancelWhenGracefulShutdown { await self.listenForAnnouncements() } }
            }
        }
        let (connection, subscribers) = state.withLock { state in
            state.stopped = true
            defer {
                state.heartbeat = nil
                state.subscribers = [:]
            }
            return (state.heartbeat, Array(state.subscribers.values))
        }
        try? await connection?.close()
        for subscriber in subscribers { subscriber.finish() }
    }

    /// This daemon's instance id, once registered.
    public var instanceID: InstanceID? {
        state.withLock { $0.me }.map { InstanceID($0.uuidString.lowercased()) }
    }

    var me: UUID? { state.withLock { $0.me } }

    func setMe(_ id: UUID?, spoolID: String?) {
        state.withLock { state in
            state.me = id
            if let spoolID { state.spoolID = spoolID }
        }
    }

    var spoolID: String? { state.withLock { $0.spoolID } }

    func requireMe() throws -> UUID {
        guard let me else { throw PostgresStoreError.notRegistered }
        return me
    }

    func requireSpoolID() throws -> String {
        guard let spoolID else { throw PostgresStoreError.notRegistered }
        return spoolID
    }

    // MARK: - Commits

    public func commit(_ changes: [StoreChange]) async throws {
        try await groupCommit.commit(changes) { callers in await self.write(callers) }
    }

    public func commitWithNext(_ changes: [StoreChange]) {
        groupCommit.ride(changes)
    }

    /// Writes every caller's changes in one transaction and returns each caller's error (`nil` for
    /// success); if the shared transaction fails, each caller's changes are retried alone.
    private func write(_ callers: [[StoreChange]]) async -> [(any Error)?] {
        do {
            try await apply(callers)
            return callers.map { _ in nil }
        } catch {
            guard callers.count > 1, !(error is CancellationError) else { return callers.map { _ in error } }
        }
        var errors: [(any Error)?] = []
        for changes in callers {
            do {
                try await apply([changes])
                errors.append(nil)
            } catch {
                errors.append(error)
            }
        }
        return errors
    }

    private func apply(_ callers: [[StoreChange]]) async throws {
        let me = self.me
        let spoolID = self.spoolID
        let steps = ChangeSchedule.steps(callers.flatMap { $0 })
        try await writeTransaction { transaction in
            for step in steps {
                switch step {
                case .jobUpdates(let jobs): try await transaction.updateJobs(jobs, me: me)
                case .jobInserts(let jobs): try await transaction.insertJobs(jobs, me: me, spoolID: spoolID)
                case .eventInserts(let events): try await transaction.insertEvents(events, me: me)
                case .deliveryUpdates(let deliveries): try await transaction.updateDeliveries(deliveries, me: me)
                case .spendReservations(let reservations): try await transaction.reserve(reservations)
                case .single(let change): try await transaction.apply(change, me: me, spoolID: spoolID)
                }
            }
            try await transaction.finish(me: me)
        }
    }

    // MARK: - Transactions

    /// Runs `body` in one transaction, durably committed when this returns. While the database
    /// cannot be reached or written it waits and tries again (with backoff up to 10 s), logging it
    /// once; a COMMIT whose answer was lost with the connection is looked up by the transaction's
    /// id, so that a transaction is never applied twice.
    func writeTransaction<Result: Sendable>(
        _ body: @escaping @Sendable (StoreTransaction) async throws -> Result
    ) async throws -> Result {
        var delay = Duration.milliseconds(100)
        while true {
            do {
                let result = try await withPooledConnection { connection in
                    try await self.runTransaction(on: connection, body)
                }
                noteAvailable()
                return result
            } catch let error as AmbiguousCommit {
                // The COMMIT was sent but its answer was lost: ask the database what became of it.
                switch try await transactionStatus(error.transactionID) {
                case .committed:
                    noteAvailable()
                    return error.result as! Result
                case .aborted:
                    continue
                }
            } catch let error as PSQLError where Self.isConflict(error) {
                // Two daemons' transactions locked rows in opposite orders (or a serialization
                // conflict): the database rolled this one back. That is contention, not an outage:
                // try again at once, a little later each time, without calling the store unavailable.
                try await Task.sleep(for: .milliseconds(Int64.random(in: 1...20)))
            } catch where Self.isUnavailable(error) {
                noteUnavailable(error)
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            } catch let error as PSQLError {
                throw Self.storeError(error)
            }
        }
    }

    /// A database error as the store reports it: postgres-nio's own description says nothing, on
    /// purpose; ours gives the SQLSTATE and the server's message (never the password).
    static func storeError(_ error: PSQLError) -> PostgresStoreError {
        isRefusal(error) ? .refused(describe(error)) : .database(describe(error))
    }

    /// Runs `body` in a transaction and commits. The transaction id is read first, so that a lost
    /// COMMIT answer can be resolved (``AmbiguousCommit``).
    private func runTransaction<Result: Sendable>(
        on connection: PostgresConnection,
        _ body: (StoreTransaction) async throws -> Result
    ) async throws -> Result {
        try await connection.openQuery("BEGIN", logger: logger)
        let transaction = StoreTransaction(connection: connection, store: self, appNow: clock())
        let result: Result
        let transactionID: Int64
        do {
            transactionID = try await transaction.value("SELECT txid_current()", as: Int64.self) ?? 0
            result = try await body(transaction)
        } catch {
            _ = try? await connection.openQuery("ROLLBACK", logger: logger)
            throw error
        }
        do {
            try await connection.openQuery("COMMIT", logger: logger)
        } catch where Self.isUnavailable(error) {
            throw AmbiguousCommit(transactionID: transactionID, result: result, underlying: error)
        }
        return result
    }

    private struct AmbiguousCommit: Error, @unchecked Sendable {
        let transactionID: Int64
        /// The body's result, returned if the transaction turns out committed. (Only ever a
        /// Sendable `Result`; the cast back is in ``writeTransaction(_:)``.)
        let result: Any
        let underlying: any Error
    }

    private enum TransactionStatus {
        case committed
        case aborted
    }

    /// What became of a transaction whose COMMIT answer was lost; waits while the database is away
    /// or the transaction is still running (its backend has not noticed the lost client yet).
    private func transactionStatus(_ id: Int64) async throws -> TransactionStatus {
        var delay = Duration.milliseconds(100)
        while true {
            do {
                let status = try await withPooledConnection { connection -> String? in
                    let row = try await connection.openQuery("SELECT txid_status(\(id))", logger: self.logger).collect().first
                    return try row?.decode(String?.self) ?? nil
                }
                switch status {
                case "committed": return .committed
                case "in progress": break
                default: return .aborted
                }
            } catch where Self.isUnavailable(error) {
                noteUnavailable(error)
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(10))
        }
    }

    /// Runs a read-only query function on a pooled connection, waiting while the database is away.
    func read<Result: Sendable>(_ body: @escaping @Sendable (StoreTransaction) async throws -> Result) async throws -> Result {
        var delay = Duration.milliseconds(100)
        while true {
            do {
                let result = try await withPooledConnection { connection in
                    try await body(StoreTransaction(connection: connection, store: self, appNow: self.clock()))
                }
                noteAvailable()
                return result
            } catch let error as PSQLError where Self.isConflict(error) {
                // Two daemons' transactions locked rows in opposite orders (or a serialization
                // conflict): the database rolled this one back. That is contention, not an outage:
                // try again at once, a little later each time, without calling the store unavailable.
                try await Task.sleep(for: .milliseconds(Int64.random(in: 1...20)))
            } catch where Self.isUnavailable(error) {
                noteUnavailable(error)
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            } catch let error as PSQLError {
                throw Self.storeError(error)
            }
        }
    }

    /// Why the pool gave no connection in time: a connection of our own tells (the pool keeps its
    /// last error to itself). A refusal (wrong password, no such database, TLS) is a configuration
    /// problem and not waited out; anything else is the database being out of reach.
    func diagnoseMissingConnection(waited: Duration) async -> PostgresStoreError {
        do {
            let connection = try await PostgresConnection.connect(
                configuration: connectionConfiguration,
                id: 2,
                logger: logger
            )
            try? await connection.close()
            return .unreachable(after: waited)
        } catch {
            return Self.isRefusal(error) ? .refused(Self.describe(error)) : .connectionFailed(Self.describe(error))
        }
    }

    /// A server that answers but will not let this configuration in.
    static func isRefusal(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .server:
            guard let state = error.serverInfo?[.sqlState] else { return false }
            return state.hasPrefix("28") || state == "3D000" || state == "42501" || state == "3F000"
        case .sslUnsupported, .authMechanismRequiresPassword, .unsupportedAuthMechanism, .saslError:
            return true
        default:
            return false
        }
    }

    /// A deadlock or serialization failure: the transaction was rolled back and may simply be run again.
    static func isConflict(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// Whether `error` means the database is fine but cannot be reached or written right now
    /// (waited out), as opposed to one that waiting cannot mend (a refused password, a schema too new).
    public static func isUnavailable(_ error: any Error) -> Bool {
        if let error = error as? PostgresStoreError {
            switch error {
            case .unreachable, .connectionFailed: return true
            default: return false
            }
        }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            return true
        case .server:
            guard let state = error.serverInfo?[.sqlState] else { return false }
            return state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P")
                || ["25006", "40001", "40P01", "57014", "55006", "58030"].contains(state)
        default:
            return false
        }
    }

    /// Whether commits are waiting for the database (for STATUS and the watchdog).
    public var availability: StoreAvailability { unavailability.withLock { $0 } }

    private func noteUnavailable(_ error: any Error) {
        let now = clock()
        let first = unavailability.withLock { availability in
            defer {
                if availability.isAvailable {
                    availability = .unavailable(reason: Self.shortReason(error), since: now)
                }
            }
            return availability.isAvailable
        }
        guard first else { return }
        logger.error(
            "The job store cannot be reached or written; work waits and is retried until it can",
            metadata: [
                "event": "store.unavailable", "error": "\(Self.describe(error))",
                "store.database": "\(configuration)",
            ]
        )
    }

    /// A few words for the status line: what kind of outage this is.
    static func shortReason(_ error: any Error) -> String {
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            switch state {
            case "53100": return "database disk full"
            case "25006": return "database read-only"
            case "57014": return "database statement timeout"
            default: if state.hasPrefix("57P") { return "database shutting down" }
            }
        }
        return "database unreachable"
    }

    private func noteAvailable() {
        let wasFailing = unavailability.withLock { availability in
            defer { availability = .available }
            return !availability.isAvailable
        }
        if wasFailing {
            logger.notice("The job store is writable again", metadata: ["event": "store.recovered"])
        }
    }

    /// A description of a database error for logs and messages: the server's SQLSTATE and
    /// message, never the connection's password (postgres-nio hides everything behind a generic
    /// text on purpose; the server's own message never contains the password).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            var parts = ["\(error.code)"]
            if let state = error.serverInfo?[.sqlState] { parts.append("SQLSTATE \(state)") }
            if let message = error.serverInfo?[.message] { parts.append(message) }
            if let detail = error.serverInfo?[.detail] { parts.append(detail) }
            if let underlying = error.underlying { parts.append("\(underlying)") }
            return parts.joined(separator: ": ")
        }
        if let error = error as? PostgresStoreError { return error.description }
        return "\(error)"
    }

    // MARK: - Schema

    /// Brings the schema up to date. Daemons starting together take a session advisory lock, so
    /// each migration is applied once; a database newer than this build is an error.
    public func migrate() async throws {
        let tables = self.tables
        let lockKey = "videospool.migrations." + configuration.schema
        try await read { transaction in
            let connection = transaction.connection
            try await connection.openQuery("SELECT pg_advisory_lock(hashtext(\(lockKey)))", logger: self.logger)
            do {
                try await self.applyMigrations(on: connection, tables: tables)
                try await connection.openQuery("SELECT pg_advisory_unlock(hashtext(\(lockKey)))", logger: self.logger)
            } catch {
                _ = try? await connection.openQuery("ROLLBACK", logger: self.logger)
                _ = try? await connection.openQuery("SELECT pg_advisory_unlock(hashtext(\(lockKey)))", logger: self.logger)
                throw error
            }
        }
    }

    private func applyMigrations(on connection: PostgresConnection, tables: Tables) async throws {
        try await connection.openQuery("CREATE SCHEMA IF NOT EXISTS \(unescaped: tables.schema)", logger: logger)
        try await connection.openQuery(
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: tables.migrations) (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        let applied = try await connection.openQuery(
            "SELECT coalesce(max(version), 0) FROM \(unescaped: tables.migrations)",
            logger: logger
        ).collect().first?.decode(Int.self) ?? 0
        let migrations = PostgresSchema.migrations(schema: tables.schema)
        if let newest = migrations.last?.version, applied > newest {
            throw PostgresStoreError.schemaTooNew(found: applied, known: newest)
        }
        for migration in migrations where migration.version > applied {
            try await connection.openQuery("BEGIN", logger: logger)
            // Building indexes on a large table may take longer than a hot-path statement.
            try await connection.openQuery("SET LOCAL statement_timeout = 0", logger: logger)
            for statement in migration.statements {
                try await connection.openQuery(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.openQuery(
                "INSERT INTO \(unescaped: tables.migrations) (version, name) VALUES (\(migration.version), \(migration.name))",
                logger: logger
            )
            try await connection.openQuery("COMMIT", logger: logger)
            logger.notice(
                "Applied a job store migration",
                metadata: ["event": "store.migrated", "store.schema_version": "\(migration.version)"]
            )
        }
    }

    /// The schema version the database has (0 when the store's tables do not exist yet), for
    /// `videospool check-config`.
    public func schemaVersion() async throws -> Int {
        let tables = self.tables
        let schema = configuration.schema
        return try await read { transaction in
            let connection = transaction.connection
            let exists = try await connection.openQuery(
                """
                SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = \(schema) AND tablename = 'schema_migrations'
                """,
                logger: self.logger
            ).collect()
            guard !exists.isEmpty else { return 0 }
            return try await connection.openQuery(
                "SELECT coalesce(max(version), 0) FROM \(unescaped: tables.migrations)",
                logger: self.logger
            ).collect().first?.decode(Int.self) ?? 0
        }
    }

    /// The newest schema version this build knows.
    public static var knownSchemaVersion: Int { PostgresSchema.currentVersion }

    // MARK: - Announcements

    public func workAnnouncements() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> Int? in
            guard !state.stopped else { return nil }
            defer { state.nextSubscriber += 1 }
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    private func announce() {
        for subscriber in state.withLock({ Array($0.subscribers.values) }) { subscriber.yield() }
    }

    /// Holds a LISTEN connection for the store's life, reconnecting with backoff. Each time it
    /// starts listening it announces once: notifications sent while it was away are lost.
    private func listenForAnnouncements() async {
        var delay = Duration.milliseconds(100)
        var failing = false
        var configuration = connectionConfiguration
        configuration.options.additionalStartupParameters[0] = ("application_name", "videospool listen")
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: configuration,
                    id: 0,
                    logger: logger
                )
                do {
                    try await connection.listen(on: tables.channel) { notifications in
                        if failing {
                            failing = false
                            logger.notice("Listening for work announcements again", metadata: ["event": "store.listening"])
                        }
                        delay = .milliseconds(100)
                        announce()
                        for try await _ in notifications { announce() }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { break }
                if !failing {
                    failing = true
                    logger.warning(
                        "The work announcement connection failed; claiming on the timer until it is back",
                        metadata: ["event": "store.listen_failed", "error": "\(Self.describe(error))"]
                    )
                }
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(10))
        }
    }

    // MARK: - The lease connection

    /// Runs `body` on the dedicated lease connection (opened when needed), so that a saturated
    /// pool never delays a renewal. A failed connection is dropped and opened anew next time.
    func onLeaseConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        var connection = state.withLock { $0.heartbeat }
        if connection == nil || connection?.isClosed == true {
            let opened: PostgresConnection
            do {
                opened = try await PostgresConnection.connect(configuration: connectionConfiguration, id: 1, logger: logger)
            } catch {
                throw Self.isRefusal(error) ? PostgresStoreError.refused(Self.describe(error))
                    : PostgresStoreError.connectionFailed(Self.describe(error))
            }
            let previous = state.withLock { state in
                defer { state.heartbeat = opened }
                return state.heartbeat
            }
            try? await previous?.close()
            connection = opened
        }
        guard let connection else { throw PostgresStoreError.closed }
        do {
            return try await body(connection)
        } catch {
            if Self.isUnavailable(error) {
                state.withLock { if $0.heartbeat === connection { $0.heartbeat = nil } }
                try? await connection.close()
            }
            if let error = error as? PSQLError { throw Self.storeError(error) }
            throw error
        }
    }
}

/// Quoted, schema-qualified names.
struct Tables: Sendable {
    let schema: String
    let jobs: String
    let requests: String
    let events: String
    let deliveries: String
    let transitions: String
    let attempts: String
    let instances: String
    let counts: String
    let migrations: String
    /// The NOTIFY channel (`videospool_work` with the default schema).
    let channel: String
    /// The key of the reaper's transaction-scoped advisory lock.
    let reaperLock: String
    let ledger: String
    /// The key of the budget check's transaction-scoped advisory lock: checks run one at a time.
    let budgetLock: String

    init(schema name: String) {
        let schema = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        self.schema = schema
        jobs = schema + ".jobs"
        requests = schema + ".requests"
        events = schema + ".events"
        deliveries = schema + ".deliveries"
        transitions = schema + ".transitions"
        attempts = schema + ".delivery_attempts"
        instances = schema + ".instances"
        counts = schema + ".finished_counts"
        migrations = schema + ".schema_migrations"
        channel = name + "_work"
        reaperLock = "videospool.reaper." + name
        ledger = schema + ".spend_ledger"
        budgetLock = "videospool.budget." + name
    }
}
