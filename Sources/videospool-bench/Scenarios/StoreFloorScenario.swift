import Foundation
import VideoSpoolCore
import VideoSpoolStore

/// What one durable commit to the SQLite job store costs the committing process, with nothing
/// else in it: the floor under the daemon's CPU per job at steady rates, where each job's five or
/// so commits (intake, the submission's intent, the generation id, the completion with its event,
/// the delivery) each go alone.
///
/// The store is opened in this process, in the workspace directory (`TMPDIR`), exactly as the
/// daemon opens it (WAL, `synchronous = FULL`, group commit). Commits go one after another, each
/// changing one job, then the same number eight at a time; CPU is this process's (`getrusage`).
/// The journal thread's share of an `fsync` (jbd2) is not the committer's, as on any server.
struct StoreFloorScenario {
    var commits = 2_000
    var jobs = 400

    func run() async throws -> ScenarioResult {
        let directory = FileManager.default.temporaryDirectory.path + "/videospool-bench-store-floor-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteJobStore(directory: directory)

        let prepared = (0..<jobs).map(Self.job)
        try await store.commit(prepared.map(Self.insert))
        var current = prepared
        // Each commit changes one job as a poll that saw a new status would: a few columns of one row.
        func nextChange(_ index: Int) -> StoreChange {
            let slot = index % current.count
            current[slot].polls += 1
            current[slot].upstreamStatus = "generating-\(current[slot].polls)"
            current[slot].lastRunningAt = Timestamp(millisecondsSinceEpoch: 1_795_598_593_123 + Int64(index))
            return .updateJob(current[slot])
        }

        let serial = (0..<commits).map(nextChange)
        let serialCPU = ownCPUMicroseconds()
        let serialStart = ContinuousClock.now
        for change in serial { try await store.commit([change]) }
        let serialSeconds = (ContinuousClock.now - serialStart).milliseconds / 1000
        let serialPerCommit = (ownCPUMicroseconds() - serialCPU) / Double(commits)

        let concurrent = (0..<commits).map { nextChange(commits + $0) }
        let concurrentCPU = ownCPUMicroseconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    for index in stride(from: lane, to: concurrent.count, by: 8) { try await store.commit([concurrent[index]]) }
                }
            }
            try await group.waitForAll()
        }
        let concurrentPerCommit = (ownCPUMicroseconds() - concurrentCPU) / Double(commits)

        var result = ScenarioResult(
            name: "store-floor",
            summary: "\(commits) commits of one job's poll update to the SQLite job store in this process "
                + "(WAL, synchronous = FULL, as the daemon opens it), one at a time, then eight at a time"
        )
        result.add("CPU per commit, one at a time", serialPerCommit, "µs")
        result.add("commits/s, one at a time", Double(commits) / serialSeconds, "/s")
        result.add("CPU per commit, eight at a time (grouped)", concurrentPerCommit, "µs")
        result.notes.append(
            "a job at a steady rate makes about five commits alone: "
                + String(format: "%.2f", 5 * serialPerCommit / 1000)
                + " ms of CPU per job at the one-at-a-time cost, before any HTTP, file or scheduling work"
        )
        return result
    }

    private static func job(_ index: Int) -> Job {
        var job = Job(
            id: JobID(trusted: String(format: "floor-%05d", index)),
            phase: .generating,
            model: "bytedance/dreamina-seedance-2-0-mini",
            callbackURLs: ["https://hooks.example.com/video"],
            metadata: nil,
            acceptedAt: Timestamp(millisecondsSinceEpoch: 1_795_598_593_123),
            sourceName: String(format: "floor-%05d.json", index),
            parameters: GenerationParameters(resolution: "720p", durationSeconds: 5)
        )
        job.submitAttempts = 1
        job.generationID = "gen-\(index)"
        return job
    }

    private static func insert(_ job: Job) -> StoreChange {
        .insertJob(
            job,
            requestBody: Array(#"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"floor","duration":5}"#.utf8),
            source: SourceFile(name: job.sourceName, sha256: String(repeating: "ab", count: 32), disposition: .remove)
        )
    }
}
