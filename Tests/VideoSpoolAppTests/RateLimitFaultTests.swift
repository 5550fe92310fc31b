import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolTesting

/// The real daemon against a simulated API with a concurrency limit of its own (docs/guarantees.md,
/// faults: 429): a burst costs a few 429s, not a storm, and no job.
@Suite(.timeLimit(.minutes(2)))
struct RateLimitFaultTests {
    @Test func aBurstAgainstTheAPIsConcurrencyLimitCompletesEveryJobWithFew429s() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            // Answers take 20 ms, so requests overlap; more than three at once are refused.
            simulator.api.setFaults([
                FaultRule(endpoint: .any, fault: .concurrencyLimit(3)),
                FaultRule(endpoint: .any, fault: .delay(.milliseconds(20))),
            ])
            try await simulator.withRunningServer { port in
                let rig = FaultRig(root: root, simulator: simulator, port: port) { settings in
                    settings.maximumConcurrentRequests = 8
                    settings.maximumInFlightGenerations = 100
                }
                let jobs = 40
                let webhooks = try await rig.run { daemon in
                    for index in 0..<jobs {
                        let id = "burst-\(index)"
                        let request = FaultRig.request(prompt: id, jobID: id, callbacks: [rig.hook("/webhooks/burst")])
                        try FaultRig.drop(request, jobID: id, into: daemon)
                    }
                    return try await withTimeout(.seconds(90), waitingFor: "\(jobs) webhooks") {
                        try await simulator.receiver.subscribe().collect(jobs)
                    }
                }
                #expect(webhooks.count == jobs)
                for index in 0..<jobs {
                    #expect(try rig.outcome("burst-\(index)").directory == "done")
                }
                let refused = simulator.api.statistics.rateLimited
                #expect(refused > 0, "the burst met the limit")
                #expect(refused <= jobs / 2, "\(refused) 429s for \(jobs) jobs")
                #expect(simulator.api.generations.count == jobs, "no job submitted twice")
                #expect(rig.log.entries.contains { $0["event"] == "api.concurrency.reduced" })
            }
        }
    }
}
