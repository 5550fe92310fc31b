import Foundation

enum ReadyWait {
    /// Waits until the daemon has created its spool tree and watches it: the log says it started.
    static func untilSpoolIsWatched(daemon: DaemonUnderTest, workspace: BenchWorkspace) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let log = (try? String(contentsOfFile: workspace.root + "/daemon.log", encoding: .utf8)) ?? ""
            if log.contains("videospool started") { return }
            guard daemon.process.isRunning else { throw BenchError("the daemon exited during start-up:\n\(log.suffix(3000))") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("the daemon did not start within 60 s")
    }
}
