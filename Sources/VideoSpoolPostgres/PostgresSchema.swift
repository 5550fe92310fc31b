/// The shared store's tables, in their own schema, created and upgraded by numbered migrations
/// that daemons starting together apply once (under an advisory lock; see
/// ``PostgresJobStore/migrate()``).
///
/// The tables mean what SQLite's mean (StoreSchema.swift in VideoSpoolStore): jobs, requests,
/// events, deliveries, transitions, delivery_attempts; times that are data are the app's wall clock
/// in milliseconds. What sharing adds:
/// - `instances`: one row per running daemon, its lease judged by the database's clock only;
/// - `jobs.owner` / `jobs.fence`: who holds a job and under which fence (WorkOwnership.swift);
/// - `jobs.run_after`: when the job is next due, as a database instant, so that a host with a wrong
///   clock does not shift work for the others;
/// - `jobs.submit_allowance` and the `submit_budget` CHECK: a second POST needs a committed decision;
/// - `jobs.pending_deliveries`, kept by a trigger: finished jobs that still owe webhooks are found
///   through a partial index, never by scanning;
/// - `finished_counts`, kept by a trigger: status lines count finished jobs without counting rows.
enum PostgresSchema {
    struct Migration {
        let version: Int
        let name: String
        let statements: [String]
    }

    static let terminalPhases = "('completed', 'failed', 'rejected', 'canceled')"

    /// Every migration, oldest first; `s` is the quoted schema name.
    static func migrations(schema s: String) -> [Migration] {
        [
            Migration(
                version: 1,
                name: "tables, ownership and the submit budget",
                statements: [
                    """
                    CREATE TABLE \(s).instances (
                        id uuid PRIMARY KEY,
                        host text NOT NULL,
                        pid integer NOT NULL,
                        version text NOT NULL,
                        spool_id text NOT NULL,
                        started_at timestamptz NOT NULL DEFAULT now(),
                        heartbeat_at timestamptz NOT NULL DEFAULT now(),
                        expires_at timestamptz NOT NULL
                    ) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 100)
                    """,
                    "CREATE INDEX instances_expires ON \(s).instances (expires_at)",
                    // Hot rows are updated in place (HOT) thanks to the free space fillfactor leaves,
                    // and vacuumed early: a queue table bloats otherwise.
                    """
                    CREATE TABLE \(s).jobs (
                        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                        id text PRIMARY KEY,
                        phase text NOT NULL CHECK (phase IN ('queued', 'submitting', 'generating', 'completed',
                            'failed', 'rejected', 'canceled')),
                        model text NOT NULL,
                        callback_urls text NOT NULL,
                        metadata text,
                        accepted_at bigint NOT NULL,
                        spool_id text NOT NULL,
                        source_name text NOT NULL,
                        source_sha256 text NOT NULL,
                        source_disposition text NOT NULL,
                        source_error_document bytea,
                        source_identity text,
                        source_settled boolean NOT NULL DEFAULT false,
                        resolution text,
                        duration_seconds bigint,
                        submit_attempts bigint NOT NULL DEFAULT 0,
                        submit_allowance bigint NOT NULL DEFAULT 1,
                        run_after timestamptz,
                        submitted_at bigint,
                        generation_id text,
                        upstream_status text,
                        polls bigint NOT NULL DEFAULT 0,
                        consecutive_poll_failures bigint NOT NULL DEFAULT 0,
                        consecutive_not_found bigint NOT NULL DEFAULT 0,
                        last_running_at bigint,
                        finished_at bigint,
                        video_url text,
                        credits_used text,
                        usd_spent text,
                        failure_code text,
                        failure_message text,
                        requeued_at bigint,
                        outcome_version bigint NOT NULL DEFAULT 0,
                        outcome_written_version bigint NOT NULL DEFAULT 0,
                        pending_deliveries integer NOT NULL DEFAULT 0,
                        owner uuid,
                        fence bigint NOT NULL DEFAULT 0,
                        claimed_at timestamptz,
                        cancel_requested_at timestamptz,
                        CONSTRAINT submit_budget CHECK (submit_attempts <= submit_allowance),
                        CONSTRAINT one_job_per_source UNIQUE (spool_id, source_identity)
                    ) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)
                    """,
                    // Claims: unowned work by kind, oldest first.
                    "CREATE INDEX jobs_claim_queued ON \(s).jobs (seq) WHERE owner IS NULL AND phase = 'queued'",
                    """
                    CREATE INDEX jobs_claim_active ON \(s).jobs (seq)
                        WHERE owner IS NULL AND phase IN ('submitting', 'generating')
                    """,
                    """
                    CREATE INDEX jobs_claim_delivering ON \(s).jobs (seq)
                        WHERE owner IS NULL AND pending_deliveries > 0
                    """,
                    "CREATE INDEX jobs_owner ON \(s).jobs (owner) WHERE owner IS NOT NULL",
                    // Finished jobs an operator command took and left as they were.
                    """
                    CREATE INDEX jobs_finished_held ON \(s).jobs (owner)
                        WHERE owner IS NOT NULL AND pending_deliveries = 0 AND phase IN \(terminalPhases)
                    """,
                    "CREATE INDEX jobs_cancel_requested ON \(s).jobs (owner) WHERE cancel_requested_at IS NOT NULL",
                    // What a spool's daemon owes its directory.
                    "CREATE INDEX jobs_unsettled ON \(s).jobs (spool_id, seq) WHERE NOT source_settled",
                    """
                    CREATE INDEX jobs_stale_outcome ON \(s).jobs (spool_id, seq)
                        WHERE outcome_version > outcome_written_version
                    """,
                    "CREATE INDEX jobs_source_sha256 ON \(s).jobs (source_sha256, accepted_at)",
                    "CREATE INDEX jobs_completed ON \(s).jobs (finished_at) WHERE phase = 'completed'",
                    """
                    CREATE INDEX jobs_finished ON \(s).jobs ((coalesce(finished_at, accepted_at)))
                        WHERE phase IN \(terminalPhases)
                    """,
                    // `videospool list`: newest first, by phase, or those still delivering.
                    "CREATE INDEX jobs_phase ON \(s).jobs (phase, seq)",
                    "CREATE INDEX jobs_delivering ON \(s).jobs (seq) WHERE pending_deliveries > 0",
                    """
                    CREATE TABLE \(s).requests (
                        job_id text PRIMARY KEY,
                        body bytea NOT NULL
                    )
                    """,
                    """
                    CREATE TABLE \(s).events (
                        id text PRIMARY KEY,
                        job_id text NOT NULL,
                        type text NOT NULL,
                        created_at bigint NOT NULL,
                        body bytea NOT NULL
                    )
                    """,
                    "CREATE INDEX events_job ON \(s).events (job_id, created_at)",
                    """
                    CREATE TABLE \(s).deliveries (
                        event_id text NOT NULL,
                        idx bigint NOT NULL,
                        job_id text NOT NULL,
                        url text NOT NULL,
                        state text NOT NULL,
                        attempts bigint NOT NULL DEFAULT 0,
                        next_attempt_at bigint,
                        last_attempt_at bigint,
                        last_status bigint,
                        last_error text,
                        delivered_at bigint,
                        PRIMARY KEY (event_id, idx)
                    ) WITH (fillfactor = 80)
                    """,
                    "CREATE INDEX deliveries_job ON \(s).deliveries (job_id)",
                    "CREATE INDEX deliveries_failed ON \(s).deliveries (last_attempt_at) WHERE state = 'failed'",
                    """
                    CREATE TABLE \(s).transitions (
                        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        job_id text NOT NULL,
                        from_phase text,
                        to_phase text NOT NULL,
                        at bigint NOT NULL,
                        detail text
                    )
                    """,
                    "CREATE INDEX transitions_job ON \(s).transitions (job_id)",
                    """
                    CREATE TABLE \(s).delivery_attempts (
                        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        event_id text NOT NULL,
                        idx bigint NOT NULL,
                        job_id text NOT NULL,
                        number bigint NOT NULL,
                        started_at bigint NOT NULL,
                        latency_ms bigint NOT NULL,
                        status bigint,
                        error text,
                        resulting_state text NOT NULL
                    )
                    """,
                    "CREATE INDEX delivery_attempts_job ON \(s).delivery_attempts (job_id)",
                    // Per-phase counts of finished jobs, spread over a few rows so that daemons
                    // finishing jobs at the same time do not queue on one row lock.
                    """
                    CREATE TABLE \(s).finished_counts (
                        phase text NOT NULL,
                        shard integer NOT NULL,
                        n bigint NOT NULL,
                        PRIMARY KEY (phase, shard)
                    )
                    """,
                    """
                    CREATE FUNCTION \(s).count_finished() RETURNS trigger LANGUAGE plpgsql AS $$
                    DECLARE
                        my_shard integer := pg_backend_pid() % 8;
                    BEGIN
                        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.phase IN \(terminalPhases) THEN
                            INSERT INTO \(s).finished_counts AS c (phase, shard, n) VALUES (OLD.phase, my_shard, -1)
                                ON CONFLICT (phase, shard) DO UPDATE SET n = c.n - 1;
                        END IF;
                        IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.phase IN \(terminalPhases) THEN
                            INSERT INTO \(s).finished_counts AS c (phase, shard, n) VALUES (NEW.phase, my_shard, 1)
                                ON CONFLICT (phase, shard) DO UPDATE SET n = c.n + 1;
                        END IF;
                        RETURN NULL;
                    END
                    $$
                    """,
                    """
                    CREATE TRIGGER jobs_count_inserted AFTER INSERT ON \(s).jobs
                        FOR EACH ROW WHEN (NEW.phase IN \(terminalPhases)) EXECUTE FUNCTION \(s).count_finished()
                    """,
                    """
                    CREATE TRIGGER jobs_count_updated AFTER UPDATE OF phase ON \(s).jobs
                        FOR EACH ROW WHEN (OLD.phase IS DISTINCT FROM NEW.phase) EXECUTE FUNCTION \(s).count_finished()
                    """,
                    """
                    CREATE TRIGGER jobs_count_deleted AFTER DELETE ON \(s).jobs
                        FOR EACH ROW WHEN (OLD.phase IN \(terminalPhases)) EXECUTE FUNCTION \(s).count_finished()
                    """,
                    // A job's count of pending deliveries, whoever writes them.
                    """
                    CREATE FUNCTION \(s).count_pending_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'pending' THEN
                            UPDATE \(s).jobs SET pending_deliveries = pending_deliveries - 1 WHERE id = OLD.job_id;
                        END IF;
                        IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.state = 'pending' THEN
                            UPDATE \(s).jobs SET pending_deliveries = pending_deliveries + 1 WHERE id = NEW.job_id;
                        END IF;
                        RETURN NULL;
                    END
                    $$
                    """,
                    """
                    CREATE TRIGGER deliveries_count_inserted AFTER INSERT ON \(s).deliveries
                        FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION \(s).count_pending_deliveries()
                    """,
                    """
                    CREATE TRIGGER deliveries_count_updated AFTER UPDATE OF state ON \(s).deliveries
                        FOR EACH ROW WHEN ((OLD.state = 'pending') IS DISTINCT FROM (NEW.state = 'pending'))
                        EXECUTE FUNCTION \(s).count_pending_deliveries()
                    """,
                    """
                    CREATE TRIGGER deliveries_count_deleted AFTER DELETE ON \(s).deliveries
                        FOR EACH ROW WHEN (OLD.state = 'pending') EXECUTE FUNCTION \(s).count_pending_deliveries()
                    """,
                ]
            ),
            Migration(
                version: 2,
                name: "storing videos",
                statements: [
                    // `storing` (the video is downloaded before the job is announced) is active work
                    // like polling: a daemon that dies while storing releases it, and another takes it.
                    "ALTER TABLE \(s).jobs DROP CONSTRAINT jobs_phase_check",
                    """
                    ALTER TABLE \(s).jobs ADD CONSTRAINT jobs_phase_check CHECK (phase IN ('queued', 'submitting',
                        'generating', 'storing', 'completed', 'failed', 'rejected', 'canceled'))
                    """,
                    "DROP INDEX \(s).jobs_claim_active",
                    """
                    CREATE INDEX jobs_claim_active ON \(s).jobs (seq)
                        WHERE owner IS NULL AND phase IN ('submitting', 'generating', 'storing')
                    """,
                ]
            ),
            Migration(
                version: 3,
                name: "the spend ledger",
                statements: [
                    // As SQLite's v8: one row per submission, never deleted with its job.
                    """
                    CREATE TABLE \(s).spend_ledger (
                        seq bigserial PRIMARY KEY,
                        job_id text NOT NULL,
                        model text NOT NULL,
                        resolution text,
                        duration_seconds bigint,
                        reserved_at bigint NOT NULL,
                        estimate_usd double precision NOT NULL,
                        state text NOT NULL CHECK (state IN ('reserved', 'completed', 'failed', 'void')),
                        settled_at bigint,
                        usd_spent double precision,
                        credits_used double precision
                    )
                    """,
                    """
                    CREATE INDEX spend_ledger_time ON \(s).spend_ledger (reserved_at)
                        INCLUDE (state, estimate_usd, usd_spent, credits_used)
                    """,
                    "CREATE INDEX spend_ledger_open ON \(s).spend_ledger (job_id) WHERE state = 'reserved'",
                    """
                    CREATE INDEX spend_ledger_kind ON \(s).spend_ledger (model, resolution, duration_seconds, seq)
                        WHERE state = 'completed'
                    """,
                ]
            ),
        ]
    }

    /// The newest schema version this build knows.
    static var currentVersion: Int { migrations(schema: "s").last?.version ?? 0 }
}
