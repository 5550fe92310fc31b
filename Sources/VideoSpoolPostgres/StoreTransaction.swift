import Foundation
import Logging
import NIOCore
import PostgresNIO
import VideoSpoolCore

/// One transaction (or one read) on one connection: the statements of every ``StoreChange``, and
/// what the transaction does last (giving back finished jobs, one NOTIFY).
final class StoreTransaction {
    let connection: PostgresConnection
    let tables: Tables
    let logger: Logger
    let configuration: PostgresStoreConfiguration
    /// The app's clock when the transaction began: `next_action_at` is translated through it.
    let appNow: Timestamp
    /// Jobs that may have finished everything they owe in this transaction (given back at its end).
    var finishedCandidates: Set<String> = []
    /// Whether to NOTIFY other daemons when the transaction commits.
    var announce = false
    /// Bookkeeping that no later statement reads, written at the end with one statement of each
    /// kind instead of one per change (a group commit carries hundreds).
    private var settledSources: Set<String> = []
    private var writtenOutcomes: [String: Int64] = [:]
    private var attempts: [DeliveryAttempt] = []

    init(connection: PostgresConnection, store: PostgresJobStore, appNow: Timestamp) {
        self.connection = connection
        self.tables = store.tables
        self.logger = store.logger
        self.configuration = store.configuration
        self.appNow = appNow
    }

    // MARK: - Statements

    /// Runs `query` and returns the number of rows it affected.
    @discardableResult
    func execute(_ query: PostgresQuery) async throws -> Int {
        try await connection.openExecute(query, logger: logger)
    }

    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.openQuery(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// The first column of the first row; `nil` for no row or NULL.
    func value<Value: PostgresDecodable>(_ query: PostgresQuery, as type: Value.Type) async throws -> Value? {
        guard let row = try await connection.openQuery(query, logger: logger).collect().first else { return nil }
        let cell = row.makeRandomAccess()[0]
        guard cell.bytes != nil else { return nil }
        return try cell.decode(Value.self)
    }

    // MARK: - Changes

    func apply(_ change: StoreChange, me: UUID?, spoolID: String?) async throws {
        let t = tables
        switch change {
        case .insertJob(let job, let requestBody, let source):
            guard let spoolID else { throw PostgresStoreError.notRegistered }
            let body = job.phase == .rejected ? nil : ByteBuffer(bytes: requestBody)
            let inserted = try await value(
                """
                WITH j AS (
                    INSERT INTO \(unescaped: t.jobs) (id, phase, model, callback_urls, metadata, accepted_at, spool_id,
                        source_name, source_sha256, source_disposition, source_error_document, source_identity,
                        resolution, duration_seconds, failure_code, failure_message, finished_at, submit_allowance,
                        owner, fence, claimed_at)
                    VALUES (\(job.id.rawValue), \(job.phase.rawValue), \(job.model), \(Rows.encode(job.callbackURLs)),
                        \(job.metadata.map { Rows.encode(.object($0)) }), \(job.acceptedAt.millisecondsSinceEpoch),
                        \(spoolID), \(source.name), \(source.sha256), \(source.disposition.rawValue),
                        \(source.errorDocument.map { ByteBuffer(bytes: $0) }), \(source.identity),
                        \(job.parameters.resolution), \(job.parameters.durationSeconds.map(Int64.init)),
                        \(job.failure?.code.description), \(job.failure?.message),
                        \(job.finishedAt?.millisecondsSinceEpoch), \(Int64(job.submitAllowance)), \(me), \(job.fence),
                        CASE WHEN \(me)::uuid IS NULL THEN NULL ELSE now() END)
                    ON CONFLICT DO NOTHING
                    RETURNING id),
                t AS (
                    INSERT INTO \(unescaped: t.transitions) (job_id, from_phase, to_phase, at, detail)
                    SELECT id, NULL, \(job.phase.rawValue), \(job.acceptedAt.millisecondsSinceEpoch),
                        \(job.failure?.code.description) FROM j),
                r AS (
                    INSERT INTO \(unescaped: t.requests) (job_id, body) SELECT id, \(body)::bytea FROM j
                    WHERE \(body)::bytea IS NOT NULL)
                SELECT count(*) FROM j
                """,
                as: Int64.self
            )
            if inserted != 1 {
                if let identity = source.identity,
                    let existing = try await value(
                        "SELECT id FROM \(unescaped: t.jobs) WHERE spool_id = \(spoolID) AND source_identity = \(identity)",
                        as: String.self
                    )
                {
                    throw SourceAlreadyTaken(jobID: JobID(trusted: existing))
                }
                throw PostgresStoreError.duplicateJob(job.id)
            }
            if me == nil, !job.phase.isTerminal { announce = true }
            if job.phase.isTerminal { finishedCandidates.insert(job.id.rawValue) }

        case .updateJob(let job):
            try await updateJobs([job], me: me)

        case .insertEvent(let event, let deliveries):
            let me = try Self.require(me)
            try await holdAndMarkStale(event.jobID, me: me, fence: deliveries.first?.fence)
            var sql = """
                WITH e AS (
                    INSERT INTO \(t.events) (id, job_id, type, created_at, body) VALUES ($1, $2, $3, $4, $5))
                """
            var binds = PostgresBindings()
            binds.append(event.id)
            binds.append(event.jobID.rawValue)
            binds.append(event.type.description)
            binds.append(event.createdAt.millisecondsSinceEpoch)
            binds.append(ByteBuffer(bytes: event.body))
            if deliveries.isEmpty {
                sql += " SELECT 1"
            } else {
                sql += " INSERT INTO \(t.deliveries) (event_id, idx, job_id, url, state, attempts, next_attempt_at) VALUES "
                sql += deliveries.map { delivery in
                    Self.appendDelivery(delivery, to: &binds)
                }.joined(separator: ", ")
            }
            try await execute(PostgresQuery(unsafeSQL: sql, binds: binds))

        case .addDelivery(let delivery):
            let me = try Self.require(me)
            try await holdAndMarkStale(delivery.jobID, me: me, fence: delivery.fence)
            var binds = PostgresBindings()
            let values = Self.appendDelivery(delivery, to: &binds)
            try await execute(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(t.deliveries) (event_id, idx, job_id, url, state, attempts, next_attempt_at)
                        VALUES \(values)
                        """,
                    binds: binds
                )
            )

        case .updateDelivery(let delivery):
            let me = try Self.require(me)
            let updated = try await execute(
                """
                WITH d AS (
                    UPDATE \(unescaped: t.deliveries) SET state = \(delivery.state.rawValue),
                        attempts = \(Int64(delivery.attempts)),
                        next_attempt_at = \(delivery.nextAttemptAt?.millisecondsSinceEpoch),
                        last_attempt_at = \(delivery.lastAttemptAt?.millisecondsSinceEpoch),
                        last_status = \(delivery.lastStatusCode.map(Int64.init)), last_error = \(delivery.lastError),
                        delivered_at = \(delivery.deliveredAt?.millisecondsSinceEpoch)
                    WHERE event_id = \(delivery.id.eventID) AND idx = \(Int64(delivery.id.index))
                        AND EXISTS (SELECT 1 FROM \(unescaped: t.jobs) WHERE id = \(delivery.jobID.rawValue)
                            AND owner = \(me) AND fence = \(delivery.fence))
                    RETURNING job_id)
                UPDATE \(unescaped: t.jobs) SET outcome_version = outcome_version + 1
                WHERE id = \(delivery.jobID.rawValue) AND phase <> 'rejected' AND EXISTS (SELECT 1 FROM d)
                """
            )
            if updated == 0 {
                // Either a rejection (no outcome file), a delivery that does not exist (nothing to
                // do, as on SQLite), or a job that moved on.
                let row = try await rows(
                    """
                    SELECT d.state AS delivery_state, j.owner = \(me) AND j.fence = \(delivery.fence) AS held,
                        j.phase AS phase
                    FROM \(unescaped: t.deliveries) d JOIN \(unescaped: t.jobs) j ON j.id = d.job_id
                    WHERE d.event_id = \(delivery.id.eventID) AND d.idx = \(Int64(delivery.id.index))
                    """
                ).first
                if let row, try row["held"].decode(Bool?.self) != true {
                    throw LeaseLost(jobs: [delivery.jobID])
                }
            }
            if delivery.state.isFinal { finishedCandidates.insert(delivery.jobID.rawValue) }

        case .sourceSettled(let id):
            settledSources.insert(id.rawValue)

        case .outcomeWritten(let id, let version):
            writtenOutcomes[id.rawValue] = max(writtenOutcomes[id.rawValue] ?? 0, Int64(version))

        case .recordDeliveryAttempt(let attempt):
            attempts.append(attempt)

        case .deleteJob(let id):
            try await writeBookkeeping()
            // Only a finished job that nobody holds and that owes no webhook: one sent round again
            // meanwhile (`videospool retry`) stays whole.
            try await execute(
                """
                WITH j AS (
                    DELETE FROM \(unescaped: t.jobs) WHERE id = \(id.rawValue) AND phase IN \(unescaped: PostgresSchema.terminalPhases)
                        AND owner IS NULL AND pending_deliveries = 0
                    RETURNING id),
                a AS (DELETE FROM \(unescaped: t.attempts) WHERE job_id IN (SELECT id FROM j)),
                d AS (DELETE FROM \(unescaped: t.deliveries) WHERE job_id IN (SELECT id FROM j)),
                e AS (DELETE FROM \(unescaped: t.events) WHERE job_id IN (SELECT id FROM j)),
                h AS (DELETE FROM \(unescaped: t.transitions) WHERE job_id IN (SELECT id FROM j))
                DELETE FROM \(unescaped: t.requests) WHERE job_id IN (SELECT id FROM j)
                """
            )

        case .recordLateGeneration(let id, let generationID, let submittedAt):
            // A fact from upstream, kept whoever holds the job now. A job still waiting in
            // `submitting` becomes `generating`, free for any daemon to poll; one that ended only
            // records the id. (In UPDATE, every expression reads the row as it was.)
            let before = try await value(
                """
                UPDATE \(unescaped: t.jobs) j SET generation_id = \(generationID),
                    submitted_at = CASE WHEN j.phase = 'submitting' THEN \(submittedAt.millisecondsSinceEpoch)
                        ELSE j.submitted_at END,
                    run_after = CASE WHEN j.phase = 'submitting' THEN NULL ELSE j.run_after END,
                    owner = CASE WHEN j.phase = 'submitting' THEN NULL ELSE j.owner END,
                    fence = CASE WHEN j.phase = 'submitting' THEN j.fence + 1 ELSE j.fence END,
                    claimed_at = CASE WHEN j.phase = 'submitting' THEN NULL ELSE j.claimed_at END,
                    phase = CASE WHEN j.phase = 'submitting' THEN 'generating' ELSE j.phase END
                FROM (SELECT id, phase FROM \(unescaped: t.jobs) WHERE id = \(id.rawValue) FOR UPDATE) old
                WHERE j.id = old.id AND j.generation_id IS NULL
                RETURNING old.phase
                """,
                as: String.self
            )
            if before == JobPhase.submitting.rawValue { announce = true }

        case .requestCancel(let id):
            try await execute("UPDATE \(unescaped: t.jobs) SET cancel_requested_at = now() WHERE id = \(id.rawValue)")
            announce = true

        case .reserveSpend(let reservation):
            try await reserve(reservation)
        }
    }

    /// The end of every write transaction: finished jobs that owe nothing more are given back
    /// (nobody needs to hold them), and other daemons are told once if there is work for them.
    func finish(me: UUID?) async throws {
        try await writeBookkeeping()
        if let me, !finishedCandidates.isEmpty {
            try await execute(
                """
                UPDATE \(unescaped: tables.jobs) SET owner = NULL, fence = fence + 1, claimed_at = NULL
                WHERE id = ANY(\(Array(finishedCandidates))) AND owner = \(me)
                    AND phase IN \(unescaped: PostgresSchema.terminalPhases) AND pending_deliveries = 0
                """
            )
        }
        if announce { try await notify() }
    }

    /// The deferred ``StoreChange/sourceSettled(_:)``, ``StoreChange/outcomeWritten(_:version:)``
    /// and ``StoreChange/recordDeliveryAttempt(_:)`` changes.
    private func writeBookkeeping() async throws {
        let t = tables
        if !settledSources.isEmpty {
            try await execute("UPDATE \(unescaped: t.jobs) SET source_settled = true WHERE id = ANY(\(Array(settledSources)))")
            settledSources.removeAll()
        }
        if !writtenOutcomes.isEmpty {
            let ids = Array(writtenOutcomes.keys)
            try await execute(
                """
                UPDATE \(unescaped: t.jobs) j SET outcome_written_version = greatest(j.outcome_written_version, w.version)
                FROM unnest(\(ids)::text[], \(ids.map { writtenOutcomes[$0]! })::bigint[]) AS w(id, version)
                WHERE j.id = w.id
                """
            )
            writtenOutcomes.removeAll()
        }
        // Nine values a row; a statement takes at most 65,535.
        for chunk in stride(from: 0, to: attempts.count, by: 1000).map({ attempts[$0..<min($0 + 1000, attempts.count)] }) {
            var binds = PostgresBindings()
            let rows = chunk.map { attempt in
                let first = binds.count + 1
                binds.append(attempt.deliveryID.eventID)
                binds.append(Int64(attempt.deliveryID.index))
                binds.append(attempt.jobID.rawValue)
                binds.append(Int64(attempt.number))
                binds.append(attempt.startedAt.millisecondsSinceEpoch)
                binds.append(attempt.latency.wholeMilliseconds)
                binds.append(attempt.statusCode.map(Int64.init))
                binds.append(attempt.error)
                binds.append(attempt.resultingState.rawValue)
                return "(" + (first..<(first + 9)).map { "$\($0)" }.joined(separator: ", ") + ")"
            }
            try await execute(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(t.attempts) (event_id, idx, job_id, number, started_at, latency_ms, status, error,
                            resulting_state)
                        VALUES \(rows.joined(separator: ", "))
                        """,
                    binds: binds
                )
            )
        }
        attempts.removeAll()
    }

    func notify() async throws {
        try await execute("SELECT pg_notify(\(tables.channel), '')")
    }

    // MARK: - Helpers

    /// Checks that this daemon holds `job` (under `fence`, when the change names one) and marks its
    /// outcome file out of date, in one statement that also locks the row until the commit.
    private func holdAndMarkStale(_ job: JobID, me: UUID, fence: Int64?) async throws {
        let held = try await execute(
            """
            UPDATE \(unescaped: tables.jobs)
            SET outcome_version = outcome_version + CASE WHEN phase <> 'rejected' THEN 1 ELSE 0 END
            WHERE id = \(job.rawValue) AND owner = \(me) AND (\(fence)::bigint IS NULL OR fence = \(fence)::bigint)
            """
        )
        if held != 1 { try await explainMissingJob(job) }
    }

    /// A fenced write affected nothing: the job does not exist, or it moved on.
    func explainMissingJob(_ id: JobID) async throws -> Never {
        let exists = try await value("SELECT 1 FROM \(unescaped: tables.jobs) WHERE id = \(id.rawValue)", as: Int32.self)
        if exists == nil { throw PostgresStoreError.unknownJob(id) }
        throw LeaseLost(jobs: [id])
    }

    /// `($n, …)` for one delivery row, its values appended to `binds`.
    private static func appendDelivery(_ delivery: Delivery, to binds: inout PostgresBindings) -> String {
        let first = binds.count + 1
        binds.append(delivery.id.eventID)
        binds.append(Int64(delivery.id.index))
        binds.append(delivery.jobID.rawValue)
        binds.append(delivery.url)
        binds.append(delivery.state.rawValue)
        binds.append(Int64(delivery.attempts))
        binds.append(delivery.nextAttemptAt?.millisecondsSinceEpoch)
        return "(" + (first..<(first + 7)).map { "$\($0)" }.joined(separator: ", ") + ")"
    }

    static func require(_ me: UUID?) throws -> UUID {
        guard let me else { throw PostgresStoreError.notRegistered }
        return me
    }

    static func isBudgetViolation(_ error: PSQLError) -> Bool {
        error.serverInfo?[.sqlState] == "23514" && error.serverInfo?[.constraintName] == "submit_budget"
    }
}
