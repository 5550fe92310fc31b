import Testing
import VideoSpoolCore

private let now = referenceTime

private let completedBody = #"{"id":"gen-1","status":"completed","video":{"url":"https://cdn.example.com/gen-1.mp4"}}"#

private func completedPoll() -> APIExchange {
    .response(APIResponse(statusCode: 200, body: Array(completedBody.utf8)))
}

/// The `storing` phase: a completed generation's video is stored before the job is announced.
struct VideoStorageRulesTests {
    private let deadline = Duration.seconds(3600)

    private func machine(download: Bool = true, announceAfterDownload: Bool = true) -> JobStateMachine {
        var policy = PipelinePolicy()
        policy.videoStorage = VideoStoragePolicy(
            download: download,
            announceAfterDownload: announceAfterDownload,
            retry: VideoDownloadRetry(backoff: Backoff(initial: .seconds(5), maximum: .seconds(300), jitter: 0), deadline: deadline)
        )
        return JobStateMachine(policy: policy)
    }

    private func generatingJob() -> Job {
        var job = makeJob(phase: .generating, acceptedAt: now - .seconds(60))
        job.submitAttempts = 1
        job.generationID = "gen-1"
        job.submittedAt = now - .seconds(55)
        job.polls = 3
        return job
    }

    /// A job that completed upstream at `now` and is storing its video.
    private func storingJob() -> Job {
        var job = generatingJob()
        var random = SplitMix64(seed: 1)
        _ = machine().pollFinished(&job, exchange: completedPoll(), now: now, using: &random)
        return job
    }

    @Test func aCompletedGenerationIsStoredBeforeItIsAnnounced() {
        var job = generatingJob()
        var random = SplitMix64(seed: 1)
        let action = machine().pollFinished(&job, exchange: completedPoll(), now: now, using: &random)
        #expect(action == .storeVideo(at: now))
        #expect(job.phase == .storing)
        #expect(!job.phase.isTerminal)
        #expect(!job.phase.holdsGenerationSlot)
        #expect(job.videoURL == "https://cdn.example.com/gen-1.mp4")
        #expect(job.finishedAt == now, "the generation's end: it starts the storing deadline")
    }

    @Test func withoutDownloadsOrWhenAnnouncingFirstTheJobCompletesAtOnce() {
        for machine in [machine(download: false), machine(announceAfterDownload: false)] {
            var job = generatingJob()
            var random = SplitMix64(seed: 1)
            #expect(machine.pollFinished(&job, exchange: completedPoll(), now: now, using: &random) == .finish)
            #expect(job.phase == .completed)
        }
        #expect(VideoStoragePolicy(download: true, announceAfterDownload: false).storesAfterAnnouncement)
        #expect(!VideoStoragePolicy(download: false, announceAfterDownload: false).storesAfterAnnouncement)
    }

    @Test func aStoredVideoCompletesTheJob() {
        var job = storingJob()
        #expect(machine().videoStored(&job, now: now + .seconds(3)) == .finish)
        #expect(job.phase == .completed)
        #expect(job.nextActionAt == nil)
        #expect(job.finishedAt == now)
    }

    @Test func aTransientFailureIsRetriedWithBackoffBeforeTheDeadline() {
        var job = storingJob()
        var random = SplitMix64(seed: 1)
        let error = VideoDownloadError.transient(.connectionFailed, "connection refused")
        let first = machine().videoStoreFailed(&job, error: error, attempt: 1, now: now + .seconds(1), using: &random)
        #expect(first == .storeVideo(at: now + .seconds(6)))
        #expect(job.phase == .storing)
        #expect(job.nextActionAt == now + .seconds(6))
        let second = machine().videoStoreFailed(&job, error: error, attempt: 2, now: now + .seconds(7), using: &random)
        #expect(second == .storeVideo(at: now + .seconds(17)))
    }

    @Test func theLastRetryNeverStartsPastTheDeadline() {
        var job = storingJob()
        var random = SplitMix64(seed: 1)
        let error = VideoDownloadError.transient(.stalled, "no bytes for 60 s")
        let late = now + deadline - .seconds(2)
        #expect(machine().videoStoreFailed(&job, error: error, attempt: 9, now: late, using: &random) == .storeVideo(at: now + deadline))
    }

    @Test func atTheDeadlineTheJobCompletesWithoutItsFile() {
        var job = storingJob()
        var random = SplitMix64(seed: 1)
        let error = VideoDownloadError.transient(.httpStatus, "the video server answered 503", statusCode: 503)
        let action = machine().videoStoreFailed(&job, error: error, attempt: 30, now: now + deadline, using: &random)
        #expect(action == .finish)
        #expect(job.phase == .completed)
        #expect(job.failure == nil, "the generation succeeded; only storing its video did not")
    }

    @Test func aPermanentFailureCompletesTheJobAtOnce() {
        var job = storingJob()
        var random = SplitMix64(seed: 1)
        let action = machine().videoStoreFailed(
            &job,
            error: .forStatus(404),
            attempt: 1,
            now: now + .seconds(1),
            using: &random
        )
        #expect(action == .finish)
        #expect(job.phase == .completed)
    }

    @Test func aRestartResumesStoring() {
        var job = storingJob()
        #expect(machine().recovered(&job, now: now + .seconds(30)) == .storeVideo(at: now))
        job.nextActionAt = nil
        #expect(machine().recovered(&job, now: now + .seconds(30)) == .storeVideo(at: now + .seconds(30)))
        #expect(job.phase == .storing)
    }

    @Test func cancelIsRefusedWhileTheVideoIsStored() {
        var job = storingJob()
        let refusal = #expect(throws: OperatorRefusal.self) { try machine().cancel(&job, now: now) }
        #expect(refusal?.description.contains("being stored") == true)
        #expect(job.phase == .storing)
    }

    @Test func storingIsAStateOfItsOwnForOperators() {
        #expect(JobState(phase: .storing, deliveriesPending: false) == .storing)
        #expect(JobState.storing.phases == [.storing])
        #expect(JobState.storing.needsDeliveriesPending == nil)
    }

    // MARK: - The webhook's video object

    private func completedJob() -> Job {
        var job = storingJob()
        _ = machine().videoStored(&job, now: now)
        return job
    }

    @Test func theCompletedEventCarriesTheStoredFile() throws {
        let stored = StoredVideo(
            path: "/var/lib/videospool/videos/job-1.mp4",
            bytes: 4_718_592,
            sha256: String(repeating: "9f", count: 32),
            contentType: "video/mp4"
        )
        let event = WebhookPayload.finished(completedJob(), eventID: "msg_1", now: now, storage: .stored(stored))
        let video = try #require(try parsed(event.body)["data"]?["video"])
        #expect(video["url"]?.stringValue == "https://cdn.example.com/gen-1.mp4")
        #expect(video["file"]?.stringValue == "/var/lib/videospool/videos/job-1.mp4")
        #expect(video["bytes"]?.numberValue?.text == "4718592")
        #expect(video["sha256"]?.stringValue == String(repeating: "9f", count: 32))
        #expect(video["content_type"]?.stringValue == "video/mp4")
        #expect(video["download_error"] == nil)
    }

    @Test func aVideoNotStoredIsAnnouncedWithTheUpstreamURLAndTheError() throws {
        let error = VideoDownloadError.forStatus(403)
        let event = WebhookPayload.finished(completedJob(), eventID: "msg_1", now: now, storage: .failed(error))
        let video = try #require(try parsed(event.body)["data"]?["video"])
        #expect(video["url"]?.stringValue == "https://cdn.example.com/gen-1.mp4")
        #expect(video["download_error"]?.stringValue == error.message)
        #expect(video["file"] == nil)
        #expect(video.objectValue?.keys == ["url", "download_error"])
    }

    @Test func withoutStorageTheVideoHasOnlyItsURL() throws {
        let event = WebhookPayload.finished(completedJob(), eventID: "msg_1", now: now)
        #expect(try parsed(event.body)["data"]?["video"]?.objectValue?.keys == ["url"])
    }

    private static let storedFile = StoredVideo(
        path: "/var/lib/videospool/videos/job-1.mp4",
        bytes: 42,
        sha256: String(repeating: "9f", count: 32),
        contentType: "video/mp4"
    )
    private static let uploaded = UploadedVideo(
        object: "s3://results/2026-11-29/job-1.mp4",
        url: "https://results.s3.test/2026-11-29/job-1.mp4?X-Amz-Signature=abc",
        urlExpiresAt: Timestamp(secondsSinceEpoch: 1_800_000_000)
    )

    @Test(arguments: [true, false])
    func anUploadedVideoIsAnnouncedWithItsObjectAndPresignedLink(keepLocal: Bool) throws {
        let policy = VideoStoragePolicy(download: true, keepLocal: keepLocal)
        let upload = policy.upload(.success(Self.uploaded))
        #expect(upload == .uploaded(Self.uploaded, localCopyKept: keepLocal))
        let event = WebhookPayload.finished(completedJob(), eventID: "msg_1", now: now, storage: .stored(Self.storedFile, upload: upload))
        let video = try #require(try parsed(event.body)["data"]?["video"])
        #expect(video["object"]?.stringValue == "s3://results/2026-11-29/job-1.mp4")
        #expect(video["object_url"]?.stringValue == Self.uploaded.url)
        #expect(video["object_url_expires_at"]?.stringValue == Timestamp(secondsSinceEpoch: 1_800_000_000).iso8601)
        #expect(video["sha256"]?.stringValue == String(repeating: "9f", count: 32))
        // Without results.keep_local the file is gone once announced: the event does not name it.
        #expect((video["file"] != nil) == keepLocal)
        #expect(video["upload_error"] == nil)
        #expect(WebhookPayload.announcedObject(in: event) == "s3://results/2026-11-29/job-1.mp4")
    }

    @Test func aFailedUploadKeepsTheLocalCopyAndSaysWhy() throws {
        let error = VideoDownloadError.permanent(.uploadFailed, "object storage: rejected (HTTP 403 AccessDenied): denied")
        let upload = VideoStoragePolicy(download: true, keepLocal: false).upload(.failure(error))
        #expect(upload == .failed(error), "the local copy is the only one: kept whatever results.keep_local says")
        let event = WebhookPayload.finished(completedJob(), eventID: "msg_1", now: now, storage: .stored(Self.storedFile, upload: upload))
        let video = try #require(try parsed(event.body)["data"]?["video"])
        #expect(video["file"]?.stringValue == Self.storedFile.path)
        #expect(video["upload_error"]?.stringValue == error.message)
        #expect(video["object"] == nil && video["object_url"] == nil)
        #expect(WebhookPayload.announcedObject(in: event) == nil)
    }
}
