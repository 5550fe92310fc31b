import AsyncHTTPClient
import Foundation
import Hummingbird
import InMemoryLogging
import Logging
import NIOCore
import Testing
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolSimulator
import VideoSpoolTesting

/// The video downloader against the simulator's served videos on loopback.
@Suite(.timeLimit(.minutes(2)))
struct HTTPVideoDownloaderTests {
    static let jobID = JobID(trusted: "job-video")

    static func request(_ url: String, _ directory: String) -> VideoDownloadRequest {
        VideoDownloadRequest(url: url, jobID: jobID, directory: directory)
    }

    // MARK: - Storing

    @Test func aVideoIsStoredWithItsExactBytesDigestSizeAndExtension() async throws {
        let simulator = try videoSimulator()
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    let stored = try await downloader.download(Self.request(url, directory))
                    let expected = SimulatedVideo(generationID: id).bytes
                    #expect(stored.path == directory + "/job-video.mp4")
                    #expect(try fileBytes(stored.path) == expected)
                    #expect(stored.bytes == Int64(expected.count))
                    #expect(stored.sha256 == sha256Hex(expected))
                    #expect(stored.sha256 == sha256Hex(try fileBytes(stored.path)))
                    #expect(stored.contentType == "video/mp4")
                    // Renamed into place: the part file is gone.
                    #expect(try listing(directory) == ["job-video.mp4"])
                    #expect(simulator.api.videoRequests.map(\.range) == [nil])
                }
            }
        }
    }

    @Test func twoGenerationsGiveDifferentFilesAndDigests() async throws {
        let simulator = try videoSimulator()
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let first = try await downloader.download(
                        VideoDownloadRequest(url: try completedGeneration(simulator).url, jobID: JobID(trusted: "a"), directory: directory)
                    )
                    let second = try await downloader.download(
                        VideoDownloadRequest(url: try completedGeneration(simulator).url, jobID: JobID(trusted: "b"), directory: directory)
                    )
                    #expect(first.sha256 != second.sha256)
                    #expect(try listing(directory) == ["a.mp4", "b.mp4"])
                }
            }
        }
    }

    @Test(arguments: [
        ("video/webm", "webm", "video/webm"),
        ("video/quicktime", "mov", "video/quicktime"),
        ("Video/MP4; codecs=\"avc1.42E01E\"", "mp4", "video/mp4"),
        ("application/octet-stream", "mp4", "application/octet-stream"),
    ])
    func theExtensionFollowsTheContentType(contentType: String, fileExtension: String, mediaType: String) async throws {
        let router = Router()
        router.get("/clip") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "not really a video"))
            )
        }
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await LoopbackServer.serve(router) { port in
                    let stored = try await downloader.download(Self.request("http://127.0.0.1:\(port)/clip", directory))
                    #expect(stored.path == "\(directory)/job-video.\(fileExtension)")
                    #expect(stored.contentType == mediaType)
                    #expect(try listing(directory) == ["job-video.\(fileExtension)"])
                }
            }
        }
    }

    // MARK: - The size cap

    @Test func aVideoAnnouncedLargerThanTheCapFailsPermanentlyAndLeavesNoFile() async throws {
        let simulator = try videoSimulator(faults: ["video:size=1000000"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(maximumBytes: 500_000)) { downloader in
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .tooLarge)
                    #expect(!error.isTransient)
                    #expect(error.message.contains("announced 1000000 bytes"), "\(error)")
                    #expect(try listing(directory) == [])
                }
            }
        }
    }

    @Test func aVideoWithoutContentLengthIsCutAtTheCapAndLeavesNoFile() async throws {
        let simulator = try videoSimulator(faults: ["video:size=1000000", "video:chunked"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(maximumBytes: 500_000)) { downloader in
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .tooLarge)
                    #expect(!error.isTransient)
                    #expect(error.message.contains("exceeded 500000 bytes"), "\(error)")
                    #expect(try listing(directory) == [])
                }
            }
        }
    }

    @Test func aChunkedVideoWithinTheCapIsStored() async throws {
        let simulator = try videoSimulator(faults: ["video:size=300000", "video:chunked"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(maximumBytes: 300_000)) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    let stored = try await downloader.download(Self.request(url, directory))
                    #expect(stored.bytes == 300_000)
                    #expect(stored.sha256 == sha256Hex(SimulatedVideo(generationID: id, size: 300_000).bytes))
                }
            }
        }
    }

    @Test func anEndlessBodyIsStoppedByTheCap() async throws {
        let simulator = try videoSimulator(faults: ["video:endless"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(maximumBytes: 3_000_000)) { downloader in
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .tooLarge)
                    #expect(!error.isTransient)
                    #expect(try listing(directory) == [])
                }
            }
        }
    }

    // MARK: - Resuming

    @Test func aTruncatedBodyIsTransientAndTheNextAttemptResumesWithARange() async throws {
        let simulator = try videoSimulator(faults: ["video:size=300000", "video:truncate=100000*1"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    let error = try #require(await downloadError(downloader, Self.request(url, directory)))
                    #expect(error.code == .truncated)
                    #expect(error.isTransient)
                    #expect(try listing(directory) == [".job-video.part"])
                    // What reached the client before the connection closed (all of it, unless the
                    // server's close discarded some of what it had not yet written).
                    let part = try fileBytes(directory + "/.job-video.part")
                    let expected = SimulatedVideo(generationID: id, size: 300_000).bytes
                    #expect(part.count > 0 && part.count <= 100_000)
                    #expect(part == Array(expected.prefix(part.count)))

                    let stored = try await downloader.download(Self.request(url, directory))
                    #expect(simulator.api.videoRequests.map(\.range) == [nil, "bytes=\(part.count)-"])
                    #expect(stored.bytes == 300_000)
                    // The digest covers the whole file, not just the resumed part.
                    #expect(stored.sha256 == sha256Hex(expected))
                    #expect(try fileBytes(stored.path) == expected)
                    #expect(try listing(directory) == ["job-video.mp4"])
                }
            }
        }
    }

    @Test func aPartFileLeftByACrashIsResumed() async throws {
        let simulator = try videoSimulator(faults: ["video:size=200000"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    let expected = SimulatedVideo(generationID: id, size: 200_000).bytes
                    // What a process killed mid-download leaves behind.
                    try Data(expected.prefix(123_456)).write(to: URL(fileURLWithPath: directory + "/.job-video.part"))
                    let stored = try await downloader.download(Self.request(url, directory))
                    #expect(simulator.api.videoRequests.map(\.range) == ["bytes=123456-"])
                    #expect(stored.sha256 == sha256Hex(expected))
                    #expect(try listing(directory) == ["job-video.mp4"])
                }
            }
        }
    }

    @Test func aServerThatIgnoresTheRangeIsReadFromTheStart() async throws {
        let simulator = try videoSimulator(faults: ["video:size=300000", "video:truncate=100000*1", "video:ignore-range*1"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    _ = await downloadError(downloader, Self.request(url, directory))
                    let kept = try fileBytes(directory + "/.job-video.part").count
                    let stored = try await downloader.download(Self.request(url, directory))
                    // Asked for the rest, got the whole file (200), which replaced the part.
                    #expect(kept > 0)
                    #expect(simulator.api.videoRequests.map(\.range) == [nil, "bytes=\(kept)-"])
                    #expect(stored.bytes == 300_000)
                    #expect(stored.sha256 == sha256Hex(SimulatedVideo(generationID: id, size: 300_000).bytes))
                    #expect(try listing(directory) == ["job-video.mp4"])
                }
            }
        }
    }

    @Test func aWrongLengthIsTransientAndTheNextAttemptStartsOverWhenTheRangeCannotBeServed() async throws {
        let simulator = try videoSimulator(faults: ["video:wrong-length*1"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    let expected = SimulatedVideo(generationID: id).bytes
                    let error = try #require(await downloadError(downloader, Self.request(url, directory)))
                    #expect(error.code == .truncated)
                    #expect(error.isTransient)
                    #expect(error.message.contains("of \(expected.count + 1024) bytes"), "\(error)")
                    let stored = try await downloader.download(Self.request(url, directory))
                    // The whole video was there, so its range was unsatisfiable (416): start over.
                    #expect(simulator.api.videoRequests.map(\.range) == [nil, "bytes=\(expected.count)-", nil])
                    #expect(stored.sha256 == sha256Hex(expected))
                }
            }
        }
    }

    // MARK: - Time

    @Test func aSlowDripBeyondTheStallTimeoutFailsTransientlyAndKeepsWhatArrived() async throws {
        // One byte every ten seconds; the stall timeout is two seconds.
        let simulator = try videoSimulator(faults: ["video:slow-drip=0.1"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(stallTimeout: .seconds(2))) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    let expected = SimulatedVideo(generationID: id).bytes
                    // What an earlier attempt left; the stalled one adds what it got (if anything).
                    try Data(expected.prefix(300)).write(to: URL(fileURLWithPath: directory + "/.job-video.part"))
                    let started = ContinuousClock.now
                    let error = try #require(await downloadError(downloader, Self.request(url, directory)))
                    #expect(error.code == .stalled)
                    #expect(error.isTransient)
                    #expect(ContinuousClock.now - started < .seconds(9))
                    #expect(try listing(directory) == [".job-video.part"])
                    let part = try fileBytes(directory + "/.job-video.part")
                    #expect(part.count >= 300)
                    #expect(part == Array(expected.prefix(part.count)))
                }
            }
        }
    }

    @Test func aDownloadThatOutlastsItsDeadlineFailsTransiently() async throws {
        // About 1,100 bytes at 50 bytes per second: data keeps coming, but too slowly.
        let simulator = try videoSimulator(faults: ["video:slow-drip=50"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(timeout: .seconds(1.5), stallTimeout: .seconds(10))) { downloader in
                try await simulator.withRunningServer { _ in
                    let started = ContinuousClock.now
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .timedOut)
                    #expect(error.isTransient)
                    // Ended by the deadline, long before the body's natural end (about 22 s).
                    #expect(ContinuousClock.now - started < .seconds(15))
                }
            }
        }
    }

    @Test func aCanceledDownloadKeepsItsPartFile() async throws {
        let simulator = try videoSimulator(faults: ["video:slow-drip=100"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    let expected = SimulatedVideo(generationID: id).bytes
                    // A part from an earlier attempt, which the canceled one must not lose.
                    try Data(expected.prefix(500)).write(to: URL(fileURLWithPath: directory + "/.job-video.part"))
                    let task = Task { try await downloader.download(Self.request(url, directory)) }
                    // Cancel once the request reached the server (a bounded wait for that event).
                    let deadline = ContinuousClock.now + .seconds(30)
                    while simulator.api.videoRequests.isEmpty, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    #expect(simulator.api.videoRequests.map(\.range) == ["bytes=500-"])
                    task.cancel()
                    let result = await task.result
                    guard case .failure(let failure) = result, let error = failure as? VideoDownloadError else {
                        Issue.record("expected the canceled download to fail, got \(result)")
                        return
                    }
                    #expect(error.code == .canceled)
                    #expect(error.isTransient)
                    #expect(try listing(directory) == [".job-video.part"])
                    let part = try fileBytes(directory + "/.job-video.part")
                    #expect(part.count >= 500)
                    #expect(part == Array(expected.prefix(part.count)))
                }
            }
        }
    }

    @Test func aSecondDownloadOfTheSameJobDoesNotWriteIntoTheFirstsPart() async throws {
        // The first download waits three seconds for its answer, holding its part file.
        let simulator = try videoSimulator(faults: ["video:delay=3*1"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(stallTimeout: .seconds(60))) { downloader in
                try await simulator.withRunningServer { _ in
                    let (id, url) = try completedGeneration(simulator)
                    let first = Task { try await downloader.download(Self.request(url, directory)) }
                    // Once the first download's request reached the server, its part file is locked.
                    let deadline = ContinuousClock.now + .seconds(30)
                    while simulator.api.videoRequests.isEmpty, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    let second = try #require(await downloadError(downloader, Self.request(url, directory)))
                    #expect(second.code == .storageFailed)
                    #expect(second.isTransient)
                    #expect(second.message.contains("another download"), "\(second)")
                    let stored = try await first.value
                    #expect(stored.sha256 == sha256Hex(SimulatedVideo(generationID: id).bytes))
                    #expect(simulator.api.videoRequests.count == 1)
                    #expect(try listing(directory) == ["job-video.mp4"])
                }
            }
        }
    }

    // MARK: - Answers that end it

    @Test(arguments: [
        ("video:status=404", VideoDownloadError.Code.notFound, 404),
        ("video:status=410", .notFound, 410),
        ("video:status=403", .forbidden, 403),
        ("video:status=401", .forbidden, 401),
        ("video:status=400", .httpStatus, 400),
    ])
    func aDeadLinkFailsPermanentlyAndLeavesNoFile(fault: String, code: VideoDownloadError.Code, status: Int) async throws {
        let simulator = try videoSimulator(faults: [fault])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == code)
                    #expect(error.statusCode == status)
                    #expect(!error.isTransient)
                    #expect(try listing(directory) == [])
                }
            }
        }
    }

    @Test func anExpiredLinkFailsPermanently() async throws {
        let simulator = try videoSimulator(videoTTL: .zero)
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .forbidden)
                    #expect(error.statusCode == 403)
                    #expect(!error.isTransient)
                    #expect(try listing(directory) == [])
                }
            }
        }
    }

    @Test func aPermanentFailureAfterAnInterruptionRemovesThePartFile() async throws {
        let simulator = try videoSimulator(faults: ["video:size=200000", "video:truncate=50000*1", "video:status=404*1"])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let url = try completedGeneration(simulator).url
                    #expect(await downloadError(downloader, Self.request(url, directory))?.code == .truncated)
                    #expect(try listing(directory) == [".job-video.part"])
                    #expect(await downloadError(downloader, Self.request(url, directory))?.code == .notFound)
                    #expect(try listing(directory) == [])
                }
            }
        }
    }

    @Test(arguments: [("video:status=503", 503, nil), ("video:status=429,retry-after=7", 429, RetryAfter.seconds(7))])
    func serverErrorsAndTooManyRequestsAreTransient(fault: String, status: Int, retryAfter: RetryAfter?) async throws {
        let simulator = try videoSimulator(faults: [fault])
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .httpStatus)
                    #expect(error.statusCode == status)
                    #expect(error.retryAfter == retryAfter)
                    #expect(error.isTransient)
                }
            }
        }
    }

    @Test func aRefusedConnectionIsTransient() async throws {
        let port = try await LoopbackServer.closedPort()
        // AsyncHTTPClient retries a refused connection until the connect timeout: keep it short.
        var quick = HTTPVideoDownloader.defaultClientConfiguration
        quick.timeout = .init(connect: .seconds(1), read: nil)
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(), clientConfiguration: quick) { downloader in
                let error = try #require(await downloadError(downloader, Self.request("http://127.0.0.1:\(port)/v.mp4", directory)))
                #expect(error.code == .connectionFailed)
                #expect(error.isTransient)
                #expect(error.message.contains("connection refused"), "\(error)")
                // Nothing arrived, so no part file is left behind.
                #expect(try listing(directory) == [])
            }
        }
    }

    // MARK: - Links

    @Test func anHTTPLinkIsRefusedUnlessHTTPIsAllowed() async throws {
        let simulator = try videoSimulator()
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(allowHTTP: false)) { downloader in
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .invalidURL)
                    #expect(!error.isTransient)
                    #expect(simulator.api.videoRequests.isEmpty)
                }
            }
        }
    }

    @Test(arguments: ["", "ftp://example.com/v.mp4", "http://user:pw@127.0.0.1/v.mp4", "http://loc%61lhost/v.mp4"])
    func aLinkThatCannotBeCheckedIsRefused(url: String) async throws {
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads()) { downloader in
                let error = try #require(await downloadError(downloader, Self.request(url, directory)))
                #expect(error.code == .invalidURL)
                #expect(!error.isTransient)
            }
        }
    }

    @Test func theDefaultPolicyRefusesTheLoopbackSimulator() async throws {
        let simulator = try videoSimulator()
        var configuration = loopbackDownloads()
        configuration.addressPolicy = AddressPolicy()
        try await withResultsDirectory { directory in
            try await withDownloader(configuration) { downloader in
                try await simulator.withRunningServer { _ in
                    let error = try #require(await downloadError(downloader, Self.request(try completedGeneration(simulator).url, directory)))
                    #expect(error.code == .addressRefused)
                    #expect(!error.isTransient)
                    #expect(simulator.api.videoRequests.isEmpty)
                }
            }
        }
    }

    @Test func theLinksQueryNeverReachesTheErrorOrTheLog() async throws {
        let simulator = try videoSimulator(faults: ["video:truncate=100*1", "video:status=404*1"])
        var recording = InMemoryLogHandler()
        recording.logLevel = .trace
        let handler = recording
        let logger = Logger(label: "test", factory: { _ in handler })
        try await withResultsDirectory { directory in
            try await withDownloader(loopbackDownloads(), logger: logger) { downloader in
                try await simulator.withRunningServer { _ in
                    let url = try completedGeneration(simulator).url
                    let token = try #require(url.split(separator: "token=").last.map(String.init))
                    let first = try #require(await downloadError(downloader, Self.request(url, directory)))
                    let second = try #require(await downloadError(downloader, Self.request(url, directory)))
                    let logged = handler.entries.map { "\($0.message) \($0.metadata)" }
                    #expect(logged.contains { $0.contains("/_videos/") }, "the log names host and path: \(logged)")
                    for text in logged + [first.description, second.description] {
                        #expect(!text.contains(token), "\(text)")
                    }
                }
            }
        }
    }
}
