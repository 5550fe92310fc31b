import Logging
import ServiceLifecycle
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

@Suite(.timeLimit(.minutes(1)))
struct HealthReporterTests {
    static let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func readyComesOnlyAfterTheFirstScanOfFilesPresentAtStart() async throws {
        let startup = StartupProgress()
        let notifier = RecordingNotifier()
        let harness = PipelineHarness(startup: startup)
        // Three batches' worth of files waiting before the daemon starts.
        for index in 0..<300 {
            harness.spool.place("pending-\(index).json", bytes: TestRequests.seedance(jobID: "pending-\(index)", callbackURL: nil))
        }
        let reporter = HealthReporter(
            notifier: notifier,
            heartbeats: harness.pipeline.context.heartbeats,
            startup: startup,
            time: SystemTimeSource(),
            configuration: .init(statusInterval: .seconds(60), startupExtension: .seconds(30)),
            logger: Self.silent,
            status: { harness.pipeline.status.description }
        )
        let (beforeReady, incomingAtReady) = try await harness.run(with: [reporter]) { harness in
            var before: [[ServiceManagerMessage]] = []
            for await datagram in notifier.datagrams {
                if datagram.contains(.ready) { return (before, harness.spool.incomingFiles) }
                before.append(datagram)
            }
            return (before, ["stream ended"])
        }
        #expect(incomingAtReady.isEmpty, "every file present at start was read before READY=1")
        let extensions = beforeReady.filter { $0.contains(.extendTimeout(.seconds(30))) }
        #expect(extensions.count >= 3, "the long first scan asked for more time per batch")
        #expect(!beforeReady.joined().contains(.ready))
    }

    @Test func theWatchdogIsFedOnlyWhileEveryLoopMakesProgress() async throws {
        let startup = StartupProgress()
        startup.ready()
        let notifier = RecordingNotifier()
        let heartbeats = Heartbeats(interval: .milliseconds(25))
        let time = SystemTimeSource()
        let ticks = Atomic<Int>(0)
        let reporter = HealthReporter(
            notifier: notifier,
            heartbeats: heartbeats,
            startup: startup,
            time: time,
            configuration: .init(watchdogTimeout: .milliseconds(200), statusInterval: .milliseconds(50)),
            logger: Self.silent,
            // A status that changes every tick, so each tick sends a datagram to look at.
            status: { "tick \(ticks.add(1, ordering: .relaxed).newValue)" }
        )
        let group = ServiceGroup(services: [reporter], logger: Self.silent)
        try await group.run {
            var fed = 0
            var starved = 0
            var wedged = false
            for await datagram in notifier.datagrams where !datagram.contains(.ready) {
                // Every loop but polling keeps beating; polling stops after the watchdog was fed twice.
                for loop in Heartbeats.Loop.allCases where !(wedged && loop == .polling) {
                    heartbeats.beat(loop, at: time.now())
                }
                if datagram.contains(.watchdog) {
                    #expect(starved == 0, "fed again after a loop stopped")
                    fed += 1
                    if fed == 2 { wedged = true }
                } else if wedged {
                    starved += 1
                    if starved == 3 { break }
                }
            }
            #expect(fed >= 2)
            #expect(starved == 3)
        }
    }

    @Test func readyCarriesAStatusAndAnUnchangedStatusIsNotResent() async throws {
        let startup = StartupProgress()
        startup.ready()
        let notifier = RecordingNotifier()
        let heartbeats = Heartbeats(interval: nil)
        for loop in Heartbeats.Loop.allCases { heartbeats.beat(loop, at: SystemTimeSource().now()) }
        let reporter = HealthReporter(
            notifier: notifier,
            heartbeats: heartbeats,
            startup: startup,
            time: SystemTimeSource(),
            configuration: .init(watchdogTimeout: .seconds(3600), statusInterval: .milliseconds(20)),
            logger: Self.silent,
            status: { "0 queued" }
        )
        let group = ServiceGroup(services: [reporter], logger: Self.silent)
        let datagrams = try await group.run { try await notifier.datagrams.collect(4) }
        #expect(datagrams[0] == [.ready, .status("0 queued")])
        #expect(datagrams.dropFirst().allSatisfy { $0 == [.watchdog] }, "\(datagrams)")
    }

    @Test func gracefulShutdownSaysStopping() async throws {
        let startup = StartupProgress()
        startup.ready()
        let notifier = RecordingNotifier()
        let reporter = HealthReporter(
            notifier: notifier,
            heartbeats: Heartbeats(interval: nil),
            startup: startup,
            time: SystemTimeSource(),
            configuration: .init(),
            logger: Self.silent,
            status: { "ok" }
        )
        let group = ServiceGroup(services: [reporter], logger: Self.silent)
        try await group.run { _ = try await notifier.datagrams.collect(1) }
        #expect(notifier.sent.last?.first == .stopping)
    }
}
