#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolTesting

/// Stops of the built binary (issue 10, item 7): an idle control connection does not hold one up,
/// and the graceful-shutdown limit in force is the one the configuration says now, reloads included.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ShutdownTests {
    /// Opens a connection to the control socket and sends nothing.
    static func connectIdle(to path: String) throws -> Int32? {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    @Test func anIdleControlConnectionDoesNotHoldUpAStop() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let grace = try await SettingsLoader.loadSettings(path: config).gracefulShutdownLimit
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try await daemon.line { $0.contains("videospool started") }
                var idle: Int32?
                try await eventually(timeout: .seconds(30), "the control socket to accept a connection") {
                    idle = try Self.connectIdle(to: root + "/state/control.sock")
                    return idle != nil
                }
                defer { idle.map { _ = close($0) } }

                let clock = ContinuousClock()
                let stopped = clock.now
                daemon.signal(SIGTERM)
                let status = try await withTimeout(grace * 2, waitingFor: "the daemon to stop") { await daemon.waitForExit() }
                let took = clock.now - stopped
                #expect(status == 0, "\(daemon.log)")
                // Waiting out the idle connection would take the whole graceful-shutdown limit.
                #expect(took < grace, "the stop took \(took), the graceful-shutdown limit is \(grace)")
                #expect(!daemon.log.contains("Graceful shutdown took longer"), "\(daemon.log)")
            }
        }
    }

    /// Clients connecting while the control socket closes: an accepted connection NIO drops at that
    /// moment must not crash the daemon (a NIOAsyncChannel dropped unexecuted traps).
    @Test func clientsConnectingDuringAStopDoNotCrashTheDaemon() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                for round in 1...3 {
                    let daemon = try EndToEndTests.start(config: config, root: root, run: round)
                    try await daemon.line { $0.contains("Control socket ready") }
                    let socket = root + "/state/control.sock"
                    // Connect and hang up as fast as possible until the daemon has gone, on a thread of
                    // its own (a blocking loop on the cooperative pool would stall the other tests).
                    let connections = Mutex(0)
                    let (clientsDone, clientsFinished) = AsyncStream.makeStream(of: Void.self)
                    Thread {
                        while daemon.process.isRunning {
                            if let descriptor = try? Self.connectIdle(to: socket) {
                                close(descriptor)
                                connections.withLock { $0 += 1 }
                            }
                        }
                        clientsFinished.finish()
                    }.start()
                    try await eventually(timeout: .seconds(30), "clients to be connecting") { connections.withLock { $0 } >= 20 }
                    daemon.signal(SIGTERM)
                    let status = try await withTimeout(.seconds(60), waitingFor: "the daemon to stop") { await daemon.waitForExit() }
                    for await _ in clientsDone {}
                    let count = connections.withLock { $0 }
                    #expect(status == 0, "round \(round), \(count) connections: \(daemon.logTail)")
                }
            }
        }
    }

    /// A configuration with short timeouts (graceful limit 2 + 5 = 7 s) reloaded to longer ones
    /// (20 + 5 = 25 s): a POST that takes 12 s, on the wire when SIGTERM comes, must finish.
    @Test func aReloadedRequestTimeoutAlsoExtendsTheGracefulShutdownLimit() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .seconds(600))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let original = try String(contentsOfFile: config, encoding: .utf8)
                func timeouts(request: Int) -> String {
                    original.replacingOccurrences(
                        of: "api:\n",
                        with: "api:\n  request_timeout_seconds: \(request)\n"
                    ).replacingOccurrences(of: "webhooks:\n", with: "webhooks:\n  timeout_seconds: 1\n")
                }
                try write(timeouts(request: 2), to: config)
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try await daemon.line { $0.contains("videospool started") }

                try write(timeouts(request: 20), to: config)
                daemon.signal(SIGHUP)
                try await daemon.line { $0.contains("Configuration reloaded") }
                #expect(try await SettingsLoader.loadSettings(path: config).gracefulShutdownLimit == .seconds(25))

                simulator.api.setFaults([FaultRule(endpoint: .submit, fault: .delay(.seconds(12)), remaining: 1)])
                let hook = "http://127.0.0.1:\(port)/webhooks/slow"
                try EndToEndTests.drop(EndToEndTests.request(tag: "slow-post", hook: hook), as: "slow-post.json", root: root)
                try await daemon.line { $0.contains("Submitting generation") && $0.contains("slow-post") }
                daemon.signal(SIGTERM)
                let status = try await withTimeout(.seconds(60), waitingFor: "the daemon to stop") { await daemon.waitForExit() }
                #expect(status == 0, "\(daemon.log)")
                #expect(!daemon.log.contains("Graceful shutdown took longer"), "\(daemon.log)")
                // The POST finished and its generation id was committed: the job is generating, not
                // stuck in `submitting` (which the next start would turn into submission_outcome_unknown).
                #expect(try await OwnershipTests.state(of: "slow-post", config: config, root: root) == "generating")
                #expect(simulator.api.generations.count == 1)
            }
        }
    }
}
