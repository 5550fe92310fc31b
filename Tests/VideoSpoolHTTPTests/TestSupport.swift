import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Testing
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolSimulator

// Hummingbird, NIOCore and Logging come in through VideoSpoolSimulator and VideoSpoolHTTP; the
// tests use them directly only to stand up small loopback servers and to silence logs.

/// A logger that drops everything.
let quietLogger = Logger(label: "videospool.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// The key the simulator accepts (its default).
let simulatorKey = "sim-test-key"

/// The one model the daemon validates.
let seedanceModel = "bytedance/dreamina-seedance-2-0-mini"

/// A valid Seedance body as the daemon sends it upstream.
let validSeedanceBody = Array(#"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"x","duration":5}"#.utf8)

let testJobID = JobID(trusted: "job-http-tests")

/// A fresh `whsec_` secret of 32 random bytes.
func makeWebhookSecret() throws -> WebhookSecret {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return try WebhookSecret(parsing: "whsec_" + Data(bytes).base64EncodedString())
}

/// A simulator whose generations finish almost at once.
func quickSimulator(
    queuedTime: Duration = .milliseconds(50),
    generationTime: Duration = .milliseconds(50),
    exhaustedKeys: Set<String> = [],
    faults: [FaultRule] = [],
    webhookSecret: WebhookSecret? = nil
) -> Simulator {
    Simulator(
        configuration: SimulatorConfiguration(
            apiKey: simulatorKey,
            exhaustedKeys: exhaustedKeys,
            queuedTime: queuedTime,
            generationTime: .fixed(generationTime),
            faults: faults,
            webhookSecret: webhookSecret
        ),
        logger: quietLogger
    )
}

/// Runs `body` with a fresh `HTTPClient` and shuts it down afterwards, whatever happens.
func withHTTPClient<Result: Sendable>(_ body: (HTTPClient) async throws -> Result) async throws -> Result {
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Runs `body` with a webhook transport and shuts it down afterwards, whatever happens.
func withTransport<Result: Sendable>(
    _ configuration: HTTPWebhookTransport.Configuration,
    _ body: (HTTPWebhookTransport) async throws -> Result
) async throws -> Result {
    let transport = HTTPWebhookTransport(
        configuration: configuration,
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        logger: quietLogger
    )
    do {
        let result = try await body(transport)
        try await transport.shutdown()
        return result
    } catch {
        try? await transport.shutdown()
        throw error
    }
}

/// A JSON body for a custom route.
func jsonResponse(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
    Response(
        status: status,
        headers: [.contentType: "application/json"],
        body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter().bytes(value)))
    )
}

extension APIExchange {
    /// The response, or `nil` for "not sent" and "outcome unknown".
    var response: APIResponse? {
        if case .response(let response) = self { return response }
        return nil
    }
}

extension APIResponse {
    var status: GenerationStatusResponse? { GenerationStatusResponse(body: body) }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A response body that keeps coming, a chunk at a time, until the client goes away.
func endlessBody() -> ResponseBody {
    ResponseBody { writer in
        let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 16 * 1024)
        while !Task.isCancelled {
            try await writer.write(chunk)
        }
        try await writer.finish(nil)
    }
}
