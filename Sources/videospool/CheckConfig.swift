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
            let (settings, _) = try await SettingsLoader.load(
                path: options.config,
                environment: ProcessInfo.processInfo.environment
            )
            if !quiet {
                print("configuration OK (\(options.config ?? SettingsLoader.defaultPath))")
                for line in settings.summary { print("  \(line)") }
            }
        } catch {
            Run.printError("configuration error: \(error)")
            throw ExitCode(ConfigurationError.exitStatus)
        }
    }
}
