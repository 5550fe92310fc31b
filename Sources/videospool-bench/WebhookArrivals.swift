import Foundation
import Synchronization
import VideoSpoolCore
import VideoSpoolSimulator

/// When each job's first webhook arrived at the receiver.
struct WebhookArrivals {
    var byJob: [Int: ContinuousClock.Instant] = [:]
    var last: ContinuousClock.Instant

    /// Waits for webhooks of `expected` distinct jobs. Gives up, with the daemon's last log lines,
    /// if nothing arrives for `stallLimit` (a broken daemon must not hang the benchmark).
    static func collect(
        _ expected: Int,
        from stream: AsyncStream<WebhookReceiver.Received>,
        daemon: DaemonUnderTest,
        workspace: BenchWorkspace,
        stallLimit: Duration = .seconds(60)
    ) async throws -> WebhookArrivals {
        let progress = Progress()
        return try await withThrowingTaskGroup(of: WebhookArrivals?.self) { group in
            group.addTask {
                var arrivals = WebhookArrivals(last: .now)
                for await item in stream {
                    guard let jobID = item.json?["data"]?["job_id"]?.stringValue,
                        let index = BenchWorkspace.index(of: jobID), arrivals.byJob[index] == nil
                    else { continue }
                    arrivals.byJob[index] = item.receivedAt
                    arrivals.last = max(arrivals.last, item.receivedAt)
                    progress.state.withLock { $0 = (arrivals.byJob.count, .now) }
                    if arrivals.byJob.count >= expected { return arrivals }
                }
                return arrivals
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(1))
                    let (count, at) = progress.state.withLock { $0 }
                    if ContinuousClock.now - at > stallLimit || !daemon.process.isRunning {
                        let log = (try? String(contentsOfFile: workspace.root + "/daemon.log", encoding: .utf8)) ?? ""
                        throw BenchError(
                            "stalled at \(count) of \(expected) webhooks (daemon running: \(daemon.process.isRunning)); "
                                + "daemon log tail:\n\(log.suffix(3000))"
                        )
                    }
                }
            }
            let first = try await group.next()!
            group.cancelAll()
            return first!
        }
    }
}

private final class Progress: Sendable {
    let state = Mutex((count: 0, at: ContinuousClock.now))
}

/// What the simulated API saw, by job index.
struct SimulatorTimeline {
    let submittedAt: [Int: ContinuousClock.Instant]
    let generationIDs: [Int: String]
    let api: SimulatedAPI

    init(_ simulator: Simulator) {
        var submittedAt: [Int: ContinuousClock.Instant] = [:]
        var generationIDs: [Int: String] = [:]
        for generation in simulator.api.generations {
            guard let index = BenchWorkspace.index(of: generation.prompt) else { continue }
            submittedAt[index] = generation.submittedAt
            generationIDs[index] = generation.id
        }
        self.submittedAt = submittedAt
        self.generationIDs = generationIDs
        self.api = simulator.api
    }

    func completionSeen(_ index: Int) -> ContinuousClock.Instant? {
        generationIDs[index].flatMap { api.completionSeen($0) }
    }
}
