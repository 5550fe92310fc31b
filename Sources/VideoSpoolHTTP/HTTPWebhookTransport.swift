import AsyncHTTPClient
public import Logging
public import NIOCore
import NIOHTTP1
import Synchronization
public import VideoSpoolCore

/// Sends webhook attempts with AsyncHTTPClient, guarding against SSRF on the address actually
/// connected to: the host is resolved, every address is checked against the policy, and the
/// connection is pinned to a checked address with `dnsOverride` (TLS still verifies the host name),
/// so a DNS answer that changes between check and connect cannot redirect the request. Redirects
/// are never followed and response bodies are read only up to a cap.
public final class HTTPWebhookTransport: WebhookTransport, Sendable {
    public struct Configuration: Sendable {
        public var timeout: Duration
        public var maximumResponseBytes: Int
        public var addressPolicy: AddressPolicy

        public init(
            timeout: Duration = .seconds(15),
            maximumResponseBytes: Int = 20_000,
            addressPolicy: AddressPolicy = AddressPolicy()
        ) {
            self.timeout = timeout
            self.maximumResponseBytes = maximumResponseBytes
            self.addressPolicy = addressPolicy
        }
    }

    private let configuration: Mutex<Configuration>
    private let resolver: AddressResolver
    private let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    /// Clients pinned to one vetted address per host, reused while DNS keeps giving that address.
    private let pinnedClients = Mutex<[String: HTTPClient]>([:])
    private let directClient: HTTPClient

    private static let maximumPinnedClients = 128

    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup,
        resolver: AddressResolver = AddressResolver(),
        logger: Logger
    ) {
        self.configuration = Mutex(configuration)
        self.resolver = resolver
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        self.directClient = HTTPClient(
            eventLoopGroupProvider: .shared(eventLoopGroup),
            configuration: Self.clientConfiguration(dnsOverride: [:])
        )
    }

    private static func clientConfiguration(dnsOverride: [String: String]) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        configuration.dnsOverride = dnsOverride
        configuration.decompression = .disabled
        return configuration
    }

    /// Applies a new timeout, size cap or address policy (configuration reload).
    public func update(_ configuration: Configuration) {
        self.configuration.withLock { $0 = configuration }
    }

    /// Closes every connection; call once, after the last `send`.
    public func shutdown() async throws {
        let clients = pinnedClients.withLock { clients in
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        for client in clients { try await client.shutdown() }
        try await directClient.shutdown()
    }

    public func send(_ request: WebhookRequest) async -> DeliveryStateMachine.AttemptResult {
        let configuration = self.configuration.withLock { $0 }
        let url: HTTPURL
        do {
            url = try HTTPURL(parsing: request.url)
        } catch {
            return .refused(reason: "the callback URL \(error.message)")
        }
        let client: HTTPClient
        switch await route(url, policy: configuration.addressPolicy) {
        case .success(let chosen): client = chosen
        case .failure(let failure): return failure.result
        }
        var headers = HTTPHeaders()
        for header in request.headers { headers.add(name: header.name, value: header.value) }
        let httpRequest: HTTPClient.Request
        do {
            httpRequest = try HTTPClient.Request(url: request.url, method: .POST, headers: headers, body: .bytes(request.body))
        } catch {
            return .refused(reason: "the callback URL cannot be requested: \(error)")
        }
        let recorder = ExchangeRecorder(maximumBodyBytes: configuration.maximumResponseBytes)
        let deadline = NIODeadline.now() + .milliseconds(configuration.timeout.wholeMilliseconds)
        do {
            let recorded = try await client.execute(request: httpRequest, delegate: recorder, deadline: deadline, logger: logger)
                .futureResult.get()
            return .response(
                statusCode: Int(recorded.status.code),
                retryAfter: recorded.headers.first(name: "Retry-After").flatMap(RetryAfter.init(headerValue:)),
                location: recorded.headers.first(name: "Location")
            )
        } catch {
            let (reason, timedOut) = TransportErrorDescription.describe(error)
            return .transportFailure(reason: reason, timedOut: timedOut)
        }
    }

    private struct RouteFailure: Error {
        let result: DeliveryStateMachine.AttemptResult
    }

    /// Picks the client for `url`: the shared one when no check is needed or the host is a vetted
    /// literal, else a client pinned to a vetted resolved address.
    private func route(_ url: HTTPURL, policy: AddressPolicy) async -> Result<HTTPClient, RouteFailure> {
        if policy.allowPrivateNetworks { return .success(directClient) }
        if let literal = url.literalAddress {
            if let refusal = policy.refusal(for: literal) {
                return .failure(RouteFailure(result: .refused(reason: "the callback host is \(refusal)")))
            }
            return .success(directClient)
        }
        let addresses: [IPAddress]
        do {
            addresses = try await resolver.addresses(of: url.hostForResolution, port: url.effectivePort)
        } catch {
            return .failure(RouteFailure(result: .transportFailure(reason: "\(error)", timedOut: false)))
        }
        guard let first = addresses.first else {
            return .failure(RouteFailure(result: .transportFailure(reason: "\(url.host) has no addresses", timedOut: false)))
        }
        for address in addresses {
            if let refusal = policy.refusal(for: address) {
                return .failure(
                    RouteFailure(result: .refused(reason: "\(url.host) resolves to \(refusal)"))
                )
            }
        }
        return .success(pinnedClient(host: url.hostForResolution, address: first))
    }

    private func pinnedClient(host: String, address: IPAddress) -> HTTPClient {
        let key = "\(host)|\(address)"
        var evicted: [HTTPClient] = []
        let client = pinnedClients.withLock { clients -> HTTPClient in
            if let existing = clients[key] { return existing }
            if clients.count >= Self.maximumPinnedClients {
                evicted = Array(clients.values)
                clients.removeAll()
            }
            let client = HTTPClient(
                eventLoopGroupProvider: .shared(eventLoopGroup),
                configuration: Self.clientConfiguration(dnsOverride: [host: "\(address)"])
            )
            clients[key] = client
            return client
        }
        for old in evicted { old.shutdown { _ in } }
        return client
    }
}
