import Foundation
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolStore
import VideoSpoolSupport
import VideoSpoolTesting

/// The daemon under resource pressure: many queued jobs, a full disk, a read-only state directory.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct ResourceLimitTests {
    static var isRoot: Bool { getuid() == 0 }

    /// Resident memory of a process in MiB, from /proc.
    static func residentMiB(_ pid: Int32) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Double(line.split(separator: " ").dropFirst().first ?? ""))
        return kilobytes / 1024
    }

    static func openFiles(_ pid: Int32) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }

    @Test func tenThousandQueuedJobsStayWithinBoundedMemoryAndFiles() async throws {
        try await withTemporaryDirectory { root in
            // The simulator refuses the daemon's key, so every job stays queued.
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100), key: "not-the-daemons-key")
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                // Ten thousand debug lines per job would only measure the logger.
                try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "level: debug", with: "level: info")
                    .write(toFile: config, atomically: true, encoding: .utf8)
                let notify = try NotifySocket(path: root + "/notify")
                defer { notify.close() }
                let daemon = try DaemonProcess(
                    arguments: ["run", "--config", config],
                    logPath: root + "/daemon.log",
                    environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"]
                )
                let count = 10_000
                let incoming = root + "/spool/incoming"
                try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
                for index in 0..<count {
                    let body = #"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"queued \#(index)","job_id":"q\#(index)"}"#
                    try body.write(toFile: "\(incoming)/.q\(index).tmp", atomically: false, encoding: .utf8)
                    rename("\(incoming)/.q\(index).tmp", "\(incoming)/q\(index).json")
                }
                let datagrams = notify.datagrams
                let pid = daemon.pid
                let peakFiles = try await withTimeout(.seconds(180), waitingFor: "STATUS=\(count) queued") {
                    var peakFiles = 0
                    for await datagram in datagrams {
                        peakFiles = max(peakFiles, try Self.openFiles(pid))
                        if datagram.contains("STATUS=\(count) queued") { return peakFiles }
                    }
                    throw EndedEarly("the notify socket closed before STATUS=\(count) queued")
                }
                let rss = try Self.residentMiB(daemon.pid)
                let files = try Self.openFiles(daemon.pid)
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)
                print("resource limits: \(count) queued jobs → RSS \(Int(rss)) MiB, \(files) open files (peak \(peakFiles))")
                #expect(rss < 128, "resident memory \(rss) MiB with \(count) queued jobs")
                #expect(peakFiles < 200, "open files \(peakFiles)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: incoming).isEmpty)
            }
        }
    }

    /// A small tmpfs for the state directory, so a test can fill it or make it read-only.
    static func withSmallFileSystem(_ path: String, megabytes: Int, _ body: () async throws -> Void) async throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try run("/bin/mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path)
        defer { _ = try? run("/bin/umount", "-l", path) }
        try await body()
    }

    @discardableResult
    static func run(_ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw CocoaError(.executableLoad) }
        return process.terminationStatus
    }

    @Test(.enabled(if: isRoot, "mounting a small file system needs root"))
    func aFullDiskStallsWorkWithAClearErrorAndItResumesWhenSpaceReturns() async throws {
        try await withTemporaryDirectory { root in
            try await Self.withSmallFileSystem(root + "/state", megabytes: 4) {
                let simulator = EndToEndTests.simulator(generation: .milliseconds(50))
                try await simulator.withRunningServer { port in
                    let config = try EndToEndTests.configure(root: root, port: port)
                    let hook = "http://127.0.0.1:\(port)/webhooks/disk"
                    let daemon = try EndToEndTests.start(config: config, root: root, run: 0)
                    try EndToEndTests.drop(EndToEndTests.request(tag: "before-full", hook: hook), as: "a.json", root: root)
                    _ = try await simulator.receiver.subscribe().collect(1)
                    // Fill the state file system to the last byte.
                    let filler = root + "/state/filler"
                    _ = FileManager.default.createFile(atPath: filler, contents: nil)  // opening it below fails if this did
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
                    let block = Data(count: 64 * 1024)
                    while (try? handle.write(contentsOf: block)) != nil {}
                    try? handle.close()
                    for index in 0..<3 {
                        try EndToEndTests.drop(EndToEndTests.request(tag: "while-full-\(index)", hook: hook), as: "full-\(index).json", root: root)
                    }
                    try await daemon.line { $0.contains("The job store cannot be written") }
                    #expect(simulator.api.statistics.acceptedSubmissions == 1, "nothing is submitted without a durable record")
                    try FileManager.default.removeItem(atPath: filler)
                    let received = try await simulator.receiver.subscribe().collect(4)
                    daemon.signal(SIGTERM)
                    #expect(await daemon.waitForExit() == 0, "it kept running: \(daemon.log.suffix(2000))")
                    #expect(Set(received.compactMap { $0.json?["data"]?["job_id"]?.stringValue }).count == 4)
                    #expect(daemon.log.contains("The job store is writable again"))
                    let store = try SQLiteJobStore(directory: root + "/state", readOnly: true)
                    #expect(try await store.integrityProblems().isEmpty)
                }
            }
        }
    }

    /// A notify datagram and when the test received it.
    struct NotifyDatagram: Sendable {
        let text: String
        let at: ContinuousClock.Instant

        var isWatchdog: Bool { text.split(separator: "\n").contains("WATCHDOG=1") }
        var status: String? {
            text.split(separator: "\n").first { $0.hasPrefix("STATUS=") }.map { String($0.dropFirst("STATUS=".count)) }
        }
    }

    /// The issue's full disk under the watchdog: with the state directory full for more than three
    /// watchdog periods, `WATCHDOG=1` keeps coming at its usual pace (a daemon that waits for the
    /// store on purpose is alive), and `STATUS=` says why nothing moves.
    @Test(.enabled(if: isRoot, "mounting a small file system needs root"))
    func aFullDiskKeepsTheWatchdogFedAndTheStatusSaysTheStoreIsUnavailable() async throws {
        try await withTemporaryDirectory { root in
            try await Self.withSmallFileSystem(root + "/state", megabytes: 4) {
                let simulator = EndToEndTests.simulator(generation: .milliseconds(50))
                try await simulator.withRunningServer { port in
                    let config = try EndToEndTests.configure(root: root, port: port)
                    let hook = "http://127.0.0.1:\(port)/webhooks/watchdog"
                    let notify = try NotifySocket(path: root + "/notify")
                    defer { notify.close() }
                    let watchdog = Duration.seconds(2)
                    let daemon = try DaemonProcess(
                        arguments: ["run", "--config", config],
                        logPath: root + "/daemon.log",
                        environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"]
                    )
                    // Every datagram, stamped as it arrives, for the test to await and measure.
                    let notifications = ReplayingBroadcast<NotifyDatagram>()
                    let reader = Task {
                        for await text in notify.datagrams { notifications.append(NotifyDatagram(text: text, at: .now)) }
                    }
                    defer { reader.cancel() }
                    _ = try await withTimeout(.seconds(30), waitingFor: "READY=1") {
                        try await notifications.subscribe().collect(1) { $0.text.contains("READY=1") }
                    }
                    try EndToEndTests.drop(EndToEndTests.request(tag: "before-full", hook: hook), as: "a.json", root: root)
                    _ = try await withTimeout(.seconds(30), waitingFor: "the first webhook") { try await simulator.receiver.subscribe().collect(1) }

                    // Fill the state file system to the last byte; requests keep arriving.
                    let filler = root + "/state/filler"
                    _ = FileManager.default.createFile(atPath: filler, contents: nil)
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
                    let block = Data(count: 64 * 1024)
                    while (try? handle.write(contentsOf: block)) != nil {}
                    try? handle.close()
                    for index in 0..<3 {
                        try EndToEndTests.drop(EndToEndTests.request(tag: "while-full-\(index)", hook: hook), as: "full-\(index).json", root: root)
                    }
                    let unavailable = try await withTimeout(.seconds(30), waitingFor: "STATUS= saying the store is unavailable") {
                        try #require(
                            try await notifications.subscribe().collect(1) {
                                $0.status?.contains("store unavailable: disk full") == true
                            }.first
                        )
                    }
                    // Hold the disk full for more than three watchdog periods, as long as pings come.
                    let hold = watchdog * 7 / 2
                    _ = try await withTimeout(.seconds(60), waitingFor: "WATCHDOG=1 \(hold) into the outage") {
                        try await notifications.subscribe().collect(1) { $0.isWatchdog && $0.at - unavailable.at >= hold }
                    }
                    #expect(!daemon.log.contains("The job store is writable again"), "the store stayed unavailable all along")
                    let held = notifications.history
                    try FileManager.default.removeItem(atPath: filler)

                    // The pings during the outage, and the last one before it.
                    let pings = held.filter(\.isWatchdog)
                    let firstDuring = try #require(pings.firstIndex { $0.at >= unavailable.at })
                    let measured = pings[max(firstDuring - 1, 0)...]
                    let gaps = zip(measured.dropFirst(), measured).map { ($0.at - $1.at).secondsDouble }
                    let longest = gaps.max() ?? .infinity
                    let statuses = held.filter { $0.at >= unavailable.at }.compactMap(\.status)
                    print(
                        "full disk under the watchdog: \(measured.count) WATCHDOG=1 over "
                            + "\(((measured.last?.at ?? unavailable.at) - unavailable.at).secondsDouble) s of outage, "
                            + "longest gap \(longest) s (WATCHDOG_USEC=2 s); STATUS=\(unavailable.status ?? "")"
                    )
                    #expect(measured.count >= 4, "pinged all through the outage")
                    #expect(longest < watchdog.secondsDouble, "a gap of \(longest) s would have let systemd abort the daemon")
                    #expect(statuses.allSatisfy { $0.contains("store unavailable: disk full") }, "\(statuses)")
                    let shape = #/^\d+ queued, \d+ generating, \d+ delivering, \d+ done, \d+ failed, \d+ rejected; store unavailable: disk full$/#
                    #expect(
                        unavailable.status?.wholeMatch(of: shape) != nil,
                        "the counts, then the condition: \(unavailable.status ?? "")"
                    )

                    // Space returns: the status says so and every request is served.
                    _ = try await withTimeout(.seconds(60), waitingFor: "STATUS= without the condition") {
                        try await notifications.subscribe().collect(1) {
                            $0.at > unavailable.at && $0.status.map { !$0.contains("store unavailable") } == true
                        }
                    }
                    let received = try await withTimeout(.seconds(60), waitingFor: "every webhook") { try await simulator.receiver.subscribe().collect(4) }
                    daemon.signal(SIGTERM)
                    #expect(await daemon.waitForExit() == 0, "it kept running: \(daemon.log.suffix(2000))")
                    #expect(Set(received.compactMap { $0.json?["data"]?["job_id"]?.stringValue }).count == 4)
                }
            }
        }
    }

    /// Whether this machine can loop-mount an ext4 image (root, loop devices, mkfs.ext4).
    static var canLoopMount: Bool {
        isRoot && FileManager.default.fileExists(atPath: "/dev/loop-control")
            && FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.ext4")
    }

    static func output(_ arguments: String...) throws -> String {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw CocoaError(.executableLoad) }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The real way a state directory turns read-only under a running daemon: the kernel remounts an
    /// ext4 file system read-only after an error (errors=remount-ro). A plain `mount -o remount,ro`
    /// is refused while the daemon holds the database open for writing, so the test triggers the
    /// error through ext4's sysfs knob. Recovery needs an unmount, so it is checked across a restart.
    @Test(.enabled(if: canLoopMount, "loop-mounting an ext4 image needs root and loop devices"))
    func aStateDirectoryTurnedReadOnlyStallsWorkAndLosesNothing() async throws {
        try await withTemporaryDirectory { root in
            let image = root + "/state.img"
            let state = root + "/state"
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: image, contents: nil)  // opening it below fails if this did
            try FileHandle(forWritingTo: URL(fileURLWithPath: image)).truncate(atOffset: 32 << 20)
            try Self.run("/sbin/mkfs.ext4", "-q", image)
            let device = try Self.output("/sbin/losetup", "-f", "--show", image)
            defer { _ = try? Self.run("/sbin/losetup", "-d", device) }
            let secondDevice = Mutex<String?>(nil)
            defer { if let second = secondDevice.withLock({ $0 }) { _ = try? Self.run("/sbin/losetup", "-d", second) } }
            try Self.run("/bin/mount", "-o", "errors=remount-ro", device, state)
            defer { _ = try? Self.run("/bin/umount", "-l", state) }  // fails harmlessly if already unmounted

            let simulator = EndToEndTests.simulator(generation: .milliseconds(50))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/ro"
                var daemon = try EndToEndTests.start(config: config, root: root, run: 0)
                try EndToEndTests.drop(EndToEndTests.request(tag: "before-ro", hook: hook), as: "a.json", root: root)
                _ = try await simulator.receiver.subscribe().collect(1)

                let trigger = "/sys/fs/ext4/\((device as NSString).lastPathComponent)/trigger_fs_error"
                try "1".write(toFile: trigger, atomically: false, encoding: .utf8)
                try EndToEndTests.drop(EndToEndTests.request(tag: "while-ro", hook: hook), as: "b.json", root: root)
                try await daemon.line { $0.contains("The job store cannot be written") }
                #expect(simulator.api.statistics.acceptedSubmissions == 1, "nothing is submitted without a durable record")
                #expect(FileManager.default.fileExists(atPath: root + "/spool/incoming/b.json"), "the request stays in incoming/")
                // Work waiting on the store holds the stop until the shutdown grace period (about 35 s)
                // runs out; the exit status then depends on which service was still waiting, so only
                // the stop itself is checked. What matters is what the restart finds.
                daemon.signal(SIGTERM)
                _ = await daemon.waitForExit()

                // The operator's repair: unmount, check, mount again, start the daemon.
                try Self.run("/bin/umount", state)
                _ = try? Self.run("/sbin/e2fsck", "-fy", device)
                try Self.run("/bin/mount", device, state)
                let probe = state + "/.writable"
                if FileManager.default.createFile(atPath: probe, contents: nil) {
                    try FileManager.default.removeItem(atPath: probe)
                } else {
                    // A mount namespace made while the file system was mounted (`ip netns exec`, as
                    // the failover test does) still holds the read-only instance, and mount handed it
                    // back. A second loop device on the image gets an instance of its own.
                    try Self.run("/bin/umount", state)
                    let second = try Self.output("/sbin/losetup", "-f", "--show", image)
                    secondDevice.withLock { $0 = second }
                    _ = try? Self.run("/sbin/e2fsck", "-fy", second)
                    try Self.run("/bin/mount", second, state)
                }
                daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                let restarted = daemon
                let all: [WebhookReceiver.Received]
                do {
                    all = try await simulator.receiver.subscribe().collect(2)
                } catch {
                    throw EndedEarly("\(error); the restarted daemon's log ends:\n\(restarted.logTail)")
                }
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)
                #expect(all.last?.json?["data"]?["job_id"] == .string("while-ro"))
                let store = try SQLiteJobStore(directory: state, readOnly: true)
                #expect(try await store.integrityProblems().isEmpty)
            }
        }
    }
}
