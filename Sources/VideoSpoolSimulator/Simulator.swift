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
        let api = self.api
        return Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "videospool-simulator"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                api.setServedAddress(host: host, port: bound)
                await onRunning(bound)
            },
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
        router.get("/_videos/:file") { request, context -> Response in
            let reply = api.video(
                file: context.parameters.get("file") ?? "",
                token: request.uri.queryParameters.get("token"),
                range: request.headers[.range]
            )
            return try await Self.response(for: reply)
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
                    "video_requests": .int(Int64(statistics.videoRequests)),
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

    // MARK: - Videos

    private static func response(for reply: VideoReply) async throws -> Response {
        switch reply {
        case .error(let status, let code, let message, let retryAfter):
            var headers: HTTPFields = [.contentType: "application/xml"]
            if let retryAfter { headers[.retryAfter] = String(retryAfter) }
            let xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n<Error><Code>\(code)</Code><Message>\(message)</Message></Error>\n"
            return Response(
                status: HTTPResponse.Status(code: status),
                headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(string: xml))
            )
        case .redirect(let location):
            return Response(status: .found, headers: [.location: location, .contentLength: "0"])
        case .rangeNotSatisfiable(let total):
            return Response(status: HTTPResponse.Status(code: 416), headers: [.contentRange: "bytes */\(total)", .contentLength: "0"])
        case .delayed(let delay, let then):
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            return try await response(for: then)
        case .body(let body):
            var headers: HTTPFields = [.contentType: "video/mp4", .acceptRanges: "bytes"]
            if let length = body.announcedLength { headers[.contentLength] = String(length) }
            if let contentRange = body.contentRange { headers[.contentRange] = contentRange }
            return Response(
                status: HTTPResponse.Status(code: body.status),
                headers: headers,
                body: ResponseBody { writer in try await write(body, to: &writer) }
            )
        }
    }

    /// Sends a video body as its behaviour says, generating the bytes as they go (the writer waits
    /// while the connection is not writable, so a large body is never held in memory).
    private static func write(_ body: VideoBody, to writer: inout any ResponseBodyWriter) async throws {
        let range = body.range
        switch body.behaviour {
        case .normal, .chunked:
            for chunk in body.video.chunks(in: range) { try await writer.write(chunk) }
        case .truncate(let bytes):
            for chunk in body.video.chunks(in: range.lowerBound..<min(range.lowerBound + bytes, range.upperBound)) {
                try await writer.write(chunk)
            }
            throw SimulatedDrop()
        case .wrongLength:
            for chunk in body.video.chunks(in: range) { try await writer.write(chunk) }
            throw SimulatedDrop()
        case .slowDrip(let rate):
            let piece = max(Int64(rate / 10), 1)
            let interval = Duration.seconds(double: Double(piece) / rate)
            var offset = range.lowerBound
            while offset < range.upperBound {
                let next = min(offset + piece, range.upperBound)
                for chunk in body.video.chunks(in: offset..<next) { try await writer.write(chunk) }
                offset = next
                guard offset < range.upperBound else { break }
                // Ends with the server: a drip must not hold graceful shutdown for hours.
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        case .endless:
            for chunk in body.video.chunks(in: range) { try await writer.write(chunk) }
            // Until the client goes away (the write fails) or the server stops.
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                try await writer.write(SimulatedVideo.paddingBlock)
            }
            throw SimulatedDrop()
        }
        try await writer.finish(nil)
    }

    private static func json(_ status: Int, _ body: JSONValue) -> Response {
        Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter().bytes(body)))
        )
    }
}
