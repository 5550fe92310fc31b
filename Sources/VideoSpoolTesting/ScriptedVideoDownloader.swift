import Synchronization
public import VideoSpoolCore

/// A ``VideoDownloader`` that answers from a script instead of the network: each call takes the
/// next scripted answer (the last one repeats), and every request is recorded.
public final class ScriptedVideoDownloader: VideoDownloader, Sendable {
    public enum Answer: Sendable {
        /// Stored: `<directory>/<job_id>.mp4` with these many bytes and this checksum.
        case store(bytes: Int64, sha256: String)
        case fail(VideoDownloadError)
        /// Waits until the calling task is cancelled, then fails with `canceled` (a stop mid-download).
        case hang
        /// Waits for ``releaseOne()`` (or ``releaseAll()``), then stores like `store`.
        case held(bytes: Int64, sha256: String)
    }

    private struct State {
        var script: [Answer]
        var requests: [VideoDownloadRequest] = []
        var inFlight = 0
        var peakInFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var releases = 0
        var releaseAll = false
    }

    private let state: Mutex<State>
    /// Each request as it starts, for tests that wait for a download to be under way.
    public let started: AsyncStream<VideoDownloadRequest>
    private let startedContinuation: AsyncStream<VideoDownloadRequest>.Continuation

    public init(_ script: [Answer] = [.store(bytes: 1024, sha256: String(repeating: "ab", count: 32))]) {
        precondition(!script.isEmpty, "a script needs at least one answer")
        self.state = Mutex(State(script: script))
        (started, startedContinuation) = AsyncStream.makeStream()
    }

    public var requests: [VideoDownloadRequest] { state.withLock { $0.requests } }

    /// The most downloads that ran at once.
    public var peakInFlight: Int { state.withLock { $0.peakInFlight } }

    /// Lets one `held` download (waiting now, or the next to wait) finish.
    public func releaseOne() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.releases += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }

    /// Lets every `held` download finish, now and from now on.
    public func releaseAll() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.releaseAll = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func waitForRelease() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.releaseAll { return true }
                if state.releases > 0 {
                    state.releases -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    public func download(_ request: VideoDownloadRequest) async throws(VideoDownloadError) -> StoredVideo {
        let answer = state.withLock { state -> Answer in
            state.requests.append(request)
            state.inFlight += 1
            state.peakInFlight = max(state.peakInFlight, state.inFlight)
            return state.script.count > 1 ? state.script.removeFirst() : state.script[0]
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        startedContinuation.yield(request)
        switch answer {
        case .held(let bytes, let sha256):
            await waitForRelease()
            return StoredVideo(
                path: request.directory + "/" + request.jobID.rawValue + ".mp4",
                bytes: bytes,
                sha256: sha256,
                contentType: "video/mp4"
            )
        case .store(let bytes, let sha256):
            return StoredVideo(
                path: request.directory + "/" + request.jobID.rawValue + ".mp4",
                bytes: bytes,
                sha256: sha256,
                contentType: "video/mp4"
            )
        case .fail(let error):
            throw error
        case .hang:
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            throw .transient(.canceled, "the download was canceled")
        }
    }
}
