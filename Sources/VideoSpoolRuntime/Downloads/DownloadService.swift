import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Stores completed generations' videos (`results.download`) before their webhooks go out: jobs
/// in the `storing` phase are downloaded into `results.directory`, at most
/// `results.max_concurrent` at once, retried with backoff until `results.deadline_seconds`, and
/// then finished, with the stored file or with `video.download_error`. With object storage
/// (`results.s3`) the verified file is uploaded too, within the same deadline, before the job is
/// finished; an upload that still fails then is announced with the local file and
/// `video.upload_error`.
///
/// A job stays `storing` in the store until it is finished, so a crash or a stop mid-download
/// leaves it there, and the next start downloads it again (resuming the part file where the server
/// allows) and uploads it again (to the same key); the completed event is recorded once, in the
/// same transaction as `completed`.
public final class DownloadService: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// `results.directory`; the daemon creates it before the pipeline runs.
        public var directory: String
        /// `results.max_concurrent`.
        public var maximumConcurrent: Int

        public init(directory: String, maximumConcurrent: Int = 4) {
            self.directory = directory
            self.maximumConcurrent = max(1, maximumConcurrent)
        }
    }

    private struct Tracked {
        var job: Job
        /// Attempts made by this daemon (the backoff counts them; the deadline counts from the
        /// generation's end whatever they were).
        var attempts = 0
        /// Announced already (`results.announce_after_download: false`): the result is only logged.
        var announced = false
        /// The verified local copy, once downloaded: later attempts only upload it again.
        var stored: StoredVideo?
    }

    private struct State {
        var jobs: [JobID: Tracked] = [:]
        var timers = TimerQueue<JobID>()
        var inFlight = 0
        var stopping = false
        /// Set by a full results directory, cleared by the next stored video.
        var stalled: String?
    }

    private let context: PipelineContext
    private let downloader: any VideoDownloader
    /// `results.s3`: each stored video is uploaded before it is announced; nil without.
    private let objects: (any VideoObjectStorage)?
    /// Where a local copy is removed once uploaded (`results.keep_local: false`).
    private let localVideos: (any StoredVideoFiles)?
    private let finisher: JobFinisher
    private let configuration: Configuration
    private let state = Mutex(State())
    private let wake = WakeSignal()

    public init(
        context: PipelineContext,
        downloader: any VideoDownloader,
        objects: (any VideoObjectStorage)? = nil,
        localVideos: (any StoredVideoFiles)? = nil,
        finisher: JobFinisher,
        configuration: Configuration
    ) {
        self.context = context
        self.downloader = downloader
        self.objects = objects
        self.localVideos = localVideos
        self.finisher = finisher
        self.configuration = configuration
    }

    /// Commits a job's new `storing` phase and downloads its video at `at`; a job another daemon
    /// holds now is left to it.
    public func begin(_ job: Job, at: Timestamp) async throws {
        guard try await context.commitHeld([.updateJob(job)]) else { return }
        context.logger(for: job).info("Generation completed; storing its video", metadata: ["event": "video.storing"])
        track(job, at: at)
    }

    /// After a job was announced: stores its video when `results.announce_after_download` is off.
    public func storeIfAnnounced(_ job: Job) {
        guard job.phase == .completed, context.policy.videoStorage.storesAfterAnnouncement else { return }
        storeAnnounced(job)
    }

    /// Downloads a job whose `storing` phase is committed, at `at`.
    public func track(_ job: Job, at: Timestamp) {
        precondition(job.phase == .storing, "Invalid state: storing the video of a \(job.phase) job")
        schedule(Tracked(job: job), at: at)
    }

    /// Stores the video of a job already announced (`results.announce_after_download: false`):
    /// a convenience, logged but not announced, and not resumed by a restart.
    public func storeAnnounced(_ job: Job) {
        guard job.phase == .completed, job.videoURL != nil else { return }
        schedule(Tracked(job: job, announced: true), at: context.time.now())
    }

    private func schedule(_ tracked: Tracked, at: Timestamp) {
        state.withLock { state in
            state.jobs[tracked.job.id] = tracked
            state.timers.schedule(tracked.job.id, at: at)
        }
        update()
        wake.signal()
    }

    /// Jobs whose videos are waiting or being downloaded.
    public var storingCount: Int { state.withLock { $0.jobs.count } }

    /// Why downloads cannot store anything now (the results directory is full), for STATUS.
    public var stalledReason: String? { state.withLock { $0.jobs.isEmpty ? nil : $0.stalled } }

    /// Stops acting on every job (this daemon's lease is gone); a download under way finishes, but
    /// its result is not committed. Returns how many jobs were dropped.
    func abandonAll() -> Int {
        let dropped = state.withLock { state -> Int in
            let count = state.jobs.count
            state.jobs.removeAll()
            state.timers = TimerQueue()
            return count
        }
        update()
        return dropped
    }

    public func run() async throws {
        // A download may take long: a stop cancels it, and its part file is resumed next time.
        try await context.runServiceLoop(
            .downloads,
            wake: wake,
            cancellingWorkOnStop: true,
            stopping: { self.state.withLock { $0.stopping = true } },
            next: nextStep,
            perform: { tracked, group in
                group.addTask {
                    await self.store(tracked)
                    self.state.withLock { $0.inFlight -= 1 }
                    self.wake.signal()
                }
            }
        )
    }


    private func nextStep() -> ServiceLoopStep<Tracked> {
        let now = context.time.now()
        let limit = configuration.maximumConcurrent
        return state.withLock { state -> ServiceLoopStep<Tracked> in
            if state.stopping || Task.isCancelled { return .stop }
            // At the limit: a finishing download signals.
            guard state.inFlight < limit else { return .wait(until: nil) }
            guard let due = state.timers.nextDue() else { return .wait(until: nil) }
            guard due <= now else { return .wait(until: due) }
            guard let id = state.timers.popDue(now: now, limit: 1).first, var tracked = state.jobs[id] else {
                return .wait(until: now)
            }
            tracked.attempts += 1
            state.jobs[id] = tracked
            state.inFlight += 1
            return .work(tracked)
        }
    }

    /// What one attempt came to.
    private enum Step {
        case downloadFailed(VideoDownloadError)
        /// Downloaded (now or by an earlier attempt), but the upload failed.
        case uploadFailed(StoredVideo, VideoDownloadError)
        /// Downloaded, and uploaded when there is object storage.
        case stored(StoredVideo, UploadedVideo?)

        var video: StoredVideo? {
            switch self {
            case .downloadFailed: nil
            case .uploadFailed(let video, _), .stored(let video, _): video
            }
        }
    }

    private func store(_ tracked: Tracked) async {
        let logger = context.logger(for: tracked.job)
        guard let step = await attempt(tracked, logger: logger) else {
            // The daemon is stopping: the job stays `storing` and the next start resumes it.
            logger.info("Storing the video interrupted; it resumes at the next start", metadata: ["event": "video.interrupted"])
            return
        }
        guard stillTracked(tracked.job.id) else { return }
        if tracked.announced {
            forget(tracked.job.id)
            switch step {
            case .stored(_, let uploaded?):
                logUploaded(uploaded, logger: logger)
                if !context.policy.videoStorage.keepLocal { await removeLocalCopy(tracked.job.id, logger: logger) }
            case .stored(_, nil): break
            case .downloadFailed(let error): logFailed(error, logger: logger, final: true)
            case .uploadFailed(_, let error): logUploadFailed(error, logger: logger, final: true)
            }
            return
        }
        do {
            try await settle(tracked, step: step, logger: logger)
        } catch {
            // The store refused the commit (and said why in its own log): try again later,
            // without downloading again what is stored already.
            logger.error("Could not record the video's result", metadata: ["error.message": "\(error)"])
            var retained = tracked
            retained.stored = step.video ?? tracked.stored
            reschedule(retained, at: context.time.now() + .seconds(5))
        }
    }

    /// Downloads the video (unless an earlier attempt did) and uploads it when there is object
    /// storage; nil when the daemon's stop interrupted it.
    private func attempt(_ tracked: Tracked, logger: Logger) async -> Step? {
        let video: StoredVideo
        if let kept = tracked.stored {
            video = kept
        } else {
            switch await download(tracked.job) {
            case nil: return nil
            case .failure(let error)?: return .downloadFailed(error)
            case .success(let downloaded)?:
                logStored(downloaded, logger: logger)
                video = downloaded
            }
        }
        guard let objects else { return .stored(video, nil) }
        do {
            // The key's date is the generation's end, so a redone upload writes the same key.
            let date = tracked.job.finishedAt ?? context.time.now()
            return .stored(video, try await objects.upload(video, jobID: tracked.job.id, date: date))
        } catch {
            if error.code == .canceled || Task.isCancelled { return nil }
            return .uploadFailed(video, error)
        }
    }

    /// nil when the daemon's stop canceled the download.
    private func download(_ job: Job) async -> Result<StoredVideo, VideoDownloadError>? {
        guard let url = job.videoURL else {
            preconditionFailure("Invalid state: job \(job.id) has no video URL to store")
        }
        let request = VideoDownloadRequest(url: url, jobID: job.id, directory: configuration.directory)
        let outcome: Result<StoredVideo, VideoDownloadError>
        do {
            outcome = .success(try await downloader.download(request))
        } catch {
            outcome = .failure(error)
        }
        if case .failure(let error) = outcome, error.code == .canceled || Task.isCancelled { return nil }
        state.withLock { state in
            switch outcome {
            case .success: state.stalled = nil
            case .failure(let error) where error.code == .diskFull:
                state.stalled = "\(configuration.directory) is full (\(error.message))"
            case .failure: break
            }
        }
        return outcome
    }

    /// Commits what the attempt means for the job, and finishes it when it is over.
    private func settle(_ tracked: Tracked, step: Step, logger: Logger) async throws {
        var job = tracked.job
        let now = context.time.now()
        let policy = context.policy.videoStorage
        switch step {
        case .stored(let video, let uploaded):
            _ = context.machine.videoStored(&job, now: now)
            forget(job.id)
            if let uploaded { logUploaded(uploaded, logger: logger) }
            let upload = uploaded.map { policy.upload(.success($0)) }
            // The local copy goes only after the event that no longer names it is committed: a
            // crash in between leaves a file that retention removes with the job, never a
            // `storing` job whose only copy is remote.
            guard try await finish(job, storage: .stored(video, upload: upload)) else { return }
            if case .uploaded(_, localCopyKept: false)? = upload { await removeLocalCopy(job.id, logger: logger) }
        case .downloadFailed(let error), .uploadFailed(_, let error):
            var random = SystemRandomNumberGenerator()
            let action = context.machine.videoStoreFailed(
                &job,
                error: error,
                attempt: tracked.attempts,
                now: now,
                using: &random
            )
            let video = step.video
            switch action {
            case .storeVideo(let at):
                if video == nil {
                    logFailed(error, logger: logger, final: false, retryAt: at)
                } else {
                    logUploadFailed(error, logger: logger, final: false, retryAt: at)
                }
                guard try await context.commitHeld([.updateJob(job)]) else {
                    forget(job.id)
                    return
                }
                var next = tracked
                next.job = job
                next.stored = video
                reschedule(next, at: at)
            case .finish:
                forget(job.id)
                if let video {
                    logUploadFailed(error, logger: logger, final: true)
                    _ = try await finish(job, storage: .stored(video, upload: policy.upload(.failure(error))))
                } else {
                    logFailed(error, logger: logger, final: true)
                    _ = try await finish(job, storage: .failed(error))
                }
            case .enqueue, .poll, .pauseSubmissions, .pausePolling:
                preconditionFailure("Invalid state: a failed download produced \(action)")
            }
        }
    }

    /// Removes the local copy of an uploaded video (`results.keep_local: false`). A failure leaves
    /// the file to retention, which removes it with the job.
    private func removeLocalCopy(_ id: JobID, logger: Logger) async {
        guard let localVideos else { return }
        do {
            try await localVideos.removeStoredVideo(jobID: id)
            logger.debug("Local copy of the uploaded video removed", metadata: ["event": "video.local_copy_removed"])
        } catch {
            logger.warning(
                "Could not remove the local copy of an uploaded video; retention removes it with the job",
                metadata: ["error.message": "\(error)"]
            )
        }
    }

    /// - Returns: false when another daemon holds the job now (it stores the video again and
    ///   announces it).
    private func finish(_ job: Job, storage: VideoStorageOutcome) async throws -> Bool {
        do {
            try await finisher.finish(job, storage: storage)
            return true
        } catch is LeaseLost {
            return false
        }
    }

    private func stillTracked(_ id: JobID) -> Bool {
        state.withLock { $0.jobs[id] != nil }
    }

    private func forget(_ id: JobID) {
        state.withLock { _ = $0.jobs.removeValue(forKey: id) }
        update()
    }

    private func reschedule(_ tracked: Tracked, at: Timestamp) {
        state.withLock { state in
            guard state.jobs[tracked.job.id] != nil else { return }
            state.jobs[tracked.job.id] = tracked
            state.timers.schedule(tracked.job.id, at: at)
        }
        wake.signal()
    }

    private func update() {
        let count = storingCount
        context.counters.update { $0.storing = count }
    }

    private func logStored(_ video: StoredVideo, logger: Logger) {
        logger.info(
            "Video stored",
            metadata: [
                "event": "video.stored",
                "video.file": "\(video.path)",
                "video.bytes": "\(video.bytes)",
                "video.sha256": "\(video.sha256)",
                "video.content_type": "\(video.contentType)",
            ]
        )
    }

    private func logUploaded(_ uploaded: UploadedVideo, logger: Logger) {
        // Not the presigned link: it works as a credential until it expires.
        logger.info(
            "Video uploaded",
            metadata: [
                "event": "video.uploaded",
                "video.object": "\(uploaded.object)",
                "video.object_url_expires_at": "\(uploaded.urlExpiresAt.iso8601)",
            ]
        )
    }

    private func logUploadFailed(_ error: VideoDownloadError, logger: Logger, final: Bool, retryAt: Timestamp? = nil) {
        var metadata: Logger.Metadata = [
            "event": final ? "video.upload_failed" : "video.upload_retry",
            "error.code": "\(error.code)",
            "error.message": "\(error.message)",
        ]
        if let retryAt { metadata["retry.at"] = "\(retryAt)" }
        if final {
            logger.warning("Video not uploaded; the job is announced with the local file and upload_error", metadata: metadata)
        } else {
            logger.notice("Video upload failed; it will be retried", metadata: metadata)
        }
    }

    private func logFailed(_ error: VideoDownloadError, logger: Logger, final: Bool, retryAt: Timestamp? = nil) {
        var metadata: Logger.Metadata = [
            "event": final ? "video.failed" : "video.retry",
            "error.code": "\(error.code)",
            "error.message": "\(error.message)",
        ]
        if let retryAt { metadata["retry.at"] = "\(retryAt)" }
        if final {
            logger.warning("Video not stored; the job is announced with the upstream URL", metadata: metadata)
        } else {
            logger.notice("Video download failed; it will be retried", metadata: metadata)
        }
    }
}
