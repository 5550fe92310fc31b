import Foundation
import VideoSpoolCore

/// The built `videospool` binary run as a shell user runs it: arguments, optional standard input,
/// stdout and stderr kept apart (scripts read stdout only).
struct ClientCommand {
    let status: Int32
    let stdout: String
    let stderr: String

    var stdoutJSON: JSONValue? { try? JSONParser().parse(stdout) }

    static func run(_ arguments: [String], stdin: String? = nil, in directory: String) async throws -> ClientCommand {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["JOURNAL_STREAM"] = nil
        process.environment = environment
        let name = UUID().uuidString
        let outPath = directory + "/\(name).out"
        let errPath = directory + "/\(name).err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        let (exited, continuation) = AsyncStream.makeStream(of: Int32.self)
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        var status = Int32(-1)
        for await code in exited { status = code }
        return ClientCommand(
            status: status,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        )
    }
}

extension JSONValue {
    /// The `index`th item of an array, for reading command output in tests.
    subscript(index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }
}
