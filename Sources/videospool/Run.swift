import ArgumentParser
import Foundation
import Logging
import Metrics
import VideoSpoolApp
import VideoSpoolSystemd

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground (what the systemd unit starts).",
        discussion: """
            Under systemd it reports readiness, status and watchdog keep-alives (sd_notify), logs native \
            journal entries, reloads its configuration on SIGHUP and stops cleanly on SIGTERM. \
            Exit status: 0 after a clean stop, 78 for a configuration error, 1 for any other failure.
            """
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
        let logSettings = LogSettings(level: loaded.settings.logLevel)
        let journal = JournalStream.stderrIsJournal(environment: environment)
        LoggingSystem.bootstrap { label -> any LogHandler in
            journal ? JournalLogHandler(settings: logSettings) : StderrLogHandler(label: label, settings: logSettings)
        }
        let logger = Logger(label: "videospool")
        // Once per process, and only here: libraries that report through swift-metrics land in
        // the same registry as the pipeline's own metrics.
        let metrics = loaded.settings.metricsListen == nil ? nil : DaemonMetrics()
        if let metrics { MetricsSystem.bootstrap(metrics.factory) }
        let daemon: Daemon
        let notifier = SystemdNotifier()
        // The last datagram (STOPPING=1) goes out before the process ends, unless the socket is stuck.
        defer { notifier.drain(timeout: .seconds(1)) }
        do {
            // Before the store is opened: a second daemon leaves at once; one started while an
            // operator command writes the store waits for it a little.
            let ownership = try await DaemonOwnership.claim(
                DaemonOwnership.claims(for: loaded.settings),
                commandWait: Self.commandWait,
                logger: logger
            )
            daemon = try Daemon.make(
                settings: loaded.settings,
                credentials: loaded.credentials,
                logger: logger,
                environment: Daemon.Environment(
                    logSettings: logSettings,
                    notifier: notifier,
                    watchdogTimeout: SystemdNotifier.watchdogTimeout(),
                    configPath: options.config,
                    variables: environment,
                    metrics: metrics
                ),
                ownership: ownership
            )
        } catch let error as OwnershipError {
            logger.critical("Cannot start: the directory is in use", metadata: ["error": "\(error)"])
            throw ExitCode(OwnershipError.exitStatus)
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

    /// How long a starting daemon waits for operator commands that are writing the store.
    static let commandWait = Duration.seconds(10)

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
