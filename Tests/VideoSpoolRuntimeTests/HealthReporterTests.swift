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

    /// READY=1 waits for the first scan to list the spool (the watch is already on), not for the
    /// backlog to be read: here no file can be committed until after READY, and every one of them
    /// is read afterwards. Waiting for the backlog made start-up grow with it (4 s for 10,000 files).
    @Test func readyComesOnceTheFirstScanHasListedTheSpoolAndTheBacklogIsReadAfterIt() async throws {
        let startup = StartupProgress()
        let notifier = RecordingNotifier()
        let harness = PipelineHarness(startup: startup)
        // Three batches' worth of files waiting before the daemon starts, and a store that cannot
        // take a commit yet (a full disk), so none of them can have been read by READY.
        for index in 0..<300 {
            harness.spool.place("pending-\(index).json", bytes: TestRequests.seedance(jobID: "pending-\(index)", callbackURL: nil))
        }
        harness.store.setAvailability(.unavailable(reason: "disk full", since: Timestamp(millisecondsSinceEpoch: 0)))
        let reporter = HealthReporter(
            notifier: notifier,
            heartbeats: harness.pipeline.context.heartbeats,
            startup: startup,
            time: SystemTimeSource(),
            configuration: .init(statusInterval: .seconds(60)),
            logger: Self.silent,
            status: { harness.pipeline.status.description }
        )
        let (beforeReady, incomingAtReady) = try await harness.run(with: [reporter]) { harness in
            var before: [[ServiceManagerMessage]] = []
            var result: ([[ServiceManagerMessage]], [String]) = ([], ["stream ended"])
            for await datagram in notifier.datagrams {
                if datagram.contains(.ready) {
                    result = (before, harness.spool.incomingFiles)
                    break
                }
                before.append(datagram)
            }
            // The status line shows the backlog while it is read, and no more once it is.
            #expect(harness.pipeline.status.description.hasPrefix("300 files to read, 0 queued"))
            harness.store.setAvailability(.available)
            try await eventually("every waiting file is read after READY") {
                harness.spool.incomingFiles.isEmpty && harness.store.allJobs.count == 300
                    && harness.pipeline.status.unread == 0
            }
            #expect(!harness.pipeline.status.description.contains("to read"))
            return result
        }
        #expect(incomingAtReady.count == 300, "READY=1 did not wait for the backlog")
        #expect(!beforeReady.joined().contains(.ready))
        #expect(startup.isReady)
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

    // MARK: - Waiting for the store

    /// A loop held in a store call until the test lets it go.
    private final class StoreCall: Sendable {
        private let release: AsyncStream<Void>.Continuation
        private let releases: AsyncStream<Void>
        private let entry: AsyncStream<Void>.Continuation
        /// Yields once the loop is inside the call.
        let entered: AsyncStream<Void>
        private let inside = Atomic<Bool>(false)

        init() {
            (releases, release) = AsyncStream.makeStream(of: Void.self)
            (entered, entry) = AsyncStream.makeStream(of: Void.self)
        }

        var isInside: Bool { inside.load(ordering: .acquiring) }

        func run(_ loop: Heartbeats.Loop, on heartbeats: Heartbeats, time: any TimeSource = SystemTimeSource()) async {
            await heartbeats.waitingForStore(loop, time: time) {
                inside.store(true, ordering: .releasing)
                entry.yield()
                for await _ in releases {}
            }
        }

        func finish() {
            release.finish()
        }
    }

    @Test func aLoopWaitingInAStoreCallIsAliveOnlyWhileTheStoreSaysItIsUnavailable() async throws {
        let heartbeats = Heartbeats(interval: nil)
        // Manual time: a loaded test run must not age the beat taken when the call ends.
        let time = ManualTime()
        let now = time.now()
        for loop in Heartbeats.Loop.allCases where loop != .intake { heartbeats.beat(loop, at: now) }
        let call = StoreCall()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await call.run(.intake, on: heartbeats, time: time) }
            defer { call.finish() }
            _ = try await call.entered.collect(1)
            // The intake has never beaten: stale, unless it waits for an unavailable store.
            #expect(heartbeats.stale(now: now, maximumAge: .seconds(1), storeUnavailable: true) == [])
            #expect(heartbeats.stale(now: now, maximumAge: .seconds(1), storeUnavailable: false) == [.intake])
            // Loops not in a store call get no such excuse.
            let later = now + .seconds(5)
            #expect(
                heartbeats.stale(now: later, maximumAge: .seconds(1), storeUnavailable: true)
                    == [.submission, .polling, .delivery, .outcomes]
            )
            time.advance(.seconds(10))
        }
        // Out of the store call, the loop has beaten when the call ended: it is moving again.
        let end = now + .seconds(10)
        #expect(heartbeats.stale(now: end, maximumAge: .seconds(1), among: [.intake]) == [])
        #expect(heartbeats.stale(now: end + .seconds(2), maximumAge: .seconds(1), among: [.intake]) == [.intake])
    }

    /// A full disk: the intake waits in a commit for as long as it lasts, and the watchdog is fed
    /// all along; a loop wedged elsewhere meanwhile still stops the pings.
    @Test func theWatchdogIsFedThroughAStoreOutageButNotThroughAWedgedLoop() async throws {
        let startup = StartupProgress()
        startup.ready()
        let notifier = RecordingNotifier()
        let heartbeats = Heartbeats(interval: .milliseconds(25))
        let time = SystemTimeSource()
        let ticks = Atomic<Int>(0)
        let call = StoreCall()
        let reporter = HealthReporter(
            notifier: notifier,
            heartbeats: heartbeats,
            startup: startup,
            time: time,
            configuration: .init(watchdogTimeout: .milliseconds(200), statusInterval: .milliseconds(50)),
            logger: Self.silent,
            storeAvailability: { .unavailable(reason: "disk full", since: Timestamp(millisecondsSinceEpoch: 0)) },
            status: { "tick \(ticks.add(1, ordering: .relaxed).newValue)" }
        )
        let group = ServiceGroup(services: [reporter], logger: Self.silent)
        try await group.run {
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await call.run(.intake, on: heartbeats) }
                defer { call.finish() }
                var fedWhileWaiting = 0
                var unfedInARow = 0
                var starved = 0
                var wedged = false
                var outageStart: Timestamp?
                for await datagram in notifier.datagrams where !datagram.contains(.ready) {
                    // Every loop beats but the intake once it is in its commit (stale after 100 ms),
                    // and polling once the watchdog has been fed ten times during the outage.
                    let inside = call.isInside
                    for loop in Heartbeats.Loop.allCases where !(inside && loop == .intake) && !(wedged && loop == .polling) {
                        heartbeats.beat(loop, at: time.now())
                    }
                    guard inside else { continue }
                    let start = outageStart ?? time.now()
                    outageStart = start
                    if datagram.contains(.watchdog) {
                        #expect(starved == 0, "fed again after a loop stopped")
                        fedWhileWaiting += 1
                        unfedInARow = 0
                        if fedWhileWaiting == 10 {
                            #expect(time.now() - start > .milliseconds(100), "the intake was stale by then")
                            wedged = true
                        }
                    } else if wedged {
                        starved += 1
                        if starved == 3 { break }
                    } else {
                        // A late tick on a loaded machine may miss (the test's beats are late too);
                        // forty in a row, two seconds at least, is no hiccup.
                        unfedInARow += 1
                        if unfedInARow == 40 {
                            Issue.record("not fed while the intake waited for an unavailable store")
                            break
                        }
                    }
                }
                #expect(fedWhileWaiting >= 10, "fed all through the outage")
                #expect(starved == 3)
            }
        }
    }

    @Test func aLoopStuckInAStoreCallWhileTheStoreIsAvailableStopsThePings() async throws {
        let startup = StartupProgress()
        startup.ready()
        let notifier = RecordingNotifier()
        let heartbeats = Heartbeats(interval: .milliseconds(25))
        let time = SystemTimeSource()
        let ticks = Atomic<Int>(0)
        let call = StoreCall()
        let reporter = HealthReporter(
            notifier: notifier,
            heartbeats: heartbeats,
            startup: startup,
            time: time,
            configuration: .init(watchdogTimeout: .milliseconds(200), statusInterval: .milliseconds(50)),
            logger: Self.silent,
            storeAvailability: { .available },
            status: { "tick \(ticks.add(1, ordering: .relaxed).newValue)" }
        )
        let group = ServiceGroup(services: [reporter], logger: Self.silent)
        try await group.run {
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await call.run(.intake, on: heartbeats) }
                defer { call.finish() }
                var fed = 0
                var starved = 0
                for await datagram in notifier.datagrams where !datagram.contains(.ready) {
                    let inside = call.isInside
                    for loop in Heartbeats.Loop.allCases where !(inside && loop == .intake) {
                        heartbeats.beat(loop, at: time.now())
                    }
                    guard inside else { continue }
                    if datagram.contains(.watchdog) {
                        // At most the ticks while the intake's last beat was still fresh.
                        fed += 1
                        #expect(fed <= 3, "a store call is no excuse while the store is available")
                        if fed > 3 { break }
                    } else {
                        starved += 1
                        if starved == 3 { break }
                    }
                }
                #expect(starved == 3)
            }
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
