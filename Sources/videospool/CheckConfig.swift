import ArgumentParser
import Foundation
import VideoSpoolApp

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and credentials, then exit (0 valid, 78 invalid).",
        discussion: "Suitable for ExecStartPre=. Prints the effective settings; secrets are never printed."
    )

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "Print nothing when the configuration is valid.")
    var quiet = false

    func run() async throws {
        do {
            let (settings, credentials) = try await SettingsLoader.load(
                path: options.config,
                environment: ProcessInfo.processInfo.environment
            )
            var store: String?
            if let postgresql = credentials.postgresql {
                switch try await SharedStoreCheck.check(postgresql) {
                case .reachable(let version, let known):
                    store = "state.postgresql: \(postgresql) reachable, schema version \(version) (this videospool: \(known))"
                case .unreachable(let reason):
                    // Not a configuration error: the daemon waits for the database at start, so
                    // ExecStartPre= must not fail the unit while it boots.
                    Run.printError("warning: the shared store cannot be reached: \(reason); the daemon waits for it")
                    store = "state.postgresql: \(postgresql) NOT reachable now"
                }
            }
            if !quiet {
                print("configuration OK (\(options.config ?? SettingsLoader.defaultPath))")
                for line in settings.summary { print("  \(line)") }
                if let store { print("  \(store)") }
            }
        } catch {
            Run.printError("configuration error: \(error)")
            throw ExitCode(ConfigurationError.exitStatus)
        }
    }
}
