#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import VideoSpoolCore

/// How a job ended, as its outcome file in the spool says.
public struct SpoolOutcome: Sendable {
    public enum Kind: String, Sendable {
        case completed
        case failed
        case rejected
    }

    public let kind: Kind
    /// Where the document is (`done/`, `failed/` or `rejected/…error.json`).
    public let path: String
    /// The document as written by the daemon.
    public let bytes: [UInt8]
}

extension LocalSpoolDirectory {
    /// The outcome file of the request published as `incoming/<jobID>.json`, if the daemon has
    /// written one: `done/<id>.json`, `failed/<id>.json`, or a `rejected/*.error.json` whose `file`
    /// is that name and that is not in `ignoringRejections` (reports that were there before).
    public func outcome(for jobID: JobID, ignoringRejections: Set<String> = []) -> SpoolOutcome? {
        let name = jobID.rawValue + ".json"
        for (kind, directory) in [(SpoolOutcome.Kind.completed, doneDirectory), (.failed, failedDirectory)] {
            let path = directory + "/" + name
            if let bytes = FileManager.default.contents(atPath: path) {
                return SpoolOutcome(kind: kind, path: path, bytes: Array(bytes))
            }
        }
        for report in rejectionReports(for: jobID) where !ignoringRejections.contains(report) {
            let path = rejectedDirectory + "/" + report
            guard let bytes = FileManager.default.contents(atPath: path),
                let document = try? JSONParser().parse(Array(bytes)),
                document["file"] == .string(name)
            else { continue }
            return SpoolOutcome(kind: .rejected, path: path, bytes: Array(bytes))
        }
        return nil
    }

    /// The names of `rejected/` reports that may belong to `jobID`: `<id>.json.error.json`, or
    /// `<id>.<n>.json.error.json` when an earlier rejection had taken the name.
    public func rejectionReports(for jobID: JobID) -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: rejectedDirectory)) ?? []
        return Set(names.filter { $0.hasPrefix(jobID.rawValue + ".") && $0.hasSuffix(".json.error.json") })
    }
}
