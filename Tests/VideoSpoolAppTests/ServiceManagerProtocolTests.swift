import Foundation
import Logging
import Testing
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolTesting

/// The built binary speaking the notify protocol to a socket that stands in for systemd: what
/// `systemctl start`, `status`, `reload` and `stop` rely on, checked without booting a container.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServiceManagerProtocolTests {
    @Test func readyStatusWatchdogReloadAndStoppingAreSentInOrder() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let notify = try NotifySocket(path: root + "/notify")
                defer { notify.close() }
                let daemon = try DaemonProcess(
                    arguments: ["run", "--config", config],
                    logPath: root + "/daemon.log",
                    environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"]
                )
                var seen: [String] = []
                var reloaded = false
                var stopped = false
                for await datagram in notify.datagrams {
                    seen.append(datagram)
                    if datagram.contains("WATCHDOG=1"), !reloaded, seen.contains(where: { $0.contains("READY=1") }) {
                        reloaded = true
                        daemon.signal(SIGHUP)
                    }
                    if reloaded, !stopped, seen.filter({ $0.contains("READY=1") }).count >= 2 {
                        stopped = true
                        daemon.signal(SIGTERM)
                    }
                    if datagram.contains("STOPPING=1") { break }
                }
                #expect(await daemon.waitForExit() == 0, "log:\n\(daemon.log)")
                let ready = try #require(seen.firstIndex { $0.contains("READY=1") })
                #expect(seen[ready].contains("STATUS="), "READY=1 comes with a status line")
                #expect(seen[..<ready].allSatisfy { !$0.contains("WATCHDOG=1") }, "no keep-alive before ready")
                let reloading = try #require(seen.firstIndex { $0.contains("RELOADING=1") })
                #expect(reloading > ready)
                #expect(seen[reloading].contains("MONOTONIC_USEC="))
                #expect(seen[(reloading + 1)...].contains { $0.contains("READY=1") }, "READY=1 ends the reload")
                #expect(seen.last?.contains("STOPPING=1") == true)
                #expect(daemon.log.contains("Configuration reloaded"))
            }
        }
    }

    @Test func aReloadWithABadConfigurationKeepsTheRunningOne() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let notify = try NotifySocket(path: root + "/notify")
                defer { notify.close() }
                let daemon = try DaemonProcess(
                    arguments: ["run", "--config", config],
                    logPath: root + "/daemon.log",
                    environment: ["NOTIFY_SOCKET": notify.path]
                )
                var readies = 0
                for await datagram in notify.datagrams where datagram.contains("READY=1") {
                    readies += 1
                    if readies == 1 {
                        try write("api:\n  max_concurrent_requests: lots\n", to: config)
                        daemon.signal(SIGHUP)
                    } else {
                        break
                    }
                }
                // Still working with the old configuration: a request goes through.
                let hook = "http://127.0.0.1:\(port)/webhooks/after-bad-reload"
                try EndToEndTests.drop(EndToEndTests.request(tag: "after-bad-reload", hook: hook), as: "a.json", root: root)
                let received = try await simulator.receiver.subscribe().collect(1)
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)
                #expect(received.first?.json?["data"]?["job_id"] == .string("after-bad-reload"))
                #expect(daemon.log.contains("Configuration reload failed"))
                #expect(daemon.log.contains("api.max_concurrent_requests"))
            }
        }
    }
}
