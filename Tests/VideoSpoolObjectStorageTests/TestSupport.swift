import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage
import VideoSpoolTesting

/// A logger that drops everything.
let quietLogger = Logger(label: "videospool.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// The package's root directory.
let packageRoot = Python.packageRoot

/// Where `make deps` installs the Python packages the tests use (botocore, moto).
let pythonPath = Python.path

/// A clock that always says the same time.
struct FixedTimeSource: TimeSource {
    let time: Timestamp
    func now() -> Timestamp { time }
    func sleep(until deadline: Timestamp) async throws {}
}

/// 2015-08-30T12:36:00Z, the AWS test suite's signing time.
let testSuiteTime = Timestamp(secondsSinceEpoch: 1_440_938_160)

/// Runs `python3 script arguments…` with the tests' PYTHONPATH, `input` on stdin; returns stdout.
func runPython(_ script: String, arguments: [String] = [], input: [UInt8] = []) throws -> [UInt8] {
    try Python.run(script, arguments: arguments, input: input)
}

/// A fresh directory, removed afterwards.
func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    var template = Array((FileManager.default.temporaryDirectory.path + "/videospool-s3.XXXXXX").utf8CString)
    guard let pointer = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
    let path = String(cString: pointer)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Writes `count` pseudo-random bytes (a fixed seed, so a failure can be replayed) to `path`.
@discardableResult
func writeRandomFile(_ path: String, count: Int, seed: UInt64 = 42) throws -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    for index in bytes.indices {
        // xorshift64*
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        bytes[index] = UInt8(truncatingIfNeeded: (state &* 2_685_821_657_736_338_717) >> 56)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return bytes
}

/// Runs `body` with a client that follows no redirects (as the daemon's does), shut down afterwards.
func withHTTPClient<Result: Sendable>(
    dnsOverride: [String: String] = [:],
    _ body: (HTTPClient) async throws -> Result
) async throws -> Result {
    var configuration = HTTPClient.Configuration()
    configuration.redirectConfiguration = .disallow
    configuration.dnsOverride = dnsOverride
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// A plain GET (no signing), for presigned URLs; the body is read up to 64 MiB.
func plainGET(_ url: String, client: HTTPClient) async throws -> (status: Int, body: [UInt8]) {
    let response = try await client.execute(HTTPClientRequest(url: url), deadline: .now() + .seconds(60), logger: quietLogger)
    let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
    return (Int(response.status.code), Array(body.readableBytesView))
}

/// What a loopback stand-in received: method, URI and headers of every request.
final class RequestLog: Sendable {
    struct Entry: Sendable {
        var method: String
        var uri: String
        var headers: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    func record(_ request: Request) {
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.rawName.lowercased()] = field.value }
        let entry = Entry(method: request.method.rawValue, uri: request.uri.description, headers: headers)
        entries.withLock { $0.append(entry) }
    }

    var all: [Entry] { entries.withLock { $0 } }
}

/// An S3 error document.
func s3Error(_ status: HTTPResponse.Status, code: String, message: String, extra: String = "") -> Response {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>\(message)</Message>"
        + extra + "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    return Response(
        status: status,
        headers: [.contentType: "application/xml"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: body))
    )
}

/// Test credentials; the secret is long enough for the log scrubber.
let testCredentials = SigV4Credentials(
    accessKeyID: "AKIDEXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

/// A configuration for a stand-in on `port` (path style, short deadline).
func loopbackConfiguration(port: Int, timeout: Duration = .seconds(120), partBytes: Int = S3Configuration.minimumPartBytes)
    throws -> S3Configuration
{
    S3Configuration(
        endpoint: try S3Endpoint(parsing: "http://127.0.0.1:\(port)"),
        region: "us-east-1",
        bucket: "videos",
        keyPrefix: try S3KeyTemplate("results/{date}/"),
        addressingStyle: .path,
        partBytes: partBytes,
        requestTimeout: timeout
    )
}
