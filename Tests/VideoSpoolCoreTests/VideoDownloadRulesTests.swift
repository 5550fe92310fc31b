import Testing
import VideoSpoolCore

/// The pure pieces of video downloads: content types, `Content-Range`, redirect targets, status
/// classification and the retry policy.
struct VideoDownloadRulesTests {
    @Test(arguments: [
        ("video/mp4", "mp4"), ("video/webm", "webm"), ("video/quicktime", "mov"), ("VIDEO/QuickTime; x=1", "mov"),
        (" video/webm ", "webm"), ("application/octet-stream", "mp4"), ("", "mp4"), (nil, "mp4"),
    ] as [(String?, String)])
    func theFileExtensionComesFromTheContentType(contentType: String?, fileExtension: String) {
        #expect(StoredVideo.fileExtension(forContentType: contentType) == fileExtension)
    }

    @Test func theMediaTypeDropsParametersAndDefaultsToMP4() {
        #expect(StoredVideo.mediaType("Video/MP4; codecs=avc1") == "video/mp4")
        #expect(StoredVideo.mediaType(nil) == "video/mp4")
        #expect(StoredVideo.mediaType("video/webm") == "video/webm")
    }

    @Test(arguments: [
        ("bytes 100-199/1000", ContentRange(range: 100...199, completeLength: 1000)),
        ("bytes 0-0/1", ContentRange(range: 0...0, completeLength: 1)),
        ("bytes 5-9/*", ContentRange(range: 5...9, completeLength: nil)),
        ("bytes */1000", ContentRange(range: nil, completeLength: 1000)),
        ("Bytes  100-199/1000 ", ContentRange(range: 100...199, completeLength: 1000)),
    ])
    func contentRangesAreParsed(header: String, expected: ContentRange) {
        #expect(ContentRange(headerValue: header) == expected)
    }

    @Test(arguments: [
        "bytes 200-100/1000", "bytes 100-1000/1000", "bytes */*", "items 1-2/3", "bytes 1-2", "bytes -1-2/3",
        "bytes 1-2/x", "",
    ])
    func malformedContentRangesAreNot(header: String) {
        #expect(ContentRange(headerValue: header) == nil)
    }

    @Test(arguments: [
        ("https://cdn.example/a/b/v.mp4?sig=1", "https://other.example/x.mp4", "https://other.example/x.mp4"),
        ("https://cdn.example/a/b/v.mp4?sig=1", "//other.example/x.mp4", "https://other.example/x.mp4"),
        ("http://cdn.example:8080/a/b/v.mp4", "/c/x.mp4?t=2", "http://cdn.example:8080/c/x.mp4?t=2"),
        ("https://cdn.example/a/b/v.mp4?sig=1", "x.mp4", "https://cdn.example/a/b/x.mp4"),
        ("https://cdn.example/a/b/v.mp4", "https://other.example/x.mp4#frag", "https://other.example/x.mp4"),
        ("https://cdn.example/v.mp4", "HTTPS://Other.Example/x.mp4", "https://other.example/x.mp4"),
    ])
    func redirectTargetsAreResolvedAgainstTheLink(from: String, location: String, expected: String) throws {
        #expect(try HTTPURL(parsing: from).resolving(location: location).description == expected)
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://cdn.example/x", "javascript:alert(1)", "https://u:p@cdn.example/", ""])
    func redirectTargetsOutsideHTTPAreErrors(location: String) throws {
        let url = try HTTPURL(parsing: "https://cdn.example/v.mp4")
        #expect(throws: HTTPURL.ParseError.self) { try url.resolving(location: location) }
    }

    @Test(arguments: [
        (404, VideoDownloadError.Code.notFound, false), (410, .notFound, false), (403, .forbidden, false),
        (401, .forbidden, false), (400, .httpStatus, false), (416, .httpStatus, false), (429, .httpStatus, true),
        (408, .httpStatus, true), (500, .httpStatus, true), (503, .httpStatus, true), (599, .httpStatus, true),
    ])
    func statusesAreClassified(status: Int, code: VideoDownloadError.Code, transient: Bool) {
        let error = VideoDownloadError.forStatus(status)
        #expect(error.code == code)
        #expect(error.isTransient == transient)
        #expect(error.statusCode == status)
        #expect(error.message.contains(String(status)))
    }

    // MARK: - Retry

    private let retry = VideoDownloadRetry(
        backoff: Backoff(initial: .seconds(5), maximum: .seconds(300), jitter: 0),
        deadline: .seconds(3600)
    )
    private let now = Timestamp(secondsSinceEpoch: 1_800_000_000)

    @Test func transientFailuresAreRetriedWithGrowingDelays() {
        var random = SplitMix64(seed: 1)
        let error = VideoDownloadError.transient(.truncated, "broke off")
        let delays = (1...4).map { retry.decision(after: error, attempt: $0, elapsed: .seconds(60), now: now, using: &random) }
        #expect(delays == [.retry(after: .seconds(5)), .retry(after: .seconds(10)), .retry(after: .seconds(20)), .retry(after: .seconds(40))])
    }

    @Test func aPermanentFailureEndsAtOnce() {
        var random = SplitMix64(seed: 1)
        let error = VideoDownloadError.forStatus(404)
        #expect(retry.decision(after: error, attempt: 1, elapsed: .zero, now: now, using: &random) == .giveUp)
    }

    @Test func theLastRetryStartsAtTheDeadlineAndNothingAfterIt() {
        var random = SplitMix64(seed: 1)
        let error = VideoDownloadError.transient(.stalled, "silence")
        #expect(
            retry.decision(after: error, attempt: 30, elapsed: .seconds(3500), now: now, using: &random) == .retry(after: .seconds(100))
        )
        #expect(retry.decision(after: error, attempt: 31, elapsed: .seconds(3600), now: now, using: &random) == .giveUp)
    }

    @Test func aRetryAfterLongerThanTheBackoffIsHonoured() {
        var random = SplitMix64(seed: 1)
        let seconds = VideoDownloadError.forStatus(429, retryAfter: .seconds(120))
        #expect(retry.decision(after: seconds, attempt: 1, elapsed: .zero, now: now, using: &random) == .retry(after: .seconds(120)))
        let date = VideoDownloadError.forStatus(503, retryAfter: .date(now + .seconds(90)))
        #expect(retry.decision(after: date, attempt: 1, elapsed: .zero, now: now, using: &random) == .retry(after: .seconds(90)))
    }
}
