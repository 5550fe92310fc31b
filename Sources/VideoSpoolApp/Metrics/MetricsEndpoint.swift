import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves `GET /metrics` (Prometheus' text format) on `metrics.listen`; every other path is 404.
/// A plain NIO HTTP/1 server: the daemon already runs on NIO's event loops, and one route needs no
/// framework. Rendering happens on the connection's event loop; it reads a few locked counters and
/// three small files in /proc, so it never blocks for long.
final class MetricsEndpoint: Service, Sendable {
    private let address: MetricsListenAddress
    private let render: @Sendable () -> [UInt8]
    private let logger: Logger

    init(address: MetricsListenAddress, logger: Logger, render: @escaping @Sendable () -> [UInt8]) {
        self.address = address
        self.render = render
        self.logger = logger
    }

    func run() async throws {
        let render = self.render
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(render: render))
                }
            }
        let server: any Channel
        switch address {
        case .tcp(let host, let port):
            server = try await bootstrap.bind(host: host, port: port).get()
        case .unixSocket(let path):
            server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        }
        logger.info(
            "Metrics served",
            metadata: ["event": "metrics.listening", "metrics.listen": "\(server.localAddress.map { "\($0)" } ?? "\(address)")"]
        )
        // Until the stop: the endpoint starts before the pipeline and stops after it, so the last
        // scrape can see the drained queues.
        try? await gracefulShutdown()
        try? await server.close()
        if case .unixSocket(let path) = address { unlink(path) }
    }
}

/// Answers one request at a time on a connection (HTTP/1.1 keep-alive, as Prometheus scrapes).
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The content type of Prometheus' text format 0.0.4.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let render: @Sendable () -> [UInt8]
    private var head: HTTPRequestHead?

    init(render: @escaping @Sendable () -> [UInt8]) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        let body: [UInt8]
        var headers = HTTPHeaders()
        if path != "/metrics" {
            (status, body) = (.notFound, Array("not found; metrics are at /metrics\n".utf8))
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        } else if head.method != .GET && head.method != .HEAD {
            (status, body) = (.methodNotAllowed, Array("only GET\n".utf8))
            headers.add(name: "allow", value: "GET, HEAD")
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        } else {
            (status, body) = (.ok, render())
            headers.add(name: "content-type", value: Self.contentType)
        }
        headers.add(name: "content-length", value: String(body.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        if !keepAlive {
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
