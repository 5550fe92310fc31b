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
    private let resolver: any HostResolver
    private let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    /// Clients pinned to one vetted address per host, reused while DNS keeps giving that address.
    private let pinnedClients = Mutex(PinnedClients())
    private let directClient: HTTPClient

    private static let maximumPinnedClients = 128

    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup,
        resolver: any HostResolver = AddressResolver(),
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
        // AsyncHTTPClient keeps retrying a refused connection until the connect timeout; a dead
        // receiver should cost an attempt a few seconds, not ten.
        configuration.timeout = .init(connect: .seconds(5), read: nil)
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
        let clients = pinnedClients.withLock { $0.removeAll() }
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
        switch await route(url, policy: configuration.addressPolicy) {
        case .success(let vetted): addresses = vetted
        case .failure(let failure): return failure.result
        }
        // Every vetted address in the resolver's order, moving on only when a connection could not
        // be made (nothing was sent): a host whose first address is unreachable (IPv6 without a
        // route, say) is still delivered to.
        var result: DeliveryStateMachine.AttemptResult = .transportFailure(reason: "no address tried", timedOut: false)
        for (index, address) in addresses.enumerated() {
            let client = address.map { pinnedClient(host: url.hostForResolution, address: $0) } ?? directClient
            defer { pinnedClients.withLock { $0.finished(client) } }
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

    private struct RouteFailure: Error {
        let result: DeliveryStateMachine.AttemptResult
    }

    /// The addresses to connect to for `url`, each vetted; `nil` stands for "let the client
    /// connect as written" (no check needed, or a vetted IP literal).
    private func route(_ url: HTTPURL, policy: AddressPolicy) async -> Result<[IPAddress?], RouteFailure> {
        if policy.allowPrivateNetworks { return .success([nil]) }
        if let literal = url.literalAddress {
            if let refusal = policy.refusal(for: literal) {
                return .failure(RouteFailure(result: .refused(reason: "the callback host is \(refusal)")))
            }
            return .success([nil])
        }
        let addresses: [IPAddress]
        do {
            addresses = try await resolver.addresses(of: url.hostForResolution, port: url.effectivePort)
        } catch {
            return .failure(RouteFailure(result: .transportFailure(reason: "\(error)", timedOut: false)))
        }
        guard !addresses.isEmpty else {
            return .failure(RouteFailure(result: .transportFailure(reason: "\(url.host) has no addresses", timedOut: false)))
        }
        // Every address must pass: a name that also resolves to a private address is refused
        // outright (DNS rebinding tries exactly that mix).
        for address in addresses {
            if let refusal = policy.refusal(for: address) {
                return .failure(RouteFailure(result: .refused(reason: "\(url.host) resolves to \(refusal)")))
            }
        }
        return .success(addresses.map(Optional.some))
    }

    private func pinnedClient(host: String, address: IPAddress) -> HTTPClient {
        let key = "\(host)|\(address)"
        let (client, evicted) = pinnedClients.withLock { clients in
            clients.checkOut(key: key, limit: Self.maximumPinnedClients) {
                HTTPClient(
                    eventLoopGroupProvider: .shared(eventLoopGroup),
                    configuration: Self.clientConfiguration(dnsOverride: [host: "\(address)"])
                )
            }
        }
        for old in evicted { old.shutdown { _ in } }
        return client
    }
}

/// The pinned clients by "host|address", least recently used first; a client is only shut down
/// when no delivery is using it.
private struct PinnedClients {
    private var entries: [String: (client: HTTPClient, inUse: Int, lastUsed: UInt64)] = [:]
    private var clock: UInt64 = 0

    /// The client for `key` (made if needed), counted as in use; plus idle clients to shut down
    /// to stay within `limit`.
    mutating func checkOut(key: String, limit: Int, make: () -> HTTPClient) -> (HTTPClient, [HTTPClient]) {
        clock += 1
        if var entry = entries[key] {
            entry.inUse += 1
            entry.lastUsed = clock
            entries[key] = entry
            return (entry.client, [])
        }
        var evicted: [HTTPClient] = []
        while entries.count >= limit,
            let idle = entries.filter({ $0.value.inUse == 0 }).min(by: { $0.value.lastUsed < $1.value.lastUsed })
        {
            evicted.append(idle.value.client)
            entries[idle.key] = nil
        }
        let client = make()
        entries[key] = (client, 1, clock)
        return (client, evicted)
    }

    /// Marks one use of `client` as over (no-op for the unpinned shared client).
    mutating func finished(_ client: HTTPClient) {
        guard let key = entries.first(where: { $0.value.client === client })?.key else { return }
        entries[key]?.inUse -= 1
    }

    mutating func removeAll() -> [HTTPClient] {
        defer { entries.removeAll() }
        return entries.values.map(\.client)
    }
}
