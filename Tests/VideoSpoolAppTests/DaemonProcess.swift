import Foundation
import VideoSpoolTesting

/// The built `videospool` binary, run as a child process.
final class DaemonProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched from the test that owns this object; the exit status
    // arrives through the continuation.
    static var binary: String {
        ProcessInfo.processInfo.environment["VIDEOSPOOL_BINARY"] ?? packageRoot + "/.build/debug/videospool"
    }

    let process = Process()
    let logPath: String
    private let exited: AsyncStream<Int32>
    private let exitContinuation: AsyncStream<Int32>.Continuation
    private let lineContinuation: AsyncStream<String>.Continuation
    /// Every line the daemon writes to stdout/stderr, as it writes it (also kept in `logPath`).
    let lines: AsyncStream<String>

    /// With `streamingLines: false` the output goes straight to `logPath`, so it is complete the
    /// moment the process has exited (a pipe's last bytes may still be on their way), and `lines`
    /// stays empty. Waiting for the pipe's end of file instead is not reliable: a child spawned
    /// meanwhile by another test can inherit the pipe and hold it open.
    init(arguments: [String], logPath: String, environment: [String: String] = [:], streamingLines: Bool = true) throws {
        self.logPath = logPath
        (exited, exitContinuation) = AsyncStream.makeStream(of: Int32.self)
        (lines, lineContinuation) = AsyncStream.makeStream(of: String.self)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)  // opening it below fails if this did
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        merged["JOURNAL_STREAM"] = nil
        process.environment = merged
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        let continuation = exitContinuation
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        guard streamingLines else {
            process.standardOutput = log
            process.standardError = log
            lineContinuation.finish()
            try process.run()
            return
        }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        let lineContinuation = self.lineContinuation
        let partial = LockedBuffer()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                lineContinuation.finish()
                return
            }
            log.write(data)
            for line in partial.append(data) { lineContinuation.yield(line) }
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to end and returns its exit status (or signal number).
    func waitForExit() async -> Int32 {
        for await status in exited { return status }
        // Cancelled while waiting (a time limit): `Process` traps when asked about a running one.
        return process.isRunning ? -1 : process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits for a line of output that satisfies `predicate` and returns it. If none comes within
    /// `timeout`, or the output ends first (the daemon exited), fails at once with the end of the
    /// daemon's log instead of waiting for the suite's time limit.
    @discardableResult
    func line(
        within timeout: Duration = .seconds(60),
        fileID: String = #fileID,
        line: Int = #line,
        where predicate: @escaping @Sendable (String) -> Bool
    ) async throws -> String {
        do {
            return try await lines.collect(1, within: timeout, where: predicate, fileID: fileID, line: line)[0]
        } catch let error as TimedOut {
            throw EndedEarly("\(error); the daemon (PID \(pid)) is still running; its log ends:\n\(logTail)")
        } catch let error as EndedEarly {
            throw EndedEarly("\(error): the daemon (PID \(pid)) exited; its log ends:\n\(logTail)")
        }
    }

    /// The last lines of the log, for failure messages.
    var logTail: String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(40).joined(separator: "\n")
    }

    /// Runs the binary to completion and returns its status and combined output.
    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: String) async throws
        -> (status: Int32, output: String)
    {
        let process = try DaemonProcess(
            arguments: arguments,
            logPath: directory + "/run-\(UUID().uuidString).log",
            environment: environment,
            streamingLines: false
        )
        let status = await process.waitForExit()
        return (status, process.log)
    }
}

/// Bytes received so far, cut into complete lines.
private final class LockedBuffer: @unchecked Sendable {
    // @unchecked: only the pipe's readability handler touches it, one call at a time.
    private var pending = Data()

    func append(_ data: Data) -> [String] {
        pending.append(data)
        var lines: [String] = []
        while let newline = pending.firstIndex(of: 0x0A) {
            lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
            pending.removeSubrange(pending.startIndex...newline)
        }
        return lines
    }
}
