import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// Storing videos before the announcement: the pipeline over in-memory fakes, with a scripted
/// downloader in place of the network.
@Suite(.timeLimit(.minutes(1)))
struct DownloadServiceTests {
    private static let sha = String(repeating: "cd", count: 32)

    private static func policy(
        announceAfterDownload: Bool = true,
        deadline: Duration = .seconds(30)
    ) -> PipelinePolicy {
        var policy = PipelineHarness.fastPolicy
        policy.videoStorage = VideoStoragePolicy(
            download: true,
            announceAfterDownload: announceAfterDownload,
            retry: VideoDownloadRetry(
                backoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(20), jitter: 0),
                deadline: deadline
            )
        )
        return policy
    }

    private static func harness(
        store: InMemoryJobStore = InMemoryJobStore(),
        downloader: ScriptedVideoDownloader,
        policy: PipelinePolicy = DownloadServiceTests.policy(),
        maximumConcurrent: Int = 4
    ) -> PipelineHarness {
        PipelineHarness(
            store: store,
            policy: policy,
            downloader: downloader,
            downloads: DownloadService.Configuration(directory: "/videos", maximumConcurrent: maximumConcurrent)
        )
    }

    @Test func aCompletedJobIsAnnouncedWithItsStoredVideo() async throws {
        let downloader = ScriptedVideoDownloader([.store(bytes: 1234, sha256: Self.sha)])
        let harness = Self.harness(downloader: downloader)
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        let video = try #require(attempt.json?["data"]?["video"])
        #expect(video["url"] == .string("https://cdn.test/gen-job-a.mp4"))
        #expect(video["file"] == .string("/videos/job-a.mp4"))
        #expect(video["bytes"] == .int(1234))
        #expect(video["sha256"] == .string(Self.sha))
        #expect(video["content_type"] == .string("video/mp4"))
        #expect(downloader.requests == [
            VideoDownloadRequest(url: "https://cdn.test/gen-job-a.mp4", jobID: JobID("job-a")!, directory: "/videos")
        ])
        #expect(try await harness.store.job(JobID("job-a")!)?.phase == .completed)
    }

    @Test func theWebhookWaitsWhileTheVideoIsStored() async throws {
        let downloader = ScriptedVideoDownloader([.held(bytes: 10, sha256: Self.sha)])
        let harness = Self.harness(downloader: downloader)
        let id = JobID("job-a")!
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            _ = try await downloader.started.collect(1)
            // Committed as `storing` before the download began; nothing announced yet.
            #expect(try await harness.store.job(id)?.phase == .storing)
            #expect(try await harness.store.outcome(for: id) == nil)
            #expect(harness.transport.requests.isEmpty)
            #expect(harness.pipeline.status.storing == 1)
            #expect(harness.pipeline.status.description.contains("1 storing"))
            downloader.releaseAll()
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(attempt.json?["data"]?["video"]?["file"] == .string("/videos/job-a.mp4"))
        #expect(harness.pipeline.status.storing == 0)
    }

    @Test func aTransientFailureIsRetriedAndTheRetryIsAnnounced() async throws {
        let downloader = ScriptedVideoDownloader([
            .fail(.transient(.connectionFailed, "connection refused")),
            .fail(.forStatus(503)),
            .store(bytes: 99, sha256: Self.sha),
        ])
        let harness = Self.harness(downloader: downloader)
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(downloader.requests.count == 3)
        #expect(attempt.json?["data"]?["video"]?["bytes"] == .int(99))
        #expect(attempt.json?["data"]?["video"]?["download_error"] == nil)
    }

    @Test func aFullResultsDirectoryShowsInTheStatusUntilAVideoIsStored() async throws {
        let downloader = ScriptedVideoDownloader([
            .fail(.transient(.diskFull, "No space left on device")),
            .held(bytes: 3, sha256: Self.sha),
        ])
        let harness = Self.harness(downloader: downloader)
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            _ = try await downloader.started.collect(2)
            let status = harness.pipeline.status
            #expect(status.downloadsStalled == "/videos is full (No space left on device)")
            #expect(status.description.contains("downloads stalled: /videos is full"), "\(status)")
            downloader.releaseAll()
            _ = try await harness.transport.attempts.collect(1)
            #expect(harness.pipeline.status.downloadsStalled == nil)
        }
    }

    @Test func aPermanentFailureIsAnnouncedWithTheUpstreamURLAndTheError() async throws {
        let downloader = ScriptedVideoDownloader([.fail(.forStatus(404))])
        let harness = Self.harness(downloader: downloader)
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(downloader.requests.count == 1, "a 404 is not retried")
        let data = try #require(attempt.json?["data"])
        #expect(data["status"] == .string("completed"))
        #expect(data["video"]?["url"] == .string("https://cdn.test/gen-job-a.mp4"))
        #expect(data["video"]?["download_error"] == .string(VideoDownloadError.forStatus(404).message))
        #expect(data["video"]?["file"] == nil)
        #expect(try await harness.store.job(JobID("job-a")!)?.phase == .completed)
    }

    @Test func retriesEndAtTheDeadline() async throws {
        let downloader = ScriptedVideoDownloader([.fail(.transient(.stalled, "no bytes for 60 s"))])
        // Retries 10-20 ms apart until the deadline, which counts from the generation's end: 5 s, so
        // that a full parallel test run starving this task for a second still sees retries.
        let harness = Self.harness(downloader: downloader, policy: Self.policy(deadline: .seconds(5)))
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(downloader.requests.count >= 2, "retried until the deadline")
        #expect(attempt.json?["data"]?["video"]?["download_error"] == .string("no bytes for 60 s"))
    }

    @Test func aStopMidDownloadLeavesTheJobStoringAndTheNextStartAnnouncesItOnce() async throws {
        let store = InMemoryJobStore()
        let id = JobID("job-a")!
        let first = ScriptedVideoDownloader([.hang])
        let before = Self.harness(store: store, downloader: first)
        try await before.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            _ = try await first.started.collect(1)
        }
        // The stop canceled the download: nothing announced, the job still storing.
        #expect(try await store.job(id)?.phase == .storing)
        #expect(try await store.outcome(for: id) == nil)
        #expect(before.transport.requests.isEmpty)

        let second = ScriptedVideoDownloader([.store(bytes: 7, sha256: Self.sha)])
        let after = Self.harness(store: store, downloader: second)
        let attempt = try await after.run { harness in
            try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(second.requests.map(\.jobID) == [id])
        #expect(attempt.json?["data"]?["video"]?["bytes"] == .int(7))
        #expect(try await store.job(id)?.phase == .completed)
        #expect(before.api.submits(for: id) == 1 && after.api.submits(for: id) == 0, "never submitted again")
        #expect(after.transport.requests.count == 1)
    }

    @Test func cancelIsRefusedWhileTheVideoIsStoredAndTheJobStillCompletes() async throws {
        let downloader = ScriptedVideoDownloader([.held(bytes: 5, sha256: Self.sha)])
        let harness = Self.harness(downloader: downloader)
        let id = JobID("job-a")!
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            _ = try await downloader.started.collect(1)
            let control = JobControl(pipeline: harness.pipeline, spool: harness.spool)
            let refusal = await #expect(throws: OperatorRefusal.self) { try await control.cancel(id) }
            #expect(refusal?.description.contains("being stored") == true)
            downloader.releaseAll()
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(attempt.json?["type"] == .string("video.generation.completed"))
        #expect(try await harness.store.job(id)?.phase == .completed)
    }

    @Test func atMostMaxConcurrentVideosDownloadAtOnce() async throws {
        let downloader = ScriptedVideoDownloader([.held(bytes: 1, sha256: Self.sha)])
        let harness = Self.harness(downloader: downloader, maximumConcurrent: 2)
        try await harness.run { harness in
            for name in ["a", "b", "c", "d"] {
                harness.spool.drop("\(name).json", bytes: TestRequests.seedance(jobID: "job-\(name)"))
            }
            _ = try await downloader.started.collect(2)
            // Every job is storing: two download, the others wait for a slot.
            try await eventually("every job storing") { harness.pipeline.status.storing == 4 }
            for _ in 0..<2 { downloader.releaseOne() }
            _ = try await downloader.started.collect(2)
            downloader.releaseAll()
            _ = try await harness.transport.attempts.collect(4)
        }
        #expect(downloader.peakInFlight == 2)
        #expect(downloader.requests.count == 4)
    }

    @Test func announcingFirstSendsTheWebhookAtOnceAndStoresAfterwards() async throws {
        let downloader = ScriptedVideoDownloader([.held(bytes: 1, sha256: Self.sha)])
        let harness = Self.harness(downloader: downloader, policy: Self.policy(announceAfterDownload: false))
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            let attempt = try #require(try await harness.transport.attempts.collect(1).first)
            _ = try await downloader.started.collect(1)
            downloader.releaseAll()
            try await eventually("the download done") { harness.pipeline.status.storing == 0 }
            return attempt
        }
        #expect(attempt.json?["data"]?["video"]?.objectValue?.keys == ["url"])
        #expect(downloader.requests.count == 1)
        #expect(harness.transport.requests.count == 1, "announced once")
    }

    @Test func withoutDownloadsNothingIsFetched() async throws {
        let downloader = ScriptedVideoDownloader()
        let harness = PipelineHarness(downloader: downloader)
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(attempt.json?["data"]?["video"]?.objectValue?.keys == ["url"])
        #expect(downloader.requests.isEmpty)
    }
}
