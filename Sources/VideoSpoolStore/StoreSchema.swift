package import GRDB

/// The store's tables, created and upgraded by migrations so that later versions can change them
/// without losing jobs.
package enum StoreSchema {
    package static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE jobs (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        phase TEXT NOT NULL,
                        model TEXT NOT NULL,
                        callback_urls TEXT NOT NULL,
                        metadata TEXT,
                        accepted_at INTEGER NOT NULL,
                        source_name TEXT NOT NULL,
                        source_sha256 TEXT NOT NULL,
                        source_disposition TEXT NOT NULL,
                        source_error_document BLOB,
                        source_settled INTEGER NOT NULL DEFAULT 0,
                        resolution TEXT,
                        duration_seconds INTEGER,
                        submit_attempts INTEGER NOT NULL DEFAULT 0,
                        next_action_at INTEGER,
                        submitted_at INTEGER,
                        generation_id TEXT,
                        upstream_status TEXT,
                        polls INTEGER NOT NULL DEFAULT 0,
                        consecutive_poll_failures INTEGER NOT NULL DEFAULT 0,
                        consecutive_not_found INTEGER NOT NULL DEFAULT 0,
                        finished_at INTEGER,
                        video_url TEXT,
                        credits_used TEXT,
                        usd_spent TEXT,
                        failure_code TEXT,
                        failure_message TEXT,
                        outcome_version INTEGER NOT NULL DEFAULT 0,
                        outcome_written_version INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX jobs_active ON jobs(phase) WHERE phase IN ('queued', 'submitting', 'generating');
                    CREATE INDEX jobs_unsettled ON jobs(source_settled) WHERE source_settled = 0;
                    CREATE INDEX jobs_stale_outcome ON jobs(outcome_version)
                        WHERE outcome_version > outcome_written_version;
                    CREATE TABLE requests (
                        job_id TEXT PRIMARY KEY,
                        body BLOB NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE events (
                        id TEXT PRIMARY KEY,
                        job_id TEXT NOT NULL,
                        type TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        body BLOB NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX events_job ON events(job_id);
                    CREATE TABLE deliveries (
                        event_id TEXT NOT NULL,
                        idx INTEGER NOT NULL,
                        job_id TEXT NOT NULL,
                        url TEXT NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER,
                        last_attempt_at INTEGER,
                        last_status INTEGER,
                        last_error TEXT,
                        delivered_at INTEGER,
                        PRIMARY KEY (event_id, idx)
                    ) WITHOUT ROWID;
                    CREATE INDEX deliveries_pending ON deliveries(state) WHERE state = 'pending';
                    CREATE INDEX deliveries_job ON deliveries(job_id);
                    """
            )
        }
        migrator.registerMigration("v2: find duplicates by content") { db in
            try db.execute(sql: "CREATE INDEX jobs_source_sha256 ON jobs(source_sha256, accepted_at)")
        }
        migrator.registerMigration("v3: learn completion times") { db in
            // When a status report last said "running": with finished_at it brackets the completion
            // time the learned poll schedule records (CompletionObservation).
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN last_running_at INTEGER;
                    CREATE INDEX jobs_completed ON jobs(finished_at) WHERE phase = 'completed';
                    """
            )
        }
        migrator.registerMigration("v4: history for operators") { db in
            // `videospool show` tells a job's story: each phase change, and every delivery attempt
            // (deliveries keep only their latest state). `requeued_at` is set by `videospool retry`.
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN requeued_at INTEGER;
                    CREATE TABLE transitions (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        job_id TEXT NOT NULL,
                        from_phase TEXT,
                        to_phase TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        detail TEXT
                    );
                    CREATE INDEX transitions_job ON transitions(job_id);
                    CREATE TABLE delivery_attempts (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        event_id TEXT NOT NULL,
                        idx INTEGER NOT NULL,
                        job_id TEXT NOT NULL,
                        number INTEGER NOT NULL,
                        started_at INTEGER NOT NULL,
                        latency_ms INTEGER NOT NULL,
                        status INTEGER,
                        error TEXT,
                        resulting_state TEXT NOT NULL
                    );
                    CREATE INDEX delivery_attempts_job ON delivery_attempts(job_id);
                    CREATE INDEX deliveries_failed ON deliveries(last_attempt_at) WHERE state = 'failed';
                    CREATE INDEX jobs_finished ON jobs(finished_at)
                        WHERE phase IN ('completed', 'failed', 'rejected', 'canceled');
                    """
            )
        }
        migrator.registerMigration("v5: submit allowance and ownership") { db in
            // The allowance makes "never POST twice" the database's rule, not only the code's: every
            // submission beyond the first needs a committed decision (WorkOwnership.swift). Existing
            // queued jobs may be sent once more; every other job has used what it was allowed.
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN submit_allowance INTEGER NOT NULL DEFAULT 1;
                    UPDATE jobs SET submit_allowance = max(1, submit_attempts + (phase = 'queued'));
                    CREATE TRIGGER jobs_submit_budget BEFORE UPDATE OF submit_attempts, submit_allowance ON jobs
                        WHEN NEW.submit_attempts > NEW.submit_allowance
                    BEGIN
                        SELECT RAISE(ABORT, 'submit_budget: more submissions than the job is allowed');
                    END;
                    ALTER TABLE jobs ADD COLUMN source_identity TEXT;
                    """
            )
        }
        migrator.registerMigration("v6: storing videos") { db in
            // `storing` (the video is downloaded before the job is announced) is an active phase:
            // a restart resumes it, so recovery finds it through the index of active jobs.
            try db.execute(
                sql: """
                    DROP INDEX jobs_active;
                    CREATE INDEX jobs_active ON jobs(phase) WHERE phase IN ('queued', 'submitting', 'generating', 'storing');
                    """
            )
        }
        migrator.registerMigration("v7: costs proportional to the work, not the history") { db in
            // Retention walks finished jobs oldest first by this very expression (the v4 index on
            // finished_at alone matched no query, so each batch sorted every finished job); `list
            // --state` walks one phase newest first; and the status line's counts of finished jobs
            // are kept by triggers, so that start-up counts nothing. Counting once here is the last
            // full scan.
            try db.execute(
                sql: """
                    DROP INDEX jobs_finished;
                    CREATE INDEX jobs_finished ON jobs(coalesce(finished_at, accepted_at))
                        WHERE phase IN ('completed', 'failed', 'rejected', 'canceled');
                    DROP INDEX jobs_active;
                    CREATE INDEX jobs_phase ON jobs(phase, seq);
                    CREATE TABLE finished_counts (
                        phase TEXT PRIMARY KEY,
                        n INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    INSERT INTO finished_counts (phase, n) VALUES
                        ('completed', (SELECT count(*) FROM jobs WHERE phase = 'completed')),
                        ('failed', (SELECT count(*) FROM jobs WHERE phase = 'failed')),
                        ('rejected', (SELECT count(*) FROM jobs WHERE phase = 'rejected')),
                        ('canceled', (SELECT count(*) FROM jobs WHERE phase = 'canceled'));
                    CREATE TRIGGER jobs_count_inserted AFTER INSERT ON jobs BEGIN
                        UPDATE finished_counts SET n = n + 1 WHERE phase = NEW.phase;
                    END;
                    CREATE TRIGGER jobs_count_updated AFTER UPDATE OF phase ON jobs WHEN OLD.phase IS NOT NEW.phase BEGIN
                        UPDATE finished_counts SET n = n - 1 WHERE phase = OLD.phase;
                        UPDATE finished_counts SET n = n + 1 WHERE phase = NEW.phase;
                    END;
                    CREATE TRIGGER jobs_count_deleted AFTER DELETE ON jobs BEGIN
                        UPDATE finished_counts SET n = n - 1 WHERE phase = OLD.phase;
                    END;
                    """
            )
        }
        migrator.registerMigration("v8: the spend ledger") { db in
            // One row per submission, kept when its job is pruned, so that retention never resets a
            // budget. Windows are summed by reservation time from the index alone (it covers what a
            // sum reads); a job's open entry is settled by its updates; the learned estimate reads
            // the last completed entries of one kind.
            try db.execute(
                sql: """
                    CREATE TABLE spend_ledger (
                        seq INTEGER PRIMARY KEY,
                        job_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        resolution TEXT,
                        duration_seconds INTEGER,
                        reserved_at INTEGER NOT NULL,
                        estimate_usd REAL NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('reserved', 'completed', 'failed', 'void')),
                        settled_at INTEGER,
                        usd_spent REAL,
                        credits_used REAL
                    );
                    CREATE INDEX spend_ledger_time
                        ON spend_ledger(reserved_at, state, estimate_usd, usd_spent, credits_used);
                    CREATE INDEX spend_ledger_open ON spend_ledger(job_id) WHERE state = 'reserved';
                    CREATE INDEX spend_ledger_kind ON spend_ledger(model, resolution, duration_seconds, seq)
                        WHERE state = 'completed';
                    """
            )
        }
        return migrator
    }
}
