#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolStore

/// Runs `body` with a fresh directory under the system's temporary directory, removed afterwards.
func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    var template = Array((FileManager.default.temporaryDirectory.path + "/videospool-store.XXXXXX").utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) != nil }
    guard made else { throw CocoaError(.fileWriteUnknown) }
    let path = template.withUnsafeBufferPointer { buffer in String(cString: buffer.baseAddress!) }
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// A store in a fresh directory; the directory goes away afterwards.
func withStore<Result>(_ body: (SQLiteJobStore, String) async throws -> Result) async throws -> Result {
    try await withTemporaryDirectory { directory in
        let store = try SQLiteJobStore(directory: directory)
        return try await body(store, directory)
    }
}

/// 2026-11-25T09:23:13.123Z, an arbitrary "now" with a millisecond part.
let referenceTime = Timestamp(millisecondsSinceEpoch: 1_795_598_593_123)

let seedanceModel = "bytedance/dreamina-seedance-2-0-mini"

/// Parses a JSON text the test wrote itself.
func json(_ text: String) throws -> JSONValue {
    try JSONParser().parse(text)
}

/// A JSON number spelled exactly as `text`.
func number(_ text: String) throws -> JSONNumber {
    try #require(try json(text).numberValue)
}

/// A queued job with every insert-time field set to something that would show a lossy round trip:
/// ordered metadata with nested values, non-ASCII text and numbers whose spelling matters.
func makeJob(_ id: String, phase: JobPhase = .queued, acceptedAt: Timestamp = referenceTime) throws -> Job {
    let metadata = try #require(
        try json(
            #"{"customer":"acme","order":1.50,"tags":["b","a"],"nested":{"ok":true,"none":null},"note":"é ✓ \"quoted\"\n"}"#
        ).objectValue
    )
    return Job(
        id: try #require(JobID(id)),
        phase: phase,
        model: seedanceModel,
        callbackURLs: ["https://hooks.example.com/video?token=abc", "https://second.example.org/hook"],
        metadata: metadata,
        acceptedAt: acceptedAt,
        sourceName: id + ".json",
        parameters: GenerationParameters(resolution: "720p", durationSeconds: 5)
    )
}

func requestBody(for id: String) -> [UInt8] {
    Array(#"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"\#(id)","duration":5}"#.utf8)
}

func source(for job: Job) -> SourceFile {
    SourceFile(name: job.sourceName, sha256: String(repeating: "ab", count: 32), disposition: .remove)
}

func insert(_ job: Job) -> StoreChange {
    .insertJob(job, requestBody: requestBody(for: job.id.rawValue), source: source(for: job))
}

/// A webhook event for `job` with body bytes that are not valid UTF-8, so only an exact byte
/// round trip passes.
func makeEvent(for job: Job, id: String = "msg_01JDEXAMPLE0000000000000", type: WebhookEvent.EventType = .completed)
    -> WebhookEvent
{
    WebhookEvent(
        id: id,
        jobID: job.id,
        type: type,
        createdAt: referenceTime + .seconds(60),
        body: Array(#"{"type":"\#(type)","job_id":"\#(job.id)"}"#.utf8) + [0x00, 0xFF, 0xFE, 0x0A]
    )
}

func makeDeliveries(for event: WebhookEvent, urls: [String]) -> [Delivery] {
    urls.enumerated().map { index, url in
        Delivery(id: Delivery.ID(eventID: event.id, index: index), jobID: event.jobID, url: url, nextAttemptAt: event.createdAt)
    }
}

/// A job that has finished with a video, as the poller would leave it.
func completed(_ job: Job) throws -> Job {
    var job = job
    job.phase = .completed
    job.submitAttempts = 1
    job.submittedAt = referenceTime + .seconds(1)
    job.generationID = "gen-" + job.id.rawValue
    job.polls = 4
    job.finishedAt = referenceTime + .seconds(60)
    job.videoURL = "https://cdn.example.com/videos/\(job.id).mp4?sig=xyz"
    job.usage = Usage(creditsUsed: try number("120000"), usdSpent: try number("0.06"))
    return job
}
