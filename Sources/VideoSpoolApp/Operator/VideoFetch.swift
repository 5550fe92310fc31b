import Foundation
public import Logging
import NIOPosix
public import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolObjectStorage

/// `videospool fetch`: copies a job's stored video out, checked against the SHA-256 its webhook
/// announced; when there is no stored copy here (not stored, `results.keep_local: false`, pruned,
/// or stored by another host), downloads the uploaded object from `results.s3` with a freshly
/// presigned link, or else downloads it again from the API's link while that still works.
public enum VideoFetch {
    public struct Fetched: Sendable {
        /// Where the bytes came from.
        public enum Source: String, Sendable {
            /// The copy in `results.directory`.
            case stored
            /// The object in `results.s3`.
            case object
            /// The API's video link, again.
            case downloaded
        }

        public var path: String
        public var bytes: Int64
        public var sha256: String
        public var source: Source

        public var description: String {
            let origin =
                switch source {
                case .stored: "copied from the stored video"
                case .object: "downloaded from the stored object"
                case .downloaded: "downloaded again from the job's video link"
                }
            return "\(path) (\(bytes) bytes, sha256 \(sha256)) " + origin
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        init(_ description: String) {
            self.description = description
        }
    }

    /// - Parameter output: where to write; default `<job_id>.<ext>` in the current directory.
    public static func fetch(
        settings: DaemonSettings,
        environment: [String: String],
        id: JobID,
        output: String?,
        logger: Logger
    ) async throws -> Fetched {
        let report = try await OperatorStore.withReports(settings: settings, environment: environment) { store in
            try await store.jobReport(id)
        }
        guard let report else { throw OperatorViews.Failure.noJob(id) }
        let announced = JobReportFormat.announcedVideo(report)
        if let stored = announced?["file"]?.stringValue, FileManager.default.fileExists(atPath: stored) {
            let target = output ?? (stored as NSString).lastPathComponent
            let (bytes, sha256) = try copy(from: stored, to: target)
            if let expected = announced?["sha256"]?.stringValue, expected != sha256 {
                try? FileManager.default.removeItem(atPath: target)
                throw Failure("the stored copy \(stored) does not match the SHA-256 its webhook announced (\(expected)); nothing was written")
            }
            return Fetched(path: target, bytes: bytes, sha256: sha256, source: .stored)
        }
        if let object = announced?["object"]?.stringValue, settings.s3 != nil {
            return try await fetchObject(
                object,
                expected: announced?["sha256"]?.stringValue,
                id: id,
                output: output,
                settings: settings,
                environment: environment,
                logger: logger
            )
        }
        guard let url = report.job.videoURL else {
            throw Failure("job \(id) is \(report.job.phase.rawValue) and has no video")
        }
        let configuration = settings.downloaderConfiguration(userAgent: "videospool/\(Daemon.version)")
        return try await download(url: url, id: id, output: output, configuration: configuration, logger: logger)
    }

    /// Downloads the announced object with a GET presigned now (the announced link may have
    /// expired), and checks it against the announced SHA-256.
    static func fetchObject(
        _ object: String,
        expected: String?,
        id: JobID,
        output: String?,
        settings: DaemonSettings,
        environment: [String: String],
        logger: Logger
    ) async throws -> Fetched {
        let url = try await ObjectStorageConnection.with(settings: settings, environment: environment, logger: logger) {
            connection -> String in
            guard let connection, let key = connection.videoObjects.key(of: object) else {
                throw Failure("\(object) is not in the bucket results.s3.bucket names now; nothing was written")
            }
            return try connection.storage.presignedGetURL(key: key).url
        }
        var configuration = settings.downloaderConfiguration(userAgent: "videospool/\(Daemon.version)")
        // The endpoint is the operator's own setting, not a link from the network: a MinIO on the
        // local network or over http is as trusted as the configuration that names it.
        configuration.addressPolicy = AddressPolicy(allowPrivateNetworks: true)
        configuration.allowHTTP = settings.s3?.configuration.endpoint.scheme == "http"
        var fetched = try await download(url: url, id: id, output: output, configuration: configuration, logger: logger)
        if let expected, expected != fetched.sha256 {
            try? FileManager.default.removeItem(atPath: fetched.path)
            throw Failure("the object \(object) does not match the SHA-256 its webhook announced (\(expected)); nothing was written")
        }
        fetched.source = .object
        return fetched
    }

    /// Copies in 1 MiB chunks through a temporary name, hashing on the way; returns size and SHA-256.
    static func copy(from source: String, to target: String) throws -> (Int64, String) {
        guard let input = FileHandle(forReadingAtPath: source) else { throw Failure("cannot read \(source)") }
        defer { try? input.close() }
        let temporary = target + ".part"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw Failure("cannot create \(temporary)")
        }
        let writer = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        var hash = ContentDigest.Running()
        var bytes: Int64 = 0
        do {
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                try writer.write(contentsOf: chunk)
                hash.update(Array(chunk))
                bytes += Int64(chunk.count)
            }
            try writer.synchronize()
            try writer.close()
            if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
            try FileManager.default.moveItem(atPath: temporary, toPath: target)
        } catch {
            try? writer.close()
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        return (bytes, hash.finish())
    }

    /// Downloads with the daemon's downloader and its settings (size cap, address policy,
    /// redirects), into a scratch directory beside the output, then moves the file into place.
    static func download(
        url: String,
        id: JobID,
        output: String?,
        configuration: HTTPVideoDownloader.Configuration,
        logger: Logger
    ) async throws -> Fetched {
        let directoryOfOutput = output.map { ($0 as NSString).deletingLastPathComponent } ?? ""
        let scratch = (directoryOfOutput.isEmpty ? "." : directoryOfOutput) + "/.videospool-fetch-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let downloader = HTTPVideoDownloader(
            configuration: configuration,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        )
        let result: Result<StoredVideo, VideoDownloadError>
        do {
            result = .success(
                try await downloader.download(VideoDownloadRequest(url: url, jobID: id, directory: scratch))
            )
        } catch {
            result = .failure(error)
        }
        try? await downloader.shutdown()
        switch result {
        case .failure(let error):
            throw Failure("no stored copy here, and the link did not work: \(error.message)")
        case .success(let video):
            let target = output ?? (video.path as NSString).lastPathComponent
            if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
            try FileManager.default.moveItem(atPath: video.path, toPath: target)
            return Fetched(path: target, bytes: video.bytes, sha256: video.sha256, source: .downloaded)
        }
    }
}
