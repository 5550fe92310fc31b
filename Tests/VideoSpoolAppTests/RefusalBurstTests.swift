import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolTesting

/// The burst against the real daemon: `api.max_concurrent_requests: 8`,
/// `api.pause_seconds: 2`, and an API that refuses the key for 5 s. Submissions (and polls) resume
/// within about `api.pause_seconds` after the API accepts the key again, instead of 61 s to 10 min.
///
/// With the pause doubling once per refused probe only, the daemon pauses about 2 s, probes (refused,
/// the window is 5 s), pauses about 4 s and probes again at about 6 s, accepted: about 1 s after the
/// window closed, at most 1.6 s with the ±10 % jitter. The bound asserted is `api.pause_seconds` + 2 s
/// for a loaded machine; the old doubling per answer made the second pause 2 s × 2⁸, capped at 10 min.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RefusalBurstTests {
    static let pauseSeconds = 2.0
    static let window = Duration.seconds(5)
    static let allowedResumeDelay = pauseSeconds + 2

    static func rig(root: String, simulator: Simulator, port: Int) -> FaultRig {
        FaultRig(root: root, simulator: simulator, port: port) { settings in
            settings.maximumConcurrentRequests = 8
            settings.pauseSeconds = pauseSeconds
            settings.pollFirstDelaySeconds = 0.2
            settings.pollIntervalSeconds = 0.2
        }
    }

    static func isRefusal(_ event: SimulatedAPI.Event, on endpoint: FaultRule.Endpoint) -> Bool {
        event == .answered(endpoint: endpoint, statusCode: 401)
    }

    /// What the timeline of the simulator's events says about one burst on `endpoint`.
    struct Burst {
        /// Seconds from the end of the refusal window to the first request the API accepted.
        let resumeDelay: Double
        /// Refusals at the start of the burst: the requests in flight when the key was refused.
        let refusedAtOnce: Int
        /// Refusals after the first second of the burst: refused probes.
        let refusedLater: Int

        init(
            _ timeline: [StampedRecording<SimulatedAPI.Event>.Stamped],
            endpoint: FaultRule.Endpoint,
            success: (SimulatedAPI.Event) -> Bool
        ) throws {
            let first = try #require(timeline.firstIndex { RefusalBurstTests.isRefusal($0.element, on: endpoint) })
            let last = try #require(timeline.lastIndex { RefusalBurstTests.isRefusal($0.element, on: endpoint) })
            let start = timeline[first].at
            // After the last refusal (a request answered late from before the burst does not count).
            let resumed = try #require(timeline[last...].first { success($0.element) })
            resumeDelay = (resumed.at - (start + RefusalBurstTests.window)).secondsDouble
            let refusals = timeline[first...].filter { RefusalBurstTests.isRefusal($0.element, on: endpoint) }
            refusedAtOnce = refusals.filter { $0.at - start < .seconds(1) }.count
            refusedLater = refusals.count - refusedAtOnce
        }
    }

    @Test func submissionsResumeWithinPauseSecondsOfTheAPIAcceptingTheKeyAgain() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            simulator.api.setFaults([FaultRule(endpoint: .submit, fault: .status(401), window: Self.window)])
            try await simulator.withRunningServer { port in
                let rig = Self.rig(root: root, simulator: simulator, port: port)
                let count = 20
                // Waiting before the start, so that the first scan queues all of them at once and
                // eight POSTs are on the wire when the first refusal comes back.
                let incoming = root + "/spool/incoming"
                try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
                for index in 0..<count {
                    let request = FaultRig.request(prompt: "burst \(index)", jobID: "burst-\(index)", callbacks: [rig.hook("/webhooks/burst")])
                    try DaemonIntegrationTests.drop(request, as: "burst-\(index).json", into: incoming)
                }
                let events = StampedRecording(simulator.api.subscribe())
                try await rig.run { _ in
                    _ = try await withTimeout(.seconds(60), waitingFor: "\(count) webhooks after the burst") {
                        try await simulator.receiver.subscribe().collect(count)
                    }
                    _ = try await withTimeout(.seconds(10), waitingFor: "the resumption in the log") {
                        try await rig.log.subscribe().collect(1) { $0.message == "Submissions resumed" }
                    }
                }
                let burst = try Burst(await events.finish(), endpoint: .submit) {
                    if case .accepted = $0 { return true }
                    return false
                }
                print(
                    "refusal burst: submissions resumed \(burst.resumeDelay) s after the API accepted the key again "
                        + "(\(burst.refusedAtOnce) refused at once, \(burst.refusedLater) refused probe(s))"
                )
                #expect(burst.refusedAtOnce >= 8, "the requests in flight when the key was refused")
                #expect(burst.resumeDelay >= 0, "nothing was accepted inside the window")
                #expect(burst.resumeDelay <= Self.allowedResumeDelay, "resumed \(burst.resumeDelay) s after the window")
                #expect(burst.refusedLater == 1, "one probe per pause: the one at about 2 s was refused, the next accepted")
                #expect(rig.log.entries.filter { $0.message == "Submissions paused" }.count == 1, "one pause per episode")
                #expect(rig.log.entries.filter { $0.message == "Submissions still paused" }.count == 1)
                #expect(simulator.api.generations.count == count, "each job submitted once")
                for index in 0..<count {
                    #expect(try rig.outcome("burst-\(index)").directory == "done")
                }
            }
        }
    }

    @Test func pollsResumeWithinPauseSecondsOfTheAPIAcceptingTheKeyAgain() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            // A real API's answer time, so that polls overlap: several are on the wire when the key
            // is refused.
            simulator.api.updateConfiguration { $0.latency = .milliseconds(100) }
            try await simulator.withRunningServer { port in
                let rig = Self.rig(root: root, simulator: simulator, port: port)
                let count = 20
                // Generations that never finish, polled every 0.2 s for as long as the test runs;
                // waiting before the start, so that they are submitted, and polled, together.
                let incoming = root + "/spool/incoming"
                try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
                for index in 0..<count {
                    let request = FaultRig.request(prompt: "polled \(index) [sim:never]", jobID: "polled-\(index)", callbacks: [rig.hook("/webhooks/polled")])
                    try DaemonIntegrationTests.drop(request, as: "polled-\(index).json", into: incoming)
                }
                let events = StampedRecording(simulator.api.subscribe())
                try await rig.run { daemon in
                    _ = try await withTimeout(.seconds(30), waitingFor: "\(count) submissions") {
                        try await simulator.api.subscribe().collect(count) {
                            if case .accepted = $0 { return true }
                            return false
                        }
                    }
                    // Before their first polls (0.2 s after submission), which then meet the refusal
                    // together.
                    simulator.api.setFaults([FaultRule(endpoint: .poll, fault: .status(401), window: Self.window)])
                    _ = try await withTimeout(.seconds(60), waitingFor: "polls to resume after the burst") {
                        try await rig.log.subscribe().collect(1) { $0.message == "Polling resumed" }
                    }
                    #expect(daemon.pipeline.status.failed == 0)
                    #expect(daemon.pipeline.status.generating == count)
                }
                let burst = try Burst(await events.finish(), endpoint: .poll) {
                    if case .polled = $0 { return true }
                    return false
                }
                print(
                    "refusal burst: polls resumed \(burst.resumeDelay) s after the API accepted the key again "
                        + "(\(burst.refusedAtOnce) refused at once, \(burst.refusedLater) refused probe(s))"
                )
                #expect(burst.refusedAtOnce >= 4, "polls in flight when the key was refused")
                #expect(burst.resumeDelay >= 0, "nothing was polled inside the window")
                #expect(burst.resumeDelay <= Self.allowedResumeDelay, "resumed \(burst.resumeDelay) s after the window")
                #expect(burst.refusedLater == 1, "one probe per pause: the one at about 2 s was refused, the next accepted")
                #expect(rig.log.entries.filter { $0.message == "Polling paused" }.count == 1, "one pause per episode")
                #expect(rig.log.entries.filter { $0.message == "Polling still paused" }.count == 1)
                #expect(simulator.api.statistics.submissions == count, "nothing submitted twice")
            }
        }
    }
}
