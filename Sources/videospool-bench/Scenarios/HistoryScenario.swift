import Foundation
import GRDB
import VideoSpoolSimulator
import VideoSpoolStore

/// A store grown to a long history (a million finished jobs: 30 days at about 0.4 job/s), and
/// what must not grow with it: start-up (READY), a prune of the oldest 300,000, and `list --state`.
struct HistoryScenario {
    var finished = 1_000_000
    var pruned = 300_000
    /// Jobs finished recently whose webhooks are still going out: what `list --state delivering` finds.
    var delivering = 20
    var runs = 3

    func run(binary: String) async throws -> ScenarioResult {
        let workspace = try BenchWorkspace(name: "history")
        defer { workspace.remove() }
        let buildStart = ContinuousClock.now
        try HistoryStore(directory: workspace.root + "/state").fill(finished: finished, old: pruned, delivering: delivering)
        let buildSeconds = (ContinuousClock.now - buildStart).milliseconds / 1000
        let simulator = BenchWorkspace.simulator(generation: .fixed(.zero))
        return try await simulator.withRunningServer { port in
            // Retention off: the prune measured is the one asked for.
            try workspace.configure(port: port, state: "retention_days: 0")
            var readySeconds: [Double] = []
            for _ in 0..<runs {
                let start = try await ReadyStart.launch(workspace, binary: binary)
                readySeconds.append(start.seconds)
                await start.daemon.stop()
            }
            let daemon = try await ReadyStart.launch(workspace, binary: binary).daemon
            // Its start-up work (the pending webhooks' outcome files) is not what `list` costs.
            try await Task.sleep(for: .seconds(2))
            var listSeconds: [Double] = []
            var listCPUSeconds: [Double] = []
            var listed = ""
            for _ in 0..<11 {
                let list = try CommandRun(binary: binary, ["list", "--state", "delivering", "--config", workspace.config])
                guard list.status == 0 else { throw BenchError("list --state delivering failed: \(list.output)") }
                listSeconds.append(list.seconds)
                listCPUSeconds.append(list.cpuSeconds)
                listed = list.output
            }
            let prune = try CommandRun(binary: binary, ["prune", "--older-than", "22d", "--config", workspace.config])
            await daemon.stop()
            guard prune.status == 0, prune.output.contains("pruned \(pruned) ") else {
                throw BenchError("prune exited \(prune.status): \(prune.output)")
            }
            let rows = listed.split(separator: "\n").count - 1  // minus the header

            var result = ScenarioResult(
                name: "history",
                summary: "\(finished) finished jobs (store built in \(Metric.format(buildSeconds)) s)"
            )
            result.add("READY after start, median of \(runs)", median(readySeconds), "s", .atMost(0.3))
            result.add("prune --older-than 22d (\(pruned) jobs, through the daemon, exit 0)", prune.seconds, "s", .atMost(60))
            result.add("list --state delivering (\(rows) jobs), median of 11", median(listSeconds) * 1000, "ms", .atMost(50))
            result.add("list --state delivering, its CPU time, median", median(listCPUSeconds) * 1000, "ms")
            result.add("prune, the command's own CPU time", prune.cpuSeconds, "s")
            result.notes.append("READY runs: " + readySeconds.map { Metric.format($0) }.joined(separator: " / ") + " s")
            result.notes.append(
                "list runs: " + listSeconds.map { Metric.format($0 * 1000) }.joined(separator: " / ") + " ms"
            )
            return result
        }
    }

    private func median(_ values: [Double]) -> Double { percentile(values, 50) }
}

/// A store with a long history, written straight into SQLite (minutes of the daemon's work in
/// seconds): each finished job with what the daemon keeps of it (request, event, delivery, three
/// transitions, one delivery attempt).
private struct HistoryStore {
    let directory: String

    /// `finished` jobs: the oldest `old` ended 40 to 25 days ago, the rest 20 days to an hour ago
    /// (so `--older-than 22d` takes exactly `old`, whenever it runs); `delivering` more ended a
    /// minute ago with a webhook still pending (its next attempt a day away).
    func fill(finished: Int, old: Int, delivering: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try SQLiteJobStore(directory: directory)  // the current schema, by its own migrations
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = OFF") }
        let queue = try DatabaseQueue(path: directory + "/videospool.sqlite", configuration: configuration)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let day: Int64 = 86_400_000
        let oldStart = now - 40 * day
        let oldStep = Double(15 * day) / Double(max(old, 1))
        let recentStart = now - 20 * day
        let recentStep = Double(20 * day - 3_600_000) / Double(max(finished - old, 1))
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TEMP TABLE history AS
                    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
                    SELECT i, printf('hist-%07d', i) AS id,
                        CASE WHEN i % 100 < 90 THEN 'completed' WHEN i % 100 < 97 THEN 'failed'
                            WHEN i % 100 < 99 THEN 'rejected' ELSE 'canceled' END AS phase,
                        CASE WHEN i < ? THEN ? + CAST(i * ? AS INTEGER) ELSE ? + CAST((i - ?) * ? AS INTEGER) END AS t,
                        'delivered' AS delivery
                    FROM n;
                    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
                    INSERT INTO history SELECT ? + i, printf('late-%07d', i), 'completed', ? - 60000, 'pending' FROM n;
                    """,
                arguments: [finished, old, oldStart, oldStep, recentStart, old, recentStep, delivering, finished, now]
            )
            try db.execute(
                sql: """
                    INSERT INTO jobs (id, phase, model, callback_urls, accepted_at, source_name, source_sha256,
                        source_disposition, source_settled, resolution, duration_seconds, submit_attempts,
                        submit_allowance, submitted_at, generation_id, upstream_status, polls, finished_at, video_url,
                        credits_used, failure_code, failure_message, outcome_version, outcome_written_version,
                        last_running_at)
                    SELECT id, phase, 'bytedance/dreamina-seedance-2-0-mini', '["http://127.0.0.1:9/webhooks/bench"]',
                        t - 130000, id || '.json', printf('%064x', i), 
                        CASE phase WHEN 'rejected' THEN 'reject' ELSE 'remove' END, 1, '720p', 5,
                        phase != 'rejected', 1, CASE WHEN phase != 'rejected' THEN t - 120000 END,
                        CASE WHEN phase != 'rejected' THEN 'gen-' || id END,
                        CASE phase WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'failed' END, 7, t,
                        CASE phase WHEN 'completed' THEN 'https://cdn.example.com/videos/' || id || '.mp4' END,
                        CASE phase WHEN 'completed' THEN '120000' END,
                        CASE phase WHEN 'failed' THEN 'generation_failed' WHEN 'rejected' THEN 'invalid_request' END,
                        CASE phase WHEN 'failed' THEN 'the generation failed upstream'
                            WHEN 'rejected' THEN 'prompt: required' END,
                        3, CASE delivery WHEN 'pending' THEN 2 ELSE 3 END,
                        CASE phase WHEN 'completed' THEN t - 10000 END
                    FROM history ORDER BY i;
                    INSERT INTO requests (job_id, body)
                    SELECT id, CAST(printf('{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"history %d: a slow pan over a harbour at dawn, gulls, mist","duration":5,"resolution":"720p","callback_url":"http://127.0.0.1:9/webhooks/bench","metadata":{"order":%d}}', i, i) AS BLOB)
                    FROM history WHERE phase != 'rejected' ORDER BY i;
                    INSERT INTO events (id, job_id, type, created_at, body)
                    SELECT 'evt-' || id, id, 'video.generation.' || phase, t,
                        CAST(printf('{"type":"video.generation.%s","timestamp":%d,"data":{"job_id":"%s","generation_id":"gen-%s","video":{"url":"https://cdn.example.com/videos/%s.mp4"},"usage":{"credits_used":120000},"source_file":"%s.json","metadata":{"order":%d}}}', phase, t, id, id, id, id, i) AS BLOB)
                    FROM history ORDER BY i;
                    INSERT INTO deliveries (event_id, idx, job_id, url, state, attempts, next_attempt_at, last_attempt_at,
                        last_status, delivered_at)
                    SELECT 'evt-' || id, 0, id, 'http://127.0.0.1:9/webhooks/bench', delivery,
                        CASE delivery WHEN 'pending' THEN 0 ELSE 1 END,
                        CASE delivery WHEN 'pending' THEN t + 86400000 END,
                        CASE delivery WHEN 'delivered' THEN t + 40 END,
                        CASE delivery WHEN 'delivered' THEN 204 END,
                        CASE delivery WHEN 'delivered' THEN t + 40 END
                    FROM history ORDER BY i;
                    INSERT INTO transitions (job_id, from_phase, to_phase, at, detail)
                    SELECT id, NULL, 'queued', t - 130000, NULL FROM history WHERE phase != 'rejected'
                    UNION ALL SELECT id, 'queued', 'submitting', t - 125000, NULL FROM history WHERE phase != 'rejected'
                    UNION ALL SELECT id, 'submitting', phase, t, NULL FROM history WHERE phase != 'rejected'
                    UNION ALL SELECT id, NULL, 'rejected', t, 'invalid_request' FROM history WHERE phase = 'rejected';
                    INSERT INTO delivery_attempts (event_id, idx, job_id, number, started_at, latency_ms, status, resulting_state)
                    SELECT 'evt-' || id, 0, id, 1, t, 40, 204, 'delivered' FROM history WHERE delivery = 'delivered' ORDER BY i;
                    DROP TABLE history;
                    """
            )
        }
    }
}
