#if canImport(Glibc)
import Glibc
#endif
public import AsyncHTTPClient
public import Logging
public import NIOCore
import NIOHTTP1
import Synchronization
public import VideoSpoolCore

/// Stores videos from the links the API hands out, with AsyncHTTPClient.
///
/// The body is streamed to `<directory>/.<job_id>.part` in bounded batches (AsyncHTTPClient reads
/// the socket only as the file keeps up), hashed and counted on the way; once complete the file is
/// fsynced, renamed to `<job_id>.<ext>` and the directory fsynced. A part left by an earlier
/// attempt is re-hashed and resumed with `Range: bytes=N-`; a server that answers 200 instead is
/// read from the start again. Redirects are followed here, not by the client: at most
/// ``Configuration/maximumRedirects``, only to https (or http when ``Configuration/allowHTTP``), and
/// every hop goes through the same address policy as webhooks, pinned to the vetted address. A
/// deadline bounds the whole download and a stall timeout any silence, so neither a slow drip nor
/// an endless body can hold it forever. Only scheme, host and path of a link are ever logged or
/// reported: signed links carry their token in the query.
public final class HTTPVideoDownloader: VideoDownloader, Sendable {
    public struct Configuration: Sendable {
        /// `results.max_bytes`: a larger video (announced or counted) fails permanently.
        public var maximumBytes: Int64
        /// The whole download, redirects and resumption included.
        public var timeout: Duration
        /// Longest wait for the response or the next bytes of the body.
        public var stallTimeout: Duration
        public var maximumRedirects: Int
        /// Whether http links and redirects to http are followed (set when `api.base_url` is http).
        public var allowHTTP: Bool
        /// `webhooks.allow_private_networks` and `webhooks.allowed_networks`: the link comes from the
        /// network, like a callback URL.
        public var addressPolicy: AddressPolicy
        public var userAgent: String
        /// Received bytes gathered before one write to the file (bounds memory per download).
        public var writeBatchBytes: Int

        public init(
            maximumBytes: Int64 = 2 * 1024 * 1024 * 1024,
            timeout: Duration = .seconds(1800),
            stallTimeout: Duration = .seconds(60),
            maximumRedirects: Int = 5,
            allowHTTP: Bool = false,
            addressPolicy: AddressPolicy = AddressPolicy(),
            userAgent: String = "videospool",
            writeBatchBytes: Int = 256 * 1024
        ) {
            self.maximumBytes = maximumBytes
            self.timeout = timeout
            self.stallTimeout = stallTimeout
            self.maximumRedirects = maximumRedirects
            self.allowHTTP = allowHTTP
            self.addressPolicy = addressPolicy
            self.userAgent = userAgent
            self.writeBatchBytes = writeBatchBytes
        }
    }

    private let configuration: Mutex<Configuration>
    private let clients: VettedClientPool
    private let logger: Logger

    /// - Parameters:
    ///   - clientConfiguration: TLS and connection-pool settings for the HTTP clients (the default:
    ///     10 s to connect, up to 32 connections per host). Redirects, decompression and
    ///     `dnsOverride` are always set by the downloader.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup,
        resolver: any HostResolver = AddressResolver(),
        clientConfiguration: HTTPClient.Configuration = HTTPVideoDownloader.defaultClientConfiguration,
        logger: Logger
    ) {
        var client = clientConfiguration
        client.redirectConfiguration = .disallow
        client.decompression = .disabled
        client.dnsOverride = [:]
        self.configuration = Mutex(configuration)
        self.clients = VettedClientPool(eventLoopGroup: eventLoopGroup, resolver: resolver, configuration: client)
        self.logger = logger
    }

    /// 10 s to connect; up to 32 connections per host (as many downloads from one CDN at once).
    public static var defaultClientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        return configuration
    }

    /// Applies new limits or a new address policy (configuration reload); downloads in progress
    /// keep the ones they started with.
    public func update(_ configuration: Configuration) {
        self.configuration.withLock { $0 = configuration }
    }

    /// Closes every connection; call once, after the last download.
    public func shutdown() async throws {
        try await clients.shutdown()
    }

    public func download(_ request: VideoDownloadRequest) async throws(VideoDownloadError) -> StoredVideo {
        let configuration = self.configuration.withLock { $0 }
        let url = try Self.checkedLink(request.url, configuration: configuration)
        var taggedLogger = self.logger
        taggedLogger[metadataKey: "job.id"] = "\(request.jobID)"
        taggedLogger[metadataKey: "video.url"] = "\(url.redacted)"
        let logger = taggedLogger
        let part = try await PartFile.open(directory: request.directory, jobID: request.jobID)
        if part.bytes > 0 {
            logger.debug("Resuming video download", metadata: ["video.resume_from": "\(part.bytes)"])
        }
        do {
            let received = try await Self.watched(configuration: configuration) { watch in
                try await self.transfer(from: url, into: part, configuration: configuration, watch: watch, logger: logger)
            }
            let directory = Self.absolute(request.directory)
            let fileExtension = StoredVideo.fileExtension(forContentType: received.contentType)
            let path = "\(directory)/\(request.jobID.rawValue).\(fileExtension)"
            let sha256 = try await part.commit(to: path)
            let stored = StoredVideo(
                path: path,
                bytes: part.bytes,
                sha256: sha256,
                contentType: StoredVideo.mediaType(received.contentType)
            )
            logger.debug("Video stored", metadata: ["video.bytes": "\(stored.bytes)", "video.sha256": "\(sha256)"])
            return stored
        } catch {
            let failure = Self.failure(from: error)
            // A part with bytes in it is kept for the next attempt; an empty or useless one is not.
            if failure.isTransient, part.bytes > 0 {
                await part.keep()
            } else {
                await part.discard()
            }
            logger.debug(
                "Video download failed",
                metadata: [
                    "error.code": "\(failure.code)", "error": "\(failure.message)", "video.kept_bytes": "\(part.bytes)",
                ]
            )
            throw failure
        }
    }

    // MARK: - One download

    /// What the final response said about the body.
    private struct Received: Sendable {
        var contentType: String?
    }

    /// What to do after one response.
    private enum Step: Sendable {
        case redirect(to: HTTPURL)
        /// The part cannot be continued with a range (416, or a 206 that does not fit): start over.
        case restartWithoutRange
        /// The server sent a range that ends before the whole file: ask for the rest.
        case continueRange
        case done(Received)
    }

    private func transfer(
        from link: HTTPURL,
        into part: PartFile,
        configuration: Configuration,
        watch: TransferWatch,
        logger: Logger
    ) async throws -> Received {
        var url = link
        var redirects = 0
        var useRange = true
        // Redirects, one restart without a range, and range continuations that each made progress.
        var requests = 0
        while true {
            requests += 1
            guard requests <= configuration.maximumRedirects + 8 else {
                throw VideoDownloadError.transient(.truncated, "the video server's answers did not complete the file")
            }
            if !useRange, part.bytes > 0 { try await part.truncate() }
            let offset = part.bytes
            let step = try await withResponse(
                url,
                rangeFrom: offset > 0 ? offset : nil,
                configuration: configuration,
                watch: watch,
                logger: logger
            ) { response in
                try await self.handle(
                    response,
                    from: url,
                    offset: offset,
                    into: part,
                    configuration: configuration,
                    watch: watch,
                    logger: logger
                )
            }
            switch step {
            case .done(let received):
                return received
            case .redirect(let target):
                redirects += 1
                guard redirects <= configuration.maximumRedirects else {
                    throw VideoDownloadError.permanent(
                        .redirectRefused,
                        "the video link redirected more than \(configuration.maximumRedirects) times"
                    )
                }
                logger.debug("Video download redirected", metadata: ["video.redirect": "\(target.redacted)"])
                url = target
            case .restartWithoutRange:
                guard useRange else {
                    throw VideoDownloadError.transient(.truncated, "the video server answered a range nobody asked for")
                }
                logger.debug("Video server cannot continue the part file; restarting", metadata: ["video.part_bytes": "\(offset)"])
                useRange = false
            case .continueRange:
                guard part.bytes > offset else {
                    throw VideoDownloadError.transient(.truncated, "the video server sent an empty range")
                }
            }
        }
    }

    /// Reads one response: follows its redirect, streams its body into `part`, or classifies its status.
    private func handle(
        _ response: HTTPClientResponse,
        from url: HTTPURL,
        offset: Int64,
        into part: PartFile,
        configuration: Configuration,
        watch: TransferWatch,
        logger: Logger
    ) async throws -> Step {
        let status = Int(response.status.code)
        let contentType = response.headers.first(name: "Content-Type")
        let contentLength = response.headers.first(name: "Content-Length").flatMap { Int64($0.filter { $0 != " " && $0 != "\t" }) }
        switch status {
        case 301, 302, 303, 307, 308:
            guard let location = response.headers.first(name: "Location") else {
                throw VideoDownloadError.permanent(.redirectRefused, "the video server answered \(status) without a Location")
            }
            let target: HTTPURL
            do {
                target = try url.resolving(location: location)
            } catch {
                throw VideoDownloadError.permanent(.redirectRefused, "the video link redirected to a URL that \(error.message)")
            }
            try Self.checkScheme(of: target, configuration: configuration, code: .redirectRefused, what: "the video link redirected to")
            return .redirect(to: target)
        case 200:
            if offset > 0 {
                // The server ignored the range (or the resource changed): the whole file again.
                logger.debug("Video server ignored the range; restarting", metadata: ["video.part_bytes": "\(offset)"])
                try await part.truncate()
            }
            if let contentLength { try Self.checkSize(contentLength, configuration: configuration, announced: true) }
            try await receive(response.body, into: part, end: contentLength, configuration: configuration, watch: watch)
            return .done(Received(contentType: contentType))
        case 206:
            guard offset > 0, let header = response.headers.first(name: "Content-Range"),
                let contentRange = ContentRange(headerValue: header), let sent = contentRange.range,
                sent.lowerBound == offset
            else {
                return .restartWithoutRange
            }
            let sentCount = sent.upperBound - sent.lowerBound + 1
            if let contentLength, contentLength != sentCount {
                throw VideoDownloadError.transient(
                    .truncated,
                    "the video server's Content-Length (\(contentLength)) disagrees with its Content-Range (\(header))"
                )
            }
            if let total = contentRange.completeLength { try Self.checkSize(total, configuration: configuration, announced: true) }
            try Self.checkSize(sent.upperBound + 1, configuration: configuration, announced: true)
            try await receive(response.body, into: part, end: sent.upperBound + 1, configuration: configuration, watch: watch)
            if let total = contentRange.completeLength, part.bytes < total { return .continueRange }
            return .done(Received(contentType: contentType))
        case 416 where offset > 0:
            return .restartWithoutRange
        default:
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(RetryAfter.init(headerValue:))
            throw VideoDownloadError.forStatus(status, retryAfter: retryAfter)
        }
    }

    /// Streams `body` into `part` in batches of ``Configuration/writeBatchBytes``, enforcing the size
    /// cap and, when `end` is known, that the body reaches exactly that file length.
    private func receive(
        _ body: HTTPClientResponse.Body,
        into part: PartFile,
        end: Int64?,
        configuration: Configuration,
        watch: TransferWatch
    ) async throws {
        var pending: [ByteBuffer] = []
        var pendingBytes = 0
        do {
            for try await buffer in body {
                watch.touch()
                let total = part.bytes + Int64(pendingBytes) + Int64(buffer.readableBytes)
                if total > configuration.maximumBytes {
                    try Self.checkSize(total, configuration: configuration, announced: false)
                }
                pending.append(buffer)
                pendingBytes += buffer.readableBytes
                if pendingBytes >= configuration.writeBatchBytes {
                    try await part.append(pending)
                    pending.removeAll(keepingCapacity: true)
                    pendingBytes = 0
                }
            }
        } catch let error as VideoDownloadError {
            throw error
        } catch {
            // Keep what arrived, so the next attempt resumes after it; shielded from cancellation (a
            // stall or deadline cancels this task, and the thread pool skips work of canceled tasks).
            let received = pending
            try? await Task { try await part.append(received) }.value
            if Task.isCancelled { throw CancellationError() }
            let reason = TransportErrorDescription.describe(error).reason
            throw VideoDownloadError.transient(
                .truncated,
                "the video download broke off after \(part.bytes)\(end.map { " of \($0)" } ?? "") bytes: \(reason)"
            )
        }
        try await part.append(pending)
        // A canceled body sequence just ends; that is not the end of the video.
        try Task.checkCancellation()
        if let end, part.bytes != end {
            throw VideoDownloadError.transient(.truncated, "the video body ended after \(part.bytes) of \(end) bytes")
        }
    }

    /// Sends `GET url` (with a range from `offset`) to a vetted address and passes the response to
    /// `body`; the client stays checked out until `body` has read it.
    private func withResponse<Result: Sendable>(
        _ url: HTTPURL,
        rangeFrom offset: Int64?,
        configuration: Configuration,
        watch: TransferWatch,
        logger: Logger,
        _ body: (HTTPClientResponse) async throws -> Result
    ) async throws -> Result {
        // The client percent-decodes hosts, which the check does not (`loc%61lhost`).
        guard !url.host.contains("%") else {
            throw VideoDownloadError.permanent(.invalidURL, "the video host \(url.host) is written in a form that cannot be checked")
        }
        let addresses: [IPAddress?]
        switch await clients.route(url, policy: configuration.addressPolicy) {
        case .success(let vetted):
            addresses = vetted
        case .failure(.literalRefused(let refusal)):
            throw VideoDownloadError.permanent(.addressRefused, "the video host is \(refusal)")
        case .failure(.resolvesToRefused(let refusal)):
            throw VideoDownloadError.permanent(.addressRefused, "\(url.host) resolves to \(refusal)")
        case .failure(.unresolvable(let reason)):
            throw VideoDownloadError.transient(.connectionFailed, reason)
        case .failure(.noAddresses):
            throw VideoDownloadError.transient(.connectionFailed, "\(url.host) has no addresses")
        }
        var request = HTTPClientRequest(url: url.withoutFragment.description)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if let offset { request.headers.add(name: "Range", value: "bytes=\(offset)-") }
        let deadline = NIODeadline.now() + .milliseconds(watch.remaining(of: configuration.timeout).wholeMilliseconds)
        // Every vetted address in the resolver's order, moving on only when no answer came (a GET
        // can be sent again): a host whose first address is unreachable is still downloaded from.
        for (index, address) in addresses.enumerated() {
            let client = clients.checkOut(host: url.hostForResolution, address: address)
            defer { clients.checkIn(client) }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, deadline: deadline, logger: logger)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                if index + 1 < addresses.count { continue }
                let (reason, timedOut) = TransportErrorDescription.describe(error)
                let tried = addresses.count > 1 ? " (tried \(addresses.count) addresses)" : ""
                throw VideoDownloadError.transient(timedOut ? .timedOut : .connectionFailed, "\(url.host): \(reason)\(tried)")
            }
            watch.touch()
            return try await body(response)
        }
        throw VideoDownloadError.transient(.connectionFailed, "\(url.host) has no addresses")
    }

    // MARK: - Rules

    /// The link parsed and allowed: http(s), no user info, https unless http is allowed.
    private static func checkedLink(_ text: String, configuration: Configuration) throws(VideoDownloadError) -> HTTPURL {
        let url: HTTPURL
        do {
            url = try HTTPURL(parsing: text).withoutFragment
        } catch {
            throw .permanent(.invalidURL, "the video URL \(error.message)")
        }
        try checkScheme(of: url, configuration: configuration, code: .invalidURL, what: "the video URL is")
        return url
    }

    private static func checkScheme(
        of url: HTTPURL,
        configuration: Configuration,
        code: VideoDownloadError.Code,
        what: String
    ) throws(VideoDownloadError) {
        guard url.scheme == "https" || configuration.allowHTTP else {
            throw .permanent(code, "\(what) \(url.redacted), which is not https (http is followed only when api.base_url is http)")
        }
    }

    private static func checkSize(_ bytes: Int64, configuration: Configuration, announced: Bool) throws(VideoDownloadError) {
        guard bytes > configuration.maximumBytes else { return }
        let what = announced ? "the video server announced \(bytes) bytes" : "the video exceeded \(configuration.maximumBytes) bytes"
        throw .permanent(.tooLarge, "\(what), more than results.max_bytes (\(configuration.maximumBytes))")
    }

    /// Any error of a download as the domain error; cancellation keeps the part for later.
    private static func failure(from error: any Error) -> VideoDownloadError {
        if let error = error as? VideoDownloadError { return error }
        if error is CancellationError || Task.isCancelled {
            return .transient(.canceled, "the download was canceled before it finished")
        }
        let (reason, timedOut) = TransportErrorDescription.describe(error)
        return .transient(timedOut ? .timedOut : .connectionFailed, reason)
    }

    private static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return directory + "/" + path
    }

    // MARK: - Deadline and stall

    /// Runs `body` while a watchdog ends it when the deadline passes or nothing arrives for the
    /// stall timeout (AsyncHTTPClient's own deadline stops at the response head).
    private static func watched<Result: Sendable>(
        configuration: Configuration,
        _ body: @escaping @Sendable (TransferWatch) async throws -> Result
    ) async throws -> Result {
        let watch = TransferWatch()
        let timeout = configuration.timeout
        let stall = configuration.stallTimeout
        return try await withThrowingTaskGroup(of: Result.self) { group in
            group.addTask { try await body(watch) }
            group.addTask {
                while true {
                    if watch.elapsed >= timeout {
                        throw VideoDownloadError.transient(
                            .timedOut,
                            "the video download did not finish within \(timeout.secondsDouble) s"
                        )
                    }
                    let silence = watch.silence
                    if silence >= stall {
                        throw VideoDownloadError.transient(
                            .stalled,
                            "no video data arrived for \(stall.secondsDouble) s"
                        )
                    }
                    try await Task.sleep(for: min(stall - silence, timeout - watch.elapsed))
                }
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        }
    }
}

/// When a download started and when it last received something.
private final class TransferWatch: Sendable {
    private let start = ContinuousClock.now
    private let lastTouch = Atomic<Int64>(0)

    /// Something arrived (a response head or body bytes).
    func touch() {
        lastTouch.store((ContinuousClock.now - start).nanoseconds, ordering: .relaxed)
    }

    var elapsed: Duration { ContinuousClock.now - start }

    /// Time since the last arrival (or the start).
    var silence: Duration { elapsed - .nanoseconds(lastTouch.load(ordering: .relaxed)) }

    func remaining(of timeout: Duration) -> Duration { max(timeout - elapsed, .zero) }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
