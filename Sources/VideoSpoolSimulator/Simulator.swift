import Foundation
public import Hummingbird
public import Logging
import NIOCore
import ServiceLifecycle
import VideoSpoolCore

/// The simulated AI/ML API and a webhook receiver, served over HTTP by Hummingbird.
public struct Simulator: Sendable {
    public let api: SimulatedAPI
    public let receiver: WebhookReceiver
    private let logger: Logger

    public init(configuration: SimulatorConfiguration, logger: Logger = Logger(label: "videospool.simulator")) {
        self.api = SimulatedAPI(configuration: configuration)
        self.receiver = WebhookReceiver(secret: configuration.webhookSecret)
        self.logger = logger
    }

    /// The Hummingbird application; `onRunning` gets the bound port (useful with port 0).
    public func application(
        host: String = "127.0.0.1",
        port: Int = 0,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "videospool-simulator"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Serves until SIGTERM or SIGINT (`videospool simulate`).
    public func serve(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        try await application(host: host, port: port, onRunning: onRunning).runService()
    }

    /// Serves until `body` returns, then stops; `body` gets the bound port.
    public func withRunningServer<Result: Sendable>(
        host: String = "127.0.0.1",
        port: Int = 0,
        _ body: @Sendable (Int) async throws -> Result
    ) async throws -> Result {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = application(host: host, port: port) { port in continuation.yield(port) }
        let group = ServiceGroup(services: [app], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let bound = await iterator.next() else { throw CancellationError() }
            continuation.finish()
            do {
                let result = try await body(bound)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        let api = self.api
        let receiver = self.receiver
        router.post("/v2/video/generations") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024 * 1024)
            if let refusal = api.enter(.submit) { return try await Self.response(for: refusal) }
            defer { api.leave() }
            try await Self.wait(api.latency)
            let reply = api.submit(authorization: request.headers[.authorization], body: Array(buffer: body))
            return try await Self.response(for: reply)
        }
        router.get("/v2/video/generations") { request, _ -> Response in
            if let refusal = api.enter(.poll) { return try await Self.response(for: refusal) }
            defer { api.leave() }
            try await Self.wait(api.latency)
            let reply = api.poll(
                authorization: request.headers[.authorization],
                generationID: request.uri.queryParameters.get("generation_id")
            )
            return try await Self.response(for: reply)
        }
        router.post("/webhooks/**") { request, _ -> Response in
            var request = request
            let body = Array(buffer: try await request.collectBody(upTo: 1024 * 1024))
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let path = request.uri.path
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
            switch receiver.answer(for: path, query: query) {
            case .hang:
                receiver.record(path: path, headers: headers, body: body, answeredStatus: 0)
                // Hang until the server shuts down, not past it: a held request would keep
                // graceful shutdown (and `withRunningServer`) waiting for the full hour.
                _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
                return Response(status: .serviceUnavailable)
            case .status(let code, let retryAfter, let location):
                let item = receiver.record(path: path, headers: headers, body: body, answeredStatus: code)
                var fields = HTTPFields()
                if let retryAfter { fields[.retryAfter] = String(retryAfter) }
                if let location { fields[.location] = location }
                if item.signatureValid == false {
                    return Response(status: .badRequest, headers: fields)
                }
                return Response(status: HTTPResponse.Status(code: code), headers: fields)
            }
        }
        router.get("/_simulator/statistics") { _, _ -> Response in
            let statistics = api.statistics
            let document = JSONValue.object(
                JSONObject([
                    "submissions": .int(Int64(statistics.submissions)),
                    "accepted_submissions": .int(Int64(statistics.acceptedSubmissions)),
                    "polls": .int(Int64(statistics.polls)),
                    "rejected_bodies": .int(Int64(statistics.rejectedBodies)),
                    "unauthorized": .int(Int64(statistics.unauthorized)),
                    "rate_limited": .int(Int64(statistics.rateLimited)),
                    "peak_concurrency": .int(Int64(statistics.peakConcurrency)),
                    "webhooks_received": .int(Int64(receiver.received.count)),
                    "webhooks_verified": .int(Int64(receiver.received.filter { $0.signatureValid == true }.count)),
                ])
            )
            return Self.json(200, document)
        }
        return router
    }

    /// The simulated network's time for one request.
    private static func wait(_ latency: Duration) async throws {
        if latency > .zero { try await Task.sleep(for: latency) }
    }

    private static func response(for reply: SimulatedAPI.Reply) async throws -> Response {
        switch reply {
        case .json(let status, let body, let retryAfter):
            var response = json(status, body)
            if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        case .raw(let status, let body):
            return Response(
                status: HTTPResponse.Status(code: status),
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
            )
        case .drop:
            // Promise a body, send part of it, then fail: the connection closes mid-response.
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .contentLength: "1000"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "{\"id\": \"partial"))
                    throw SimulatedDrop()
                }
            )
        case .delayed(let delay, let then):
            try await Task.sleep(for: delay)
            return try await response(for: then)
        }
    }

    private struct SimulatedDrop: Error {}

    private static func json(_ status: Int, _ body: JSONValue) -> Response {
        Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter().bytes(body)))
        )
    }
}
