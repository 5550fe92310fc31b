#if canImport(Glibc)
import Glibc
#endif
public import VideoSpoolCore

/// `results.directory` on the local file system: `<job_id>.<ext>` per stored video, and
/// `.<job_id>.part` while one is downloaded (the layout ``VideoDownloader`` writes).
public struct LocalResultsDirectory: StoredVideoFiles {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Every name a job's video may have: each extension ``StoredVideo/fileExtension(forContentType:)``
    /// gives, and the part file.
    public static func names(for jobID: JobID) -> [String] {
        ["mp4", "webm", "mov"].map { jobID.rawValue + "." + $0 } + ["." + jobID.rawValue + ".part"]
    }

    public func removeStoredVideo(jobID: JobID) async throws {
        let paths = Self.names(for: jobID).map { path + "/" + $0 }
        try await LocalSpoolDirectory.offload {
            for path in paths where unlink(path) != 0 && errno != ENOENT {
                throw SpoolFileSystemError("unlink", path: path)
            }
        }
    }
}
