public import VideoSpoolCore

/// The daemon's ``VideoObjectStorage`` over ``S3ObjectStorage``: a stored video goes to
/// `<key_prefix><job_id>.<ext>`, with the SHA-256 computed while downloading as its checksum, is
/// confirmed by `HEAD`, and is announced with a presigned `GET`.
public struct S3VideoObjectStorage: VideoObjectStorage {
    public let storage: S3ObjectStorage

    public init(storage: S3ObjectStorage) {
        self.storage = storage
    }

    public func upload(_ video: StoredVideo, jobID: JobID, date: Timestamp) async throws(VideoDownloadError) -> UploadedVideo {
        do throws(ObjectStorageError) {
            guard let sha256 = SHA256Checksum(hex: video.sha256) else {
                throw ObjectStorageError(code: .invalidArgument, "the stored video's SHA-256 '\(video.sha256)' is not 64 hex digits")
            }
            let fileName = video.path.split(separator: "/").last.map(String.init) ?? jobID.rawValue + ".mp4"
            let key = try storage.objectKey(jobID: jobID.rawValue, fileName: fileName, date: date)
            let stored = try await storage.upload(file: video.path, key: key, sha256: sha256, contentType: video.contentType)
            try await storage.confirm(stored)
            let link = try storage.presignedGetURL(key: key)
            return UploadedVideo(object: stored.uri, url: link.url, urlExpiresAt: link.expiresAt)
        } catch {
            throw Self.failure(error)
        }
    }

    public var deletesOnPrune: Bool { storage.configuration.deleteOnPrune }

    public func removeObject(_ uri: String) async throws(VideoDownloadError) {
        guard let key = key(of: uri) else { return }
        do {
            try await storage.delete(key: key)
        } catch {
            throw Self.failure(error)
        }
    }

    /// The key of `s3://<configured bucket>/<key>`; nil for another bucket (the configuration
    /// changed since the upload: that object is not this daemon's to delete now).
    public func key(of uri: String) -> String? {
        let prefix = "s3://" + storage.configuration.bucket + "/"
        guard uri.hasPrefix(prefix), uri.count > prefix.count else { return nil }
        return String(uri.dropFirst(prefix.count))
    }

    /// The storage's message names the operation and S3's answer, never a credential or a signature.
    package static func failure(_ error: ObjectStorageError) -> VideoDownloadError {
        VideoDownloadError(
            code: .uploadFailed,
            isTransient: error.isRetryable,
            message: "object storage: \(error.description)",
            statusCode: error.status
        )
    }
}
