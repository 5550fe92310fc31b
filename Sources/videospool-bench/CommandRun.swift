import Foundation

/// One `videospool` command run to its end, timed from exec to exit (its output, both streams).
struct CommandRun {
    let status: Int32
    let output: String
    let seconds: Double
    /// The command's own CPU time (user + system): unlike the wall time, it does not grow when
    /// other processes share the cores.
    let cpuSeconds: Double

    init(binary: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let cpuBefore = ReapedChildrenCPU.seconds()
        let start = ContinuousClock.now
        try process.run()
        // Read before waiting: a full pipe would stall the command.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        seconds = (ContinuousClock.now - start).milliseconds / 1000
        status = process.terminationStatus
        output = String(decoding: data, as: UTF8.self)
        cpuSeconds = ReapedChildrenCPU.seconds() - cpuBefore
    }
}
