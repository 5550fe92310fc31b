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
    private let logger: Logger
    private let clients: VettedClientPool

    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup,
        resolver: any HostResolver = AddressResolver(),
        logger: Logger
    ) {
        self.configuration = Mutex(configuration)
        self.logger = logger
        self.clients = VettedClientPool(
            eventLoopGroup: eventLoopGroup,
            resolver: resolver,
            configuration: Self.clientConfiguration()
        )
    }

    private static func clientConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        // AsyncHTTPClient keeps retrying a refused connection until the connect timeout; a dead
        // receiver should cost an attempt a few seconds, not ten.
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        configuration.decompression = .disabled
        return configuration
    }

    /// Applies a new timeout, size cap or address policy (configuration reload).
    public func update(_ configuration: Configuration) {
        self.configuration.withLock { $0 = configuration }
    }

    /// Closes every connection; call once, after the last `send`.
    public func shutdown() async throws {
        try await clients.shutdown()
    }

    public func send(_ request: WebhookRequest) async -> DeliveryStateMachine.AttemptResult {
        let configuration = self.configuration.withLock { $0 }
        let url: HTTPURL
        do {
            url = try HTTPURL(parsing: request.url)
        } catch {
            return .refused(reason: "the callback URL \(error.message)")
        }
        var headers = HTTPHeaders()
        for header in request.headers { headers.add(name: header.name, value: header.value) }
        let httpRequest: HTTPClient.Request
        do {
            // From the parsed URL (host lowercased): `dnsOverride` matches host names exactly, so a
            // differently cased host would miss the pin and be resolved again by the client.
            httpRequest = try HTTPClient.Request(
                url: url.description,
                method: .POST,
                headers: headers,
                body: .bytes(request.body)
            )
        } catch {
            return .refused(reason: "the callback URL cannot be requested: \(error)")
        }
        // The client must connect to the very host that was checked; it percent-decodes hosts, which
        // the check does not (`loc%61lhost` would be vetted as one name and connected to as another).
        guard httpRequest.host == url.hostForResolution else {
            return .refused(reason: "the callback URL's host \(url.host) is written in a form that cannot be checked")
        }
        let addresses: [IPAddress?]
        switch await clients.route(url, policy: configuration.addressPolicy) {
        case .success(let vetted): addresses = vetted
        case .failure(.literalRefused(let refusal)): return .refused(reason: "the callback host is \(refusal)")
        case .failure(.resolvesToRefused(let refusal)): return .refused(reason: "\(url.host) resolves to \(refusal)")
        case .failure(.unresolvable(let reason)): return .transportFailure(reason: reason, timedOut: false)
        case .failure(.noAddresses): return .transportFailure(reason: "\(url.host) has no addresses", timedOut: false)
        }
        // Every vetted address in the resolver's order, moving on only when a connection could not
        // be made (nothing was sent): a host whose first address is unreachable (IPv6 without a
        // route, say) is still delivered to.
        var result: DeliveryStateMachine.AttemptResult = .transportFailure(reason: "no address tried", timedOut: false)
        for (index, address) in addresses.enumerated() {
            let client = clients.checkOut(host: url.hostForResolution, address: address)
            defer { clients.checkIn(client) }
            let recorder = ExchangeRecorder(maximumBodyBytes: configuration.maximumResponseBytes)
            let deadline = NIODeadline.now() + .milliseconds(configuration.timeout.wholeMilliseconds)
            do {
                let recorded = try await recorder.execute(httpRequest, on: client, deadline: deadline, logger: logger)
                return .response(
                    statusCode: Int(recorded.status.code),
                    retryAfter: recorded.headers.first(name: "Retry-After").flatMap(RetryAfter.init(headerValue:)),
                    location: recorded.headers.first(name: "Location")
                )
            } catch {
                let (reason, timedOut) = TransportErrorDescription.describe(error)
                let more = index + 1 < addresses.count
                let tried = addresses.count > 1 && !more ? " (tried \(addresses.count) address(es))" : ""
                result = .transportFailure(reason: reason + tried, timedOut: timedOut)
                if recorder.requestWasSent || !more { return result }
            }
        }
        return result
    }
}
