import ArgumentParser
import Foundation
import Logging
import VideoSpoolApp

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon against the simulator in a temporary directory and show what happens.",
        discussion: "Exits 0 when every dropped request is accounted for (webhook received, outcome file written)."
    )

    @Option(help: "Log level for the daemon's own log lines.")
    var logLevel: String = "warning"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let succeeded = try await VideoSpoolApp.Demo.run(logger: Logger(label: "videospool")) { line in
            // Unbuffered, so progress shows as it happens even when piped.
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        if !succeeded { throw ExitCode.failure }
    }
}
