import ArgumentParser
import Foundation
import Synchronization
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

    /// Hands `request` to the daemon (or the store) and prints the answer. Ids that come with
    /// updates (`prune --ids`) are printed one a line as they arrive (collected into the document
    /// with `--json`); how far the work has got goes to standard error when it is a terminal.
    func perform(_ request: ControlRequest) async throws {
        let settings = try await settings()
        var request = request
        request.progress = true
        let updates = UpdatePrinter(printIDs: !json, showProgress: isatty(2) == 1)
        var response: ControlResponse
        do {
            response = try await ControlClient.perform(
                request,
                settings: settings,
                onWaiting: { pid in
                    Run.printError(
                        "the videospool daemon (PID \(pid.map(String.init) ?? "unknown")) has not opened its control socket yet; "
                            + "waiting for it (up to 5 s)"
                    )
                },
                onUpdate: { updates.print($0) }
            )
        } catch let error as OwnershipError {
            // A daemon owns the store but does not answer: nothing was changed; try again later.
            Run.printError("\(error)")
            throw ExitStatus.temporaryFailure
        } catch {
            Run.printError("\(error)")
            throw ExitCode.failure
        }
        updates.finish()
        if json {
            if request.ids == true { response.jobs = updates.collectedIDs }
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

/// Prints what a long operator command reports while it works.
private final class UpdatePrinter: Sendable {
    private struct State {
        var ids: [String] = []
        var lastProgress = ContinuousClock.now
        var progressShown = false
    }

    private let printIDs: Bool
    private let showProgress: Bool
    private let state = Mutex(State())

    init(printIDs: Bool, showProgress: Bool) {
        self.printIDs = printIDs
        self.showProgress = showProgress
    }

    func print(_ update: ControlUpdate) {
        state.withLock { state in
            if let ids = update.ids {
                if printIDs {
                    Swift.print(ids.joined(separator: "\n"))
                    fflush(nil)  // each batch as it comes, even into a pipe
                } else {
                    state.ids += ids
                }
            }
            let now = ContinuousClock.now
            guard showProgress, update.done > 0, now - state.lastProgress >= .seconds(1) else { return }
            state.lastProgress = now
            state.progressShown = true
            FileHandle.standardError.write(Data("\rworking: \(update.done) done so far".utf8))
        }
    }

    /// Ends the progress line, if one was shown.
    func finish() {
        if state.withLock({ $0.progressShown }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    var collectedIDs: [String] { state.withLock { $0.ids } }
}
