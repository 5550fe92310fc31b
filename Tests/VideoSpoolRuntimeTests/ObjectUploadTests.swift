import Logging
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// Uploading stored videos to object storage (`results.s3`) before the announcement: the pipeline
/// over in-memory fakes, a scripted downloader and a scripted object storage.
@Suite(.timeLimit(.minutes(1)))
struct ObjectUploadTests {
    private static let sha = String(repeating: "cd", count: 32)
    private static let id = JobID("job-a")!

    private static func policy(keepLocal: Bool = true, deadline: Duration = .seconds(30)) -> PipelinePolicy {
        var policy = PipelineHarness.fastPolicy
        policy.videoStorage = VideoStoragePolicy(
            download: true,
            announceAfterDownload: true,
            retry: VideoDownloadRetry(
                backoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(20), jitter: 0),
                deadline: deadline
            ),
            keepLocal: keepLocal
        )
        return policy
    }

    private static func harness(
        store: InMemoryJobStore = InMemoryJobStore(),
        downloader: ScriptedVideoDownloader = ScriptedVideoDownloader([.store(bytes: 1234, sha256: sha)]),
        objects: ScriptedObjectStorage,
        localVideos: RecordingStoredVideoFiles = RecordingStoredVideoFiles(),
        policy: PipelinePolicy = ObjectUploadTests.policy()
    ) -> PipelineHarness {
        PipelineHarness(
            store: store,
            policy: policy,
            downloader: downloader,
            downloads: DownloadService.Configuration(directory: "/videos"),
            objects: objects,
            localVideos: localVideos
        )
    }

    /// Drops one request and returns the first webhook attempt.
    private static func announce(_ harness: PipelineHarness) async throws -> JSONValue {
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: id.rawValue))
            return try #require(try await harness.transport.attempts.collect(1).first?.json?["data"]?["video"])
        }
    }

    @Test func aStoredVideoIsUploadedAndAnnouncedWithItsObjectAndLink() async throws {
        let objects = ScriptedObjectStorage()
        let localVideos = RecordingStoredVideoFiles()
        let harness = Self.harness(objects: objects, localVideos: localVideos)
        let video = try await Self.announce(harness)

        let upload = try #require(objects.uploads.first)
        #expect(objects.uploads.count == 1)
        #expect(upload.jobID == Self.id)
        #expect(upload.video == StoredVideo(path: "/videos/job-a.mp4", bytes: 1234, sha256: Self.sha, contentType: "video/mp4"))
        let job = try #require(try await harness.store.job(Self.id))
        #expect(upload.date == job.finishedAt, "the key's date is the generation's end, the same after a restart")
        let object = ScriptedObjectStorage.object(fileName: "job-a.mp4", date: upload.date)
        #expect(video["object"] == .string(object))
        #expect(video["object_url"]?.stringValue?.hasPrefix("https://videos.s3.test/") == true)
        let expiry = Timestamp(secondsSinceEpoch: upload.date.secondsSinceEpoch + ScriptedObjectStorage.presignSeconds)
        #expect(video["object_url_expires_at"] == .string(expiry.iso8601))
        #expect(video["file"] == .string("/videos/job-a.mp4"), "results.keep_local defaults to true")
        #expect(video["sha256"] == .string(Self.sha))
        #expect(video["bytes"] == .int(1234))
        #expect(video["upload_error"] == nil)
        #expect(localVideos.removed.isEmpty)
        #expect(job.phase == .completed)
    }

    @Test func withoutKeepLocalTheLocalCopyGoesOnlyAfterTheConfirmedUpload() async throws {
        let objects = ScriptedObjectStorage([.held])
        let localVideos = RecordingStoredVideoFiles()
        let harness = Self.harness(objects: objects, localVideos: localVideos, policy: Self.policy(keepLocal: false))
        let video = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: Self.id.rawValue))
            _ = try await objects.started.collect(1)
            // Uploading: still storing, nothing announced, the local copy still there.
            #expect(try await harness.store.job(Self.id)?.phase == .storing)
            #expect(harness.transport.requests.isEmpty)
            #expect(localVideos.removed.isEmpty)
            objects.releaseAll()
            let video = try #require(try await harness.transport.attempts.collect(1).first?.json?["data"]?["video"])
            try await eventually("the local copy removed") { localVideos.removed == [Self.id] }
            return video
        }
        #expect(video["file"] == nil, "the webhook names no file that is gone")
        #expect(video["object"]?.stringValue?.hasSuffix("/job-a.mp4") == true)
        #expect(video["sha256"] == .string(Self.sha))
    }

    @Test func aTransientUploadFailureIsRetriedWithoutDownloadingAgain() async throws {
        let downloader = ScriptedVideoDownloader([.store(bytes: 99, sha256: Self.sha)])
        let objects = ScriptedObjectStorage([
            .fail(.transient(.uploadFailed, "object storage: transport: connection refused")),
            .fail(VideoDownloadError(code: .uploadFailed, isTransient: true, message: "object storage: throttled", statusCode: 503)),
            .upload,
        ])
        let harness = Self.harness(downloader: downloader, objects: objects)
        let video = try await Self.announce(harness)
        #expect(objects.uploads.count == 3)
        #expect(downloader.requests.count == 1, "the verified local copy is uploaded again, not downloaded again")
        #expect(video["object"] != nil)
        #expect(video["upload_error"] == nil)
        #expect(harness.transport.requests.count == 1)
    }

    @Test func atTheDeadlineTheJobIsAnnouncedWithTheLocalFileAndTheUploadError() async throws {
        let objects = ScriptedObjectStorage([.fail(.transient(.uploadFailed, "object storage: serverError (HTTP 500): boom"))])
        let localVideos = RecordingStoredVideoFiles()
        // Retries 10-20 ms apart until the deadline, which counts from the generation's end: 5 s,
        // so that a full parallel test run starving this task for a second still sees retries.
        let harness = Self.harness(
            objects: objects,
            localVideos: localVideos,
            policy: Self.policy(keepLocal: false, deadline: .seconds(5))
        )
        let video = try await Self.announce(harness)
        #expect(objects.uploads.count >= 2, "retried until the deadline")
        #expect(video["upload_error"] == .string("object storage: serverError (HTTP 500): boom"))
        #expect(video["file"] == .string("/videos/job-a.mp4"), "the local copy is the only copy: it stays")
        #expect(video["sha256"] == .string(Self.sha))
        #expect(video["object"] == nil && video["object_url"] == nil)
        #expect(video["download_error"] == nil)
        #expect(localVideos.removed.isEmpty)
        #expect(try await harness.store.job(Self.id)?.phase == .completed)
    }

    @Test func aPermanentUploadFailureIsAnnouncedAtOnce() async throws {
        let objects = ScriptedObjectStorage([
            .fail(.permanent(.uploadFailed, "object storage: rejected (HTTP 403 AccessDenied): Access Denied"))
        ])
        let harness = Self.harness(objects: objects)
        let video = try await Self.announce(harness)
        #expect(objects.uploads.count == 1)
        #expect(video["upload_error"]?.stringValue?.contains("AccessDenied") == true)
        #expect(video["file"] == .string("/videos/job-a.mp4"))
    }

    @Test func aStopMidUploadLeavesTheJobStoringAndTheNextStartUploadsAndAnnouncesOnce() async throws {
        let store = InMemoryJobStore()
        let first = ScriptedObjectStorage([.hang])
        let before = Self.harness(store: store, objects: first)
        try await before.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: Self.id.rawValue))
            _ = try await first.started.collect(1)
        }
        #expect(try await store.job(Self.id)?.phase == .storing)
        #expect(try await store.outcome(for: Self.id) == nil)
        #expect(before.transport.requests.isEmpty)

        let second = ScriptedObjectStorage()
        let after = Self.harness(store: store, objects: second)
        let video = try await after.run { harness in
            try #require(try await harness.transport.attempts.collect(1).first?.json?["data"]?["video"])
        }
        #expect(second.uploads.map(\.jobID) == [Self.id])
        #expect(second.uploads.first?.date == first.uploads.first?.date, "the same key as the interrupted upload")
        #expect(video["object"] != nil)
        #expect(after.transport.requests.count == 1)
        #expect(try await store.job(Self.id)?.phase == .completed)
    }

    @Test func announcingFirstUploadsAfterwardsAndRemovesTheLocalCopyWithoutKeepLocal() async throws {
        let objects = ScriptedObjectStorage()
        let localVideos = RecordingStoredVideoFiles()
        var policy = Self.policy(keepLocal: false)
        policy.videoStorage.announceAfterDownload = false
        let harness = Self.harness(objects: objects, localVideos: localVideos, policy: policy)
        let video = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: Self.id.rawValue))
            let video = try #require(try await harness.transport.attempts.collect(1).first?.json?["data"]?["video"])
            try await eventually("uploaded, then the local copy removed") { localVideos.removed == [Self.id] }
            return video
        }
        #expect(video.objectValue?.keys == ["url"], "announced before anything was stored")
        #expect(objects.uploads.map(\.jobID) == [Self.id])
        #expect(harness.transport.requests.count == 1, "announced once")
    }

    @Test(arguments: [true, false])
    func pruningDeletesTheAnnouncedObjectOnlyWithDeleteOnPrune(deleteOnPrune: Bool) async throws {
        let objects = ScriptedObjectStorage(deletesOnPrune: deleteOnPrune)
        let harness = Self.harness(objects: objects)
        let video = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: Self.id.rawValue))
            let video = try #require(try await harness.transport.attempts.collect(1).first?.json?["data"]?["video"])
            try await eventually("the delivery settled") {
                try await harness.store.outcome(for: Self.id)?.deliveries.allSatisfy { $0.state == .delivered } == true
            }
            return video
        }
        let object = try #require(video["object"]?.stringValue)
        let control = JobControl(
            store: harness.store,
            spool: harness.spool,
            time: SystemTimeSource(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            videos: RecordingStoredVideoFiles(),
            objects: objects
        )
        let result = try await control.prune(before: SystemTimeSource().now() + .seconds(1))
        #expect(result.pruned == 1)
        #expect(objects.removed == (deleteOnPrune ? [object] : []))
    }
}
