#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import Testing
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolSimulator

/// A simulator whose generations are complete at once and whose links point at its own videos.
func videoSimulator(faults: [String] = [], videoTTL: Duration = .seconds(3600)) throws -> Simulator {
    Simulator(
        configuration: SimulatorConfiguration(
            apiKey: simulatorKey,
            queuedTime: .zero,
            generationTime: .fixed(.zero),
            videoBaseURL: nil,
            videoTTL: videoTTL,
            faults: try faults.map { try FaultRule(parsing: $0) }
        ),
        logger: quietLogger
    )
}

/// Submits a generation straight to the running simulator's API and returns its id and the
/// `video.url` a poll reports (the simulator must be listening, so the link has its port).
func completedGeneration(_ simulator: Simulator, prompt: String = "clip") throws -> (id: String, url: String) {
    let body = Array(#"{"model":"\#(seedanceModel)","prompt":"\#(prompt)","duration":5}"#.utf8)
    guard case .json(200, let accepted, _) = simulator.api.submit(authorization: "Bearer \(simulatorKey)", body: body),
        let id = accepted["id"]?.stringValue
    else {
        throw TestFailure("the simulator did not accept the submission")
    }
    guard case .json(200, let status, _) = simulator.api.poll(authorization: "Bearer \(simulatorKey)", generationID: id),
        let url = status["video"]?["url"]?.stringValue
    else {
        throw TestFailure("the generation has no video URL")
    }
    return (id, url)
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Loopback is private; these tests open 127.0.0.0/8 only, and allow http (the simulator's scheme).
func loopbackDownloads(
    maximumBytes: Int64 = 64 * 1024 * 1024,
    timeout: Duration = .seconds(60),
    stallTimeout: Duration = .seconds(20),
    allowHTTP: Bool = true
) -> HTTPVideoDownloader.Configuration {
    HTTPVideoDownloader.Configuration(
        maximumBytes: maximumBytes,
        timeout: timeout,
        stallTimeout: stallTimeout,
        allowHTTP: allowHTTP,
        addressPolicy: AddressPolicy(allowedNetworks: [CIDR("127.0.0.0/8")!])
    )
}

/// Runs `body` with a downloader, shut down afterwards whatever happens.
func withDownloader<Result>(
    _ configuration: HTTPVideoDownloader.Configuration,
    resolver: any HostResolver = AddressResolver(),
    clientConfiguration: HTTPClient.Configuration = HTTPVideoDownloader.defaultClientConfiguration,
    logger: Logger = quietLogger,
    _ body: (HTTPVideoDownloader) async throws -> Result
) async throws -> Result {
    let downloader = HTTPVideoDownloader(
        configuration: configuration,
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        resolver: resolver,
        clientConfiguration: clientConfiguration,
        logger: logger
    )
    do {
        let result = try await body(downloader)
        try await downloader.shutdown()
        return result
    } catch {
        try? await downloader.shutdown()
        throw error
    }
}

/// The download's error, or a recorded issue if it succeeded.
func downloadError(
    _ downloader: HTTPVideoDownloader,
    _ request: VideoDownloadRequest,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> VideoDownloadError? {
    do {
        let stored = try await downloader.download(request)
        Issue.record("expected the download to fail, it stored \(stored)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// A fresh directory, removed afterwards with whatever the test left in it.
func withResultsDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    var template = Array((FileManager.default.temporaryDirectory.path + "/videospool-videos.XXXXXX").utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) != nil }
    guard made else { throw TestFailure("mkdtemp failed") }
    let path = template.withUnsafeBufferPointer { buffer in String(cString: buffer.baseAddress!) }
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// The names in `directory`, dot-files included, sorted.
func listing(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

func fileBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
    SHA256.hash(data: Array(bytes)).map { String(format: "%02x", $0) }.joined()
}
