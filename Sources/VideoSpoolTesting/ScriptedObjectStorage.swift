import Synchronization
public import VideoSpoolCore

/// A ``VideoObjectStorage`` that answers from a script instead of S3: each upload takes the next
/// scripted answer (the last one repeats); uploads and removals are recorded.
public final class ScriptedObjectStorage: VideoObjectStorage, Sendable {
    public enum Answer: Sendable {
        /// Uploaded and confirmed as `s3://videos/<date>/<file name>`.
        case upload
        case fail(VideoDownloadError)
        /// Waits for ``releaseAll()``, then uploads like `upload`.
        case held
        /// Waits until the calling task is cancelled, then fails with `canceled` (a stop mid-upload).
        case hang
    }

    /// One upload asked for.
    public struct Upload: Sendable, Hashable {
        public var video: StoredVideo
        public var jobID: JobID
        public var date: Timestamp
    }

    private struct State {
        var script: [Answer]
        var uploads: [Upload] = []
        var removed: [String] = []
        var released = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>
    public let deletesOnPrune: Bool
    /// Each upload as it starts.
    public let started: AsyncStream<Upload>
    private let startedContinuation: AsyncStream<Upload>.Continuation
    /// How long presigned links are valid.
    public static let presignSeconds: Int64 = 86_400

    public init(_ script: [Answer] = [.upload], deletesOnPrune: Bool = false) {
        precondition(!script.isEmpty, "a script needs at least one answer")
        self.state = Mutex(State(script: script))
        self.deletesOnPrune = deletesOnPrune
        (started, startedContinuation) = AsyncStream.makeStream()
    }

    public var uploads: [Upload] { state.withLock { $0.uploads } }
    public var removed: [String] { state.withLock { $0.removed } }

    /// The object an upload of `fileName` made on `date`.
    public static func object(fileName: String, date: Timestamp) -> String {
        "s3://videos/\(String(date.iso8601.prefix(10)))/\(fileName)"
    }

    /// Lets every `held` upload finish, now and from now on.
    public func releaseAll() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.released = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    public func upload(_ video: StoredVideo, jobID: JobID, date: Timestamp) async throws(VideoDownloadError) -> UploadedVideo {
        let upload = Upload(video: video, jobID: jobID, date: date)
        let answer = state.withLock { state -> Answer in
            state.uploads.append(upload)
            return state.script.count > 1 ? state.script.removeFirst() : state.script[0]
        }
        startedContinuation.yield(upload)
        switch answer {
        case .upload:
            break
        case .fail(let error):
            throw error
        case .held:
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.released { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        case .hang:
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            throw .transient(.canceled, "the upload was canceled")
        }
        let fileName = video.path.split(separator: "/").last.map(String.init) ?? jobID.rawValue
        let object = Self.object(fileName: fileName, date: date)
        return UploadedVideo(
            object: object,
            url: "https://videos.s3.test/\(object.dropFirst(5))?X-Amz-Signature=fake",
            urlExpiresAt: Timestamp(secondsSinceEpoch: date.secondsSinceEpoch + Self.presignSeconds)
        )
    }

    public func removeObject(_ uri: String) async throws(VideoDownloadError) {
        state.withLock { $0.removed.append(uri) }
    }
}

/// A ``StoredVideoFiles`` that records what it was asked to remove.
public final class RecordingStoredVideoFiles: StoredVideoFiles, Sendable {
    private let state = Mutex<[JobID]>([])

    public init() {}

    public var removed: [JobID] { state.withLock { $0 } }

    public func removeStoredVideo(jobID: JobID) async throws {
        state.withLock { $0.append(jobID) }
    }
}
