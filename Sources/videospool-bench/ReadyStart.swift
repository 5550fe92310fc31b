import Foundation

/// A daemon started with a notify socket of the benchmark's own (in systemd's place), and what its
/// start-up cost by the time it said READY=1 (store open, recovery done, spool watched, first scan done).
struct ReadyStart {
    let daemon: DaemonUnderTest
    /// Exec → READY=1 received.
    let seconds: Double
    /// The whole process's CPU (user + system, every thread) from exec to READY=1, read from /proc
    /// as soon as the datagram arrived (``DaemonUnderTest/preciseCPUSeconds()``).
    let cpuSeconds: Double

    static func launch(_ workspace: BenchWorkspace, binary: String, within deadline: Duration = .seconds(120)) async throws -> ReadyStart {
        let socket = try ReadySocket(path: workspace.root + "/notify-\(UUID().uuidString.prefix(8)).sock")
        defer { socket.close() }
        let daemon = try workspace.start(binary: binary, environment: ["NOTIFY_SOCKET": socket.path])
        guard try await socket.waitForReady(within: deadline) else {
            await daemon.stop()
            throw BenchError("the daemon sent no READY=1 within \(deadline)")
        }
        let cpu = try daemon.preciseCPUSeconds()
        return ReadyStart(daemon: daemon, seconds: (ContinuousClock.now - daemon.startedAt).milliseconds / 1000, cpuSeconds: cpu)
    }
}
