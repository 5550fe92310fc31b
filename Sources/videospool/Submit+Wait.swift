import ArgumentParser
import Foundation
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem

extension Submit {
    /// `--wait`: follows the job, shows progress on stderr, prints the outcome and exits with the
    /// status that says how the job ended.
    func follow(_ jobID: JobID, submitter: RequestSubmitter, earlierRejections: Set<String>) async throws {
        let progress = ProgressLine(jobID: jobID, style: .standardError)
        let result = try await submitter.follower.follow(
            jobID,
            ignoringRejections: earlierRejections,
            timeout: timeout.map { .seconds(double: $0) },
            progress: progress.show
        )
        progress.clear()
        switch result {
        case .timedOut(let phase):
            if json {
                RequestReport.print(
                    .object(
                        JSONObject([
                            "job_id": .string(jobID.rawValue),
                            "status": .string("waiting"),
                            "phase": .optional(phase?.rawValue),
                            "timed_out": .bool(true),
                        ])
                    )
                )
            }
            Run.printError(
                "videospool submit: no outcome for \(jobID) after \(TerminalStyle.clock(.seconds(double: timeout ?? 0)))"
                    + " (\(ProgressLine.label(phase))); the job goes on"
            )
            throw ExitStatus.temporaryFailure
        case .finished(let outcome):
            if json {
                FileHandle.standardOutput.write(Data(outcome.bytes))
                if outcome.bytes.last != 0x0A { print() }
            } else {
                printOutcome(outcome)
            }
            switch outcome.kind {
            case .completed: return
            case .failed: throw ExitStatus.failed
            case .rejected: throw ExitStatus.dataError
            }
        }
    }

    private func printOutcome(_ outcome: SpoolOutcome) {
        let style = TerminalStyle.standardOutput
        let document = try? JSONParser().parse(outcome.bytes)
        let data = document?["data"]
        switch outcome.kind {
        case .completed:
            let url = data?["video"]?["url"]?.stringValue ?? "(no URL)"
            print("\(style.green("completed")): \(url)")
            if let file = data?["video"]?["file"]?.stringValue {
                print("stored: \(file) (sha256 \(data?["video"]?["sha256"]?.stringValue ?? "?"))")
            } else if let error = data?["video"]?["download_error"]?.stringValue {
                print("not stored: \(error)")
            }
        case .failed:
            let code = data?["error"]?["code"]?.stringValue ?? "failed"
            let message = data?["error"]?["message"]?.stringValue ?? ""
            print("\(style.red("failed")): \(code): \(message)")
        case .rejected:
            print("\(style.red("rejected")) by the daemon (\(outcome.path)):")
            let issues = (document?["errors"]?.arrayValue ?? []).map { item in
                ValidationIssue(
                    field: item["field"]?.stringValue,
                    code: ValidationIssue.Code(item["code"]?.stringValue ?? "rejected"),
                    message: item["message"]?.stringValue ?? ""
                )
            }
            for line in RequestReport.lines(issues, style: style) { print(line) }
        }
    }
}

/// The `--wait` progress on stderr: one line redrawn in place on a terminal, otherwise a plain
/// line whenever the phase changes (logs stay readable).
final class ProgressLine: @unchecked Sendable {
    // @unchecked: used only from the one task that runs `submit --wait`.
    private let jobID: JobID
    private let style: TerminalStyle
    private var lastPhase: JobPhase??
    private var frame = 0
    private var drawn = false

    init(jobID: JobID, style: TerminalStyle) {
        self.jobID = jobID
        self.style = style
    }

    func show(_ progress: JobFollower.Progress) {
        if style.isTerminal {
            let spinner = Array("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")[frame % 10]
            frame += 1
            let line = "\(style.dim(String(spinner))) \(jobID)  \(style.bold(Self.label(progress.phase)))  "
                + TerminalStyle.clock(progress.elapsed)
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
            drawn = true
        } else if lastPhase != .some(progress.phase) {
            lastPhase = .some(progress.phase)
            Run.printError("\(jobID): \(Self.label(progress.phase)) (\(TerminalStyle.clock(progress.elapsed)))")
        }
    }

    func clear() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }

    static func label(_ phase: JobPhase?) -> String {
        switch phase {
        case nil: "waiting for the daemon"
        case .queued?: "queued"
        case .submitting?: "submitting"
        case .generating?: "generating"
        case .storing?: "storing the video"
        case .completed?, .failed?, .rejected?, .canceled?: "finishing"
        }
    }
}
