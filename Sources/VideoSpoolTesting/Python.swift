import Foundation

/// The Python the tests use as an independent implementation (botocore, moto), installed by
/// `make deps` into `.cache/python` (or `VIDEOSPOOL_PYTHONPATH`).
public enum Python {
    /// The package's root directory, found from this file's path.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Where `make deps` installs the Python packages the tests use.
    public static let path = ProcessInfo.processInfo.environment["VIDEOSPOOL_PYTHONPATH"] ?? packageRoot + "/.cache/python"

    /// Runs `python3 script arguments…` with ``path`` as PYTHONPATH, `input` on stdin; returns
    /// stdout. A non-zero exit fails with its stderr.
    public static func run(_ script: String, arguments: [String] = [], input: [UInt8] = []) throws -> [UInt8] {
        var template = Array((FileManager.default.temporaryDirectory.path + "/videospool-python.XXXXXX").utf8CString)
        guard let pointer = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        let directory = String(cString: pointer)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inputPath = directory + "/stdin"
        let outputPath = directory + "/stdout"
        let errorPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: inputPath, contents: Data(input))
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = path
        process.environment = environment
        process.standardInput = FileHandle(forReadingAtPath: inputPath)
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.run()
        process.waitUntilExit()
        let errors = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw PythonFailure(message: "python3 \(script) exited with \(process.terminationStatus) (run `make deps`?): \(errors)")
        }
        return Array(try Data(contentsOf: URL(fileURLWithPath: outputPath)))
    }
}

public struct PythonFailure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
