import Foundation
import GRDB
public import Logging
import Synchronization
public import VideoSpoolCore
import VideoSpoolSupport

/// The job store on SQLite in WAL mode, through GRDB.
///
/// Commits are durable (`synchronous = FULL`) and grouped: while one transaction is being written,
/// commits from other tasks queue up and go into the next transaction together, so a burst of
/// transitions costs a few fsyncs rather than one each. Readers (the CLI, status queries) never
/// block the writer.
public final class SQLiteJobStore: JobStore, Sendable {
    let pool: DatabasePool
    /// Stamps phase changes in the timeline: the time a change became durable is its time.
    private let clock: @Sendable () -> Timestamp
    private let groupCommit = GroupCommit<StoreChange>()
    /// Whether a commit is waiting for the database to become writable again.
    private let waiting = Mutex(StoreAvailability.available)
    private let logger: Logger?
    private let readOnly: Bool




    /// Opens (creating if needed) `directory/videospool.sqlite` and brings its schema up to date.
    public convenience init(
        directory: String,
        readOnly: Bool = false,
        logger: Logger? = nil,
        clock: (@Sendable () -> Timestamp)? = nil
    ) throws {
        try self.init(directory: directory, readOnly: readOnly, logger: logger, clock: clock, busyTimeout: 10)
    }

    /// `busyTimeout` is how long a write waits for another writer's lock before the store counts as
    /// unavailable; tests shorten it to make a locked database an outage at once.
    package init(
        directory: String,
        readOnly: Bool = false,
        logger: Logger?,
        clock: (@Sendable () -> Timestamp)?,
        busyTimeout: Double
    ) throws {
        self.logger = logger
        self.clock = clock ?? { Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded())) }
        self.readOnly = readOnly
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "videospool"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: directory + "/videospool.sqlite", configuration: configuration)
        // Migrating takes the write lock even when there is nothing to do; a store already up to
        // date is opened without it, so that an operator command meeting a busy writer waits in its
        // own write (which retries) instead of failing here after the busy timeout.
        if !readOnly, try !pool.read({ try StoreSchema.migrator.hasCompletedMigrations($0) }) {
            try StoreSchema.migrator.migrate(pool)
        }
    }

    /// The database file, for diagnostics.
    public var path: String { pool.path }

    public var availability: StoreAvailability { waiting.withLock { $0 } }

    // MARK: - Commits

    public func commit(_ changes: [StoreChange]) async throws {
        try await groupCommit.commit(changes) { callers in await self.write(callers) }
    }

    public func commitWithNext(_ changes: [StoreChange]) {
        groupCommit.ride(changes)
    }

    /// How many commits are queued behind the one being written (for tests of the group commit).
    package var queuedCommitCount: Int { groupCommit.queuedCount }

    /// Writes every caller's changes in one transaction and returns each caller's error (`nil` for
    /// success). If the shared transaction fails, each caller's changes are retried in a
    /// transaction of their own, so one caller's bad change (a duplicate id, an unknown job) fails
    /// only that caller and not the others that happened to be grouped with it.
    private func write(_ callers: [[StoreChange]]) async -> [(any Error)?] {
        do {
            let now = clock()
            try await writeRetryingWhileUnavailable { db in
                for changes in callers { for change in changes { try Self.apply(change, at: now, in: db) } }
            }
            return callers.map { _ in nil }
        } catch {
            guard callers.count > 1, !(error is CancellationError) else { return callers.map { _ in error } }
        }
        var errors: [(any Error)?] = []
        for changes in callers {
            do {
                let now = clock()
                try await writeRetryingWhileUnavailable { db in
                    for change in changes { try Self.apply(change, at: now, in: db) }
                }
                errors.append(nil)
            } catch {
                errors.append(error)
            }
        }
        return errors
    }

    /// Runs a write transaction; while the database cannot be written (disk full, read-only
    /// file system, I/O error, locked by another writer) it waits and tries again, saying so in the
    /// log once and in ``availability`` meanwhile, instead of failing: the pipeline stalls and
    /// resumes when the disk does. SQLite rolls a failed transaction back, so nothing is half-written.
    private func writeRetryingWhileUnavailable(_ updates: @escaping @Sendable (Database) throws -> Void) async throws {
        // Opened read-only on purpose (tools reading a live store): writing is a mistake, not an outage.
        if readOnly { return try await pool.write(updates) }
        var delay = Duration.milliseconds(100)
        var failing = false
        // However the wait ends (written, another error, cancellation), this commit waits no more.
        defer { if failing { waiting.withLock { $0 = .available } } }
        while true {
            do {
                try await pool.write(updates)
                if failing {
                    logger?.notice("The job store is writable again", metadata: ["event": "store.recovered"])
                }
                return
            } catch let error as DatabaseError where Self.unavailableCodes.contains(error.resultCode.rawValue) {
                let reason = Self.unavailabilityReason(error.resultCode)
                let now = clock()
                waiting.withLock { availability in
                    if case .unavailable(reason, _) = availability { return }
                    availability = .unavailable(reason: reason, since: now)
                }
                if !failing {
                    failing = true
                    logger?.error(
                        "The job store cannot be written; work waits and is retried until it can",
                        metadata: [
                            "event": "store.unavailable", "error": "\(error.resultCode): \(error.message ?? "")",
                            "store.path": "\(pool.path)",
                        ]
                    )
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    /// What keeps the database from being written, in a few words for the status line.
    private static func unavailabilityReason(_ code: ResultCode) -> String {
        switch code.primaryResultCode {
        case .SQLITE_FULL: "disk full"
        case .SQLITE_READONLY: "read-only"
        case .SQLITE_IOERR: "I/O error"
        case .SQLITE_CANTOPEN: "cannot open the database file"
        case .SQLITE_BUSY, .SQLITE_LOCKED: "locked by another writer"
        case .SQLITE_PROTOCOL: "locking protocol error"
        default: "SQLite error \(code.primaryResultCode.rawValue)"
        }
    }

    /// Result codes of a database that is fine but cannot be written right now.
    private static let unavailableCodes: Set<Int32> = Set(
        [ResultCode.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_BUSY, .SQLITE_LOCKED,
            .SQLITE_PROTOCOL].map(\.rawValue)
    )

    private static func apply(_ change: StoreChange, at now: Timestamp, in db: Database) throws {
        switch change {
        case .insertJob(let job, let requestBody, let source):
            try db.executeCached(
                sql: """
                    INSERT INTO jobs (id, phase, model, callback_urls, metadata, accepted_at, source_name,
                        source_sha256, source_disposition, source_error_document, resolution, duration_seconds,
                        failure_code, failure_message, finished_at, submit_allowance, source_identity)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job.id.rawValue, job.phase.rawValue, job.model, Self.encode(job.callbackURLs),
                    job.metadata.map { Self.encode(.object($0)) }, job.acceptedAt.millisecondsSinceEpoch,
                    source.name, source.sha256, source.disposition.rawValue, source.errorDocument.map { Data($0) },
                    job.parameters.resolution, job.parameters.durationSeconds, job.failure?.code.description,
                    job.failure?.message, job.finishedAt?.millisecondsSinceEpoch, job.submitAllowance,
                    source.identity,
                ]
            )
            try db.executeCached(
                sql: "INSERT INTO transitions (job_id, from_phase, to_phase, at, detail) VALUES (?, NULL, ?, ?, ?)",
                arguments: [
                    job.id.rawValue, job.phase.rawValue, job.acceptedAt.millisecondsSinceEpoch,
                    job.failure?.code.description,
                ]
            )
            if job.phase != .rejected {
                try db.executeCached(
                    sql: "INSERT INTO requests (job_id, body) VALUES (?, ?)",
                    arguments: [job.id.rawValue, Data(requestBody)]
                )
            }
        case .updateJob(let job):
            let finished = job.phase.hasOutcomeFile
            if let settlement = SpendSettlement.implied(by: job) {
                try SQLiteLedger.apply(settlement, for: job.id, at: now, in: db)
            }
            // The timeline gets a row only when the phase really changes (read before the update).
            try db.executeCached(
                sql: """
                    INSERT INTO transitions (job_id, from_phase, to_phase, at, detail)
                    SELECT id, phase, ?, ?, ? FROM jobs WHERE id = ? AND phase != ?
                    """,
                arguments: [
                    job.phase.rawValue, now.millisecondsSinceEpoch, job.failure?.code.description, job.id.rawValue,
                    job.phase.rawValue,
                ]
            )
            try db.executeCached(
                sql: """
                    UPDATE jobs SET phase = ?, submit_attempts = ?, next_action_at = ?, submitted_at = ?,
                        generation_id = ?, upstream_status = ?, polls = ?, consecutive_poll_failures = ?,
                        consecutive_not_found = ?, finished_at = ?, video_url = ?, credits_used = ?, usd_spent = ?,
                        failure_code = ?, failure_message = ?, outcome_version = outcome_version + ?,
                        last_running_at = ?, requeued_at = ?, submit_allowance = ?
                    WHERE id = ?
                    """,
                arguments: [
                    job.phase.rawValue, job.submitAttempts, job.nextActionAt?.millisecondsSinceEpoch,
                    job.submittedAt?.millisecondsSinceEpoch, job.generationID, job.upstreamStatus, job.polls,
                    job.consecutivePollFailures, job.consecutiveNotFound, job.finishedAt?.millisecondsSinceEpoch,
                    job.videoURL, job.usage?.creditsUsed?.text, job.usage?.usdSpent?.text,
                    job.failure?.code.description, job.failure?.message, finished ? 1 : 0,
                    job.lastRunningAt?.millisecondsSinceEpoch, job.requeuedAt?.millisecondsSinceEpoch,
                    job.submitAllowance, job.id.rawValue,
                ]
            )
            guard db.changesCount == 1 else { throw StoreError.unknownJob(job.id) }
        case .insertEvent(let event, let deliveries):
            try db.executeCached(
                sql: "INSERT INTO events (id, job_id, type, created_at, body) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    event.id, event.jobID.rawValue, event.type.description, event.createdAt.millisecondsSinceEpoch,
                    Data(event.body),
                ]
            )
            for delivery in deliveries { try insert(delivery, in: db) }
            try markOutcomeStale(event.jobID, in: db)
        case .addDelivery(let delivery):
            try insert(delivery, in: db)
            try markOutcomeStale(delivery.jobID, in: db)
        case .updateDelivery(let delivery):
            try db.executeCached(
                sql: """
                    UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?,
                        last_status = ?, last_error = ?, delivered_at = ?
                    WHERE event_id = ? AND idx = ?
                    """,
                arguments: [
                    delivery.state.rawValue, delivery.attempts, delivery.nextAttemptAt?.millisecondsSinceEpoch,
                    delivery.lastAttemptAt?.millisecondsSinceEpoch, delivery.lastStatusCode, delivery.lastError,
                    delivery.deliveredAt?.millisecondsSinceEpoch, delivery.id.eventID, delivery.id.index,
                ]
            )
            try markOutcomeStale(delivery.jobID, in: db)
        case .sourceSettled(let id):
            try db.executeCached(sql: "UPDATE jobs SET source_settled = 1 WHERE id = ?", arguments: [id.rawValue])
        case .outcomeWritten(let id, let version):
            try db.executeCached(
                sql: """
                    UPDATE jobs SET outcome_written_version = max(outcome_written_version, ?) WHERE id = ?
                    """,
                arguments: [version, id.rawValue]
            )
        case .recordDeliveryAttempt(let attempt):
            try db.executeCached(
                sql: """
                    INSERT INTO delivery_attempts (event_id, idx, job_id, number, started_at, latency_ms, status,
                        error, resulting_state)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    attempt.deliveryID.eventID, attempt.deliveryID.index, attempt.jobID.rawValue, attempt.number,
                    attempt.startedAt.millisecondsSinceEpoch, attempt.latency.wholeMilliseconds, attempt.statusCode,
                    attempt.error, attempt.resultingState.rawValue,
                ]
            )
        case .deleteJob(let id):
            // Only a finished job: one sent round again meanwhile (`videospool retry`) stays whole.
            try db.executeCached(
                sql: "DELETE FROM jobs WHERE id = ? AND phase IN ('completed', 'failed', 'rejected', 'canceled')",
                arguments: [id.rawValue]
            )
            guard db.changesCount == 1 else { return }
            for table in ["delivery_attempts", "deliveries", "events", "transitions"] {
                try db.executeCached(sql: "DELETE FROM \(table) WHERE job_id = ?", arguments: [id.rawValue])
            }
            try db.executeCached(sql: "DELETE FROM requests WHERE job_id = ?", arguments: [id.rawValue])
        case .recordLateGeneration(let id, let generationID, let submittedAt):
            // One owner never loses a job, so this only happens by hand; it means what it means on
            // a shared store.
            try db.executeCached(
                sql: """
                    UPDATE jobs SET generation_id = ?,
                        submitted_at = CASE WHEN phase = 'submitting' THEN ? ELSE submitted_at END,
                        next_action_at = CASE WHEN phase = 'submitting' THEN NULL ELSE next_action_at END,
                        phase = CASE WHEN phase = 'submitting' THEN 'generating' ELSE phase END
                    WHERE id = ? AND generation_id IS NULL
                    """,
                arguments: [generationID, submittedAt.millisecondsSinceEpoch, id.rawValue]
            )
        case .reserveSpend(let reservation):
            try SQLiteLedger.reserve(reservation, in: db)
        case .requestCancel:
            // One owner: ``claimJob(_:)`` always hands the job over, so the daemon cancels it itself.
            break
        }
    }

    private static func insert(_ delivery: Delivery, in db: Database) throws {
        try db.executeCached(
            sql: """
                INSERT INTO deliveries (event_id, idx, job_id, url, state, attempts, next_attempt_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                delivery.id.eventID, delivery.id.index, delivery.jobID.rawValue, delivery.url, delivery.state.rawValue,
                delivery.attempts, delivery.nextAttemptAt?.millisecondsSinceEpoch,
            ]
        )
    }

    private static func markOutcomeStale(_ id: JobID, in db: Database) throws {
        try db.executeCached(
            sql: "UPDATE jobs SET outcome_version = outcome_version + 1 WHERE id = ? AND phase != 'rejected'",
            arguments: [id.rawValue]
        )
    }

    // MARK: - Reads

    /// The pipeline's small reads run on the writer's connection, between its transactions: its
    /// page cache is warm, while a reader connection drops its whole cache whenever another
    /// connection has committed (in WAL mode), so each read would first read every page it touches
    /// again. Operator commands (read-only stores) and the large reads use the reader connections.
    private func warmRead<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        if readOnly { return try await pool.read(body) }
        return try await pool.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.deferred) {
                result = try body(db)
                return .commit
            }
            return result!
        }
    }

    public func recover() async throws -> RecoveredState {
        try await pool.read { db in
            var state = RecoveredState()
            state.activeJobs = try Row.fetchAll(
                db,
                sql: SQLiteQueries.activeJobs
            ).map(Self.job)
            state.pendingDeliveries = try Row.fetchAll(
                db,
                sql: "SELECT * FROM deliveries WHERE state = 'pending'"
            ).map(Self.delivery)
            state.staleOutcomes = try String.fetchAll(
                db,
                sql: SQLiteQueries.staleOutcomes
            ).map(JobID.init(trusted:))
            state.unsettledSources = try Row.fetchAll(
                db,
                sql: "SELECT * FROM jobs WHERE source_settled = 0 ORDER BY seq"
            ).map { row in
                let disposition = SourceFile.Disposition(rawValue: row["source_disposition"]) ?? .remove
                let document: Data? = row["source_error_document"]
                let source = SourceFile(
                    name: row["source_name"],
                    sha256: row["source_sha256"],
                    disposition: disposition,
                    errorDocument: document.map(Array.init)
                )
                return (JobID(trusted: row["id"]), source)
            }
            for row in try Row.fetchAll(db, sql: SQLiteQueries.finishedCounts) {
                if let phase = JobPhase(rawValue: row["phase"]) { state.finishedCounts[phase] = row["n"] }
            }
            return state
        }
    }

    public func containsJob(_ id: JobID) async throws -> Bool {
        try await warmRead { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM jobs WHERE id = ?"), arguments: [id.rawValue]) ?? false
        }
    }

    public func jobAccepted(fromFileWithSHA256 sha256: String, since: Timestamp) async throws -> (JobID, Timestamp)? {
        try await warmRead { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT id, accepted_at FROM jobs WHERE source_sha256 = ? AND accepted_at >= ? AND phase != 'rejected'
                    ORDER BY accepted_at DESC LIMIT 1
                    """,
                arguments: [sha256, since.millisecondsSinceEpoch]
            ).map { (JobID(trusted: $0["id"]), Timestamp(millisecondsSinceEpoch: $0["accepted_at"])) }
        }
    }

    /// The intake lookups for a group of files in one read. One daemon owns this spool, so no
    /// source is ever another daemon's (``jobTaken(fromSource:)`` is always `nil`).
    public func intakeFacts(
        identities: [String],
        sha256s: [String],
        jobIDs: [JobID],
        acceptedSince since: Timestamp
    ) async throws -> IntakeFacts {
        guard !sha256s.isEmpty || !jobIDs.isEmpty else { return IntakeFacts() }
        return try await warmRead { db in
            var facts = IntakeFacts()
            let accepted = try db.cachedStatement(
                sql: """
                    SELECT id, accepted_at FROM jobs WHERE source_sha256 = ? AND accepted_at >= ? AND phase != 'rejected'
                    ORDER BY accepted_at DESC LIMIT 1
                    """
            )
            for sha256 in Set(sha256s) {
                guard let row = try Row.fetchOne(accepted, arguments: [sha256, since.millisecondsSinceEpoch]) else { continue }
                facts.accepted[sha256] = IntakeFacts.Accepted(
                    jobID: JobID(trusted: row["id"]),
                    at: Timestamp(millisecondsSinceEpoch: row["accepted_at"])
                )
            }
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM jobs WHERE id = ?")
            for id in Set(jobIDs) where try Bool.fetchOne(exists, arguments: [id.rawValue]) != nil {
                facts.existing.insert(id)
            }
            return facts
        }
    }

    public func job(_ id: JobID) async throws -> Job? {
        try await warmRead { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE id = ?"), arguments: [id.rawValue]).map(Self.job)
        }
    }

    public func requestBody(for id: JobID) async throws -> [UInt8]? {
        try await warmRead { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM requests WHERE job_id = ?"), arguments: [id.rawValue])
                .map(Array.init)
        }
    }

    public func event(id: String) async throws -> WebhookEvent? {
        try await warmRead { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM events WHERE id = ?"), arguments: [id]).map(Self.event)
        }
    }

    public func outcome(for id: JobID) async throws -> OutcomeSnapshot? {
        try await warmRead { db in try Self.outcome(for: id, in: db) }
    }

    public func outcomes(for ids: [JobID]) async throws -> [JobID: OutcomeSnapshot] {
        try await warmRead { db in
            var snapshots: [JobID: OutcomeSnapshot] = [:]
            for id in ids { snapshots[id] = try Self.outcome(for: id, in: db) }
            return snapshots
        }
    }

    private static func outcome(for id: JobID, in db: Database) throws -> OutcomeSnapshot? {
        guard let jobRow = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE id = ?"), arguments: [id.rawValue]),
            let eventRow = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM events WHERE job_id = ? ORDER BY created_at DESC LIMIT 1"),
                arguments: [id.rawValue]
            )
        else { return nil }
        let event = Self.event(eventRow)
        let deliveries = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT * FROM deliveries WHERE event_id = ? ORDER BY idx"),
            arguments: [event.id]
        ).map(Self.delivery)
        return OutcomeSnapshot(job: Self.job(jobRow), event: event, deliveries: deliveries, version: jobRow["outcome_version"])
    }

    public func recentCompletions(limit: Int) async throws -> [CompletionObservation] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: SQLiteQueries.recentCompletions,
                arguments: [max(0, limit)]
            ).reversed().compactMap { row in
                CompletionObservation(
                    key: CompletionTimeKey(
                        model: row["model"],
                        resolution: row["resolution"],
                        durationSeconds: row["duration_seconds"]
                    ),
                    submittedAt: Self.timestamp(row["submitted_at"]),
                    lastRunningAt: Self.timestamp(row["last_running_at"]),
                    completedAt: Self.timestamp(row["finished_at"])
                )
            }
        }
    }

    public func failedDeliveries(since: Timestamp) async throws -> [Delivery] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM deliveries WHERE state = 'failed' AND last_attempt_at >= ? ORDER BY last_attempt_at",
                arguments: [since.millisecondsSinceEpoch]
            ).map(Self.delivery)
        }
    }

    public func finishedJobs(before cutoff: Timestamp, limit: Int) async throws -> [Job] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: SQLiteQueries.prunable,
                arguments: [cutoff.millisecondsSinceEpoch, max(0, limit)]
            ).map(Self.job)
        }
    }

    /// How SQLite would run `sql` (the detail column of `EXPLAIN QUERY PLAN`), with every parameter
    /// unbound: for tests that hold the store's queries to their indexes.
    package func queryPlan(_ sql: String) async throws -> [String] {
        try await pool.read { db in
            let statement = try db.makeStatement(sql: "EXPLAIN QUERY PLAN " + sql)
            statement.setUncheckedArguments(StatementArguments())
            return try Row.fetchAll(statement).map { $0["detail"] as String }
        }
    }

    /// Runs SQLite's own consistency check; empty when the database is sound.
    public func integrityProblems() async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db.cachedStatement(sql: "PRAGMA integrity_check")).filter { $0 != "ok" }
        }
    }

    // MARK: - Rows

    static func job(_ row: Row) -> Job {
        var job = Job(
            id: JobID(trusted: row["id"]),
            phase: JobPhase(rawValue: row["phase"]) ?? .failed,
            model: row["model"],
            callbackURLs: decodeStrings(row["callback_urls"]),
            metadata: (row["metadata"] as String?).flatMap { try? JSONParser().parse($0).objectValue },
            acceptedAt: Timestamp(millisecondsSinceEpoch: row["accepted_at"]),
            sourceName: row["source_name"],
            parameters: GenerationParameters(resolution: row["resolution"], durationSeconds: row["duration_seconds"])
        )
        job.submitAttempts = row["submit_attempts"]
        job.submitAllowance = row["submit_allowance"]
        job.nextActionAt = timestamp(row["next_action_at"])
        job.submittedAt = timestamp(row["submitted_at"])
        job.generationID = row["generation_id"]
        job.upstreamStatus = row["upstream_status"]
        job.polls = row["polls"]
        job.lastRunningAt = timestamp(row["last_running_at"])
        job.requeuedAt = timestamp(row["requeued_at"])
        job.consecutivePollFailures = row["consecutive_poll_failures"]
        job.consecutiveNotFound = row["consecutive_not_found"]
        job.finishedAt = timestamp(row["finished_at"])
        job.videoURL = row["video_url"]
        let credits: String? = row["credits_used"]
        let usd: String? = row["usd_spent"]
        if credits != nil || usd != nil {
            job.usage = Usage(creditsUsed: credits.flatMap(number), usdSpent: usd.flatMap(number))
        }
        if let code: String = row["failure_code"] {
            job.failure = JobFailure(code: JobFailure.Code(code), message: row["failure_message"] ?? "")
        }
        return job
    }

    static func delivery(_ row: Row) -> Delivery {
        var delivery = Delivery(
            id: Delivery.ID(eventID: row["event_id"], index: row["idx"]),
            jobID: JobID(trusted: row["job_id"]),
            url: row["url"],
            nextAttemptAt: timestamp(row["next_attempt_at"])
        )
        delivery.state = Delivery.State(rawValue: row["state"]) ?? .failed
        delivery.attempts = row["attempts"]
        delivery.lastAttemptAt = timestamp(row["last_attempt_at"])
        delivery.lastStatusCode = row["last_status"]
        delivery.lastError = row["last_error"]
        delivery.deliveredAt = timestamp(row["delivered_at"])
        return delivery
    }

    static func event(_ row: Row) -> WebhookEvent {
        let body: Data = row["body"]
        return WebhookEvent(
            id: row["id"],
            jobID: JobID(trusted: row["job_id"]),
            type: WebhookEvent.EventType(description: row["type"]),
            createdAt: Timestamp(millisecondsSinceEpoch: row["created_at"]),
            body: Array(body)
        )
    }

    static func timestamp(_ value: Int64?) -> Timestamp? {
        value.map(Timestamp.init(millisecondsSinceEpoch:))
    }

    private static func number(_ text: String) -> JSONNumber? {
        try? JSONParser().parse(text).numberValue
    }

    private static func encode(_ strings: [String]) -> String {
        encode(.array(strings.map(JSONValue.string)))
    }

    private static func encode(_ value: JSONValue) -> String {
        JSONWriter().string(value)
    }

    private static func decodeStrings(_ text: String) -> [String] {
        ((try? JSONParser().parse(text))?.arrayValue ?? []).compactMap(\.stringValue)
    }
}

/// A store operation that found the data in an impossible state.
public enum StoreError: Error, CustomStringConvertible {
    case unknownJob(JobID)

    public var description: String {
        switch self {
        case .unknownJob(let id): "no job \(id) in the store"
        }
    }
}

extension Database {
    /// Runs a statement compiled once per connection: the pipeline repeats the same few
    /// statements for every job, and compiling (parse, authorizer) was a measurable share of its CPU.
    func executeCached(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
