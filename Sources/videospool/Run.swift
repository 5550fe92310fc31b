import ArgumentParser
import Foundation
import Logging
import VideoSpoolApp

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground (what the systemd unit starts).",
        discussion: "Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 78 for a configuration error, 1 for any other failure."
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let loaded: (settings: DaemonSettings, credentials: Credentials)
        do {
            loaded = try await SettingsLoader.load(path: options.config, environment: environment)
        } catch {
            Self.printError("configuration error: \(error)")
            throw ExitCode(ConfigurationError.exitStatus)
        }
        let level = loaded.settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "videospool")
        let daemon: Daemon
        do {
            daemon = try Daemon.make(settings: loaded.settings, credentials: loaded.credentials, logger: logger)
        } catch let error as ConfigurationError {
            logger.critical("Cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(ConfigurationError.exitStatus)
        }
        do {
            try await daemon.run()
        } catch {
            logger.critical("Stopped after an error", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
