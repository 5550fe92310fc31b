import Foundation

/// `videospool simulate` as a child process on a free loopback port.
/// `@unchecked Sendable`: after `init` only `Process`'s thread-safe accessors and the pipe are used.
final class SimulatorProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()

    init(binary: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments =
            ["simulate", "--listen", "127.0.0.1:0", "--api-key", BenchWorkspace.apiKey, "--generation-seconds", "0"]
            + arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The port from the "simulator listening on http://127.0.0.1:PORT" line.
    func port() async throws -> Int {
        let handle = output.fileHandleForReading
        return try await Task.detached {
            var text = ""
            while true {
                let data = handle.availableData
                guard !data.isEmpty else { throw BenchError("the simulator exited before listening") }
                text += String(decoding: data, as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }),
                    let port = line.split(separator: ":").last.flatMap({ Int($0) })
                {
                    return port
                }
            }
        }.value
    }

    /// User plus system CPU time so far, in seconds.
    func cpuSeconds() throws -> Double {
        try DownloadScenario.cpuSeconds(pid: String(process.processIdentifier))
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
