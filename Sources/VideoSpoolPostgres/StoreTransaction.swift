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
            try await insertJobs([.init(job: job, requestBody: requestBody, source: source)], me: me, spoolID: spoolID)

        case .updateJob(let job):
            try await updateJobs([job], me: me)

        case .insertEvent(let event, let deliveries):
            try await insertEvents([.init(event: event, deliveries: deliveries)], me: me)

        case .addDelivery(let delivery):
            try await addDelivery(delivery, me: me)

        case .updateDelivery(let delivery):
            try await updateDeliveries([delivery], me: me)

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
            try await reserve([reservation])
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
    func holdAndMarkStale(_ job: JobID, me: UUID, fence: Int64?) async throws {
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

    static func require(_ me: UUID?) throws -> UUID {
        guard let me else { throw PostgresStoreError.notRegistered }
        return me
    }

    static func isBudgetViolation(_ error: PSQLError) -> Bool {
        error.serverInfo?[.sqlState] == "23514" && error.serverInfo?[.constraintName] == "submit_budget"
    }
}
