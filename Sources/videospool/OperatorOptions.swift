import ArgumentParser
import Foundation
import VideoSpoolApp
import VideoSpoolCore

#if canImport(Glibc)
import Glibc
#endif

/// Options of every operator command (`list`, `show`, `cancel`, `retry`, `redeliver`, `prune`).
struct OperatorOptions: ParsableArguments {
    @OptionGroup var config: ConfigOptions

    @Flag(name: .long, help: "Print JSON (one document) instead of text, for scripts.")
    var json = false

    var colors: TerminalColors {
        TerminalColors.forStandardOutput(environment: ProcessInfo.processInfo.environment, isTerminal: isatty(1) == 1)
    }

    func settings() async throws -> DaemonSettings {
        do {
            return try await SettingsLoader.loadSettings(path: config.config)
        } catch {
            Run.printError("configuration error: \(error)")
            throw ExitCode(ConfigurationError.exitStatus)
        }
    }

    /// Hands `request` to the daemon (or the store) and prints the answer.
    func perform(_ request: ControlRequest) async throws {
        let settings = try await settings()
        let response: ControlResponse
        do {
            response = try await ControlClient.perform(request, settings: settings)
        } catch let error as OwnershipError {
            // A daemon owns the store but does not answer: nothing was changed; try again later.
            Run.printError("\(error)")
            throw ExitStatus.temporaryFailure
        } catch {
            Run.printError("\(error)")
            throw ExitCode.failure
        }
        if json {
            print(String(decoding: try JSONEncoder().encode(response), as: UTF8.self))
        } else if response.ok {
            print(response.message)
            if response.via == "daemon" {
                print("(done by the running daemon)")
            } else {
                if settings.storeBackend == .postgresql {
                    print("(no daemon runs here: applied to the shared store; a daemon sharing it takes it up within seconds)")
                } else {
                    print("(the daemon is not running: applied to the store in \(settings.stateDirectory); it takes effect at its next start)")
                }
            }
        }
        if !response.ok {
            if !json { Run.printError(response.message) }
            throw ExitCode.failure
        }
    }

    static func jobID(_ text: String) throws -> JobID {
        guard let id = JobID(text) else { throw ValidationError("'\(text)' is not a job id") }
        return id
    }
}
