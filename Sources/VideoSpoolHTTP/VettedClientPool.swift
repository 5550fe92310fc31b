import AsyncHTTPClient
import NIOCore
import Synchronization
import VideoSpoolCore

/// HTTP clients that connect only to addresses an ``AddressPolicy`` allows, for URLs that come
/// from the network (webhook callbacks, video links): the host is resolved, every address is
/// checked, and the connection is pinned to a checked address with `dnsOverride` (TLS still
/// verifies the host name), so a DNS answer that changes between check and connect cannot
/// redirect the request.
final class VettedClientPool: Sendable {
    /// Why a URL may not be connected to.
    enum RouteFailure: Error, Sendable {
        /// The host is an IP literal the policy refuses; the policy's reason.
        case literalRefused(String)
        /// The host resolves to an address the policy refuses; the policy's reason.
        case resolvesToRefused(String)
        /// The resolver failed; its description.
        case unresolvable(String)
        /// The resolver answered no addresses.
        case noAddresses
    }

    private let resolver: any HostResolver
    private let eventLoopGroup: any EventLoopGroup
    private let template: HTTPClient.Configuration
    private let maximumPinnedClients: Int
    /// Clients pinned to one vetted address per host, reused while DNS keeps giving that address.
    private let pinnedClients = Mutex(PinnedClients())
    /// For URLs that need no pin: private networks allowed, or a vetted IP literal.
    private let directClient: HTTPClient

    /// - Parameter configuration: every client's configuration; `dnsOverride` is set per pinned client.
    init(
        eventLoopGroup: any EventLoopGroup,
        resolver: any HostResolver,
        configuration: HTTPClient.Configuration,
        maximumPinnedClients: Int = 128
    ) {
        self.resolver = resolver
        self.eventLoopGroup = eventLoopGroup
        self.template = configuration
        self.maximumPinnedClients = maximumPinnedClients
        var direct = configuration
        direct.dnsOverride = [:]
        self.directClient = HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: direct)
    }

    /// The addresses to connect to for `url`, each vetted, in the resolver's order; `nil` stands for
    /// "let the client connect as written" (no check needed, or a vetted IP literal).
    func route(_ url: HTTPURL, policy: AddressPolicy) async -> Result<[IPAddress?], RouteFailure> {
        if policy.allowPrivateNetworks { return .success([nil]) }
        if let literal = url.literalAddress {
            if let refusal = policy.refusal(for: literal) { return .failure(.literalRefused(refusal)) }
            return .success([nil])
        }
        let addresses: [IPAddress]
        do {
            addresses = try await resolver.addresses(of: url.hostForResolution, port: url.effectivePort)
        } catch {
            return .failure(.unresolvable("\(error)"))
        }
        guard !addresses.isEmpty else { return .failure(.noAddresses) }
        // Every address must pass: a name that also resolves to a private address is refused
        // outright (DNS rebinding tries exactly that mix).
        for address in addresses {
            if let refusal = policy.refusal(for: address) { return .failure(.resolvesToRefused(refusal)) }
        }
        return .success(addresses.map(Optional.some))
    }

    /// The client for `host` pinned to `address` (or the direct client for `nil`), counted as in
    /// use until ``checkIn(_:)``.
    func checkOut(host: String, address: IPAddress?) -> HTTPClient {
        guard let address else { return directClient }
        let key = "\(host)|\(address)"
        let (client, evicted) = pinnedClients.withLock { clients in
            clients.checkOut(key: key, limit: maximumPinnedClients) {
                var configuration = template
                configuration.dnsOverride = [host: "\(address)"]
                return HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: configuration)
            }
        }
        for old in evicted { old.shutdown { _ in } }
        return client
    }

    /// Marks one use of `client` as over.
    func checkIn(_ client: HTTPClient) {
        pinnedClients.withLock { $0.finished(client) }
    }

    /// Closes every connection; call once, after the last request.
    func shutdown() async throws {
        let clients = pinnedClients.withLock { $0.removeAll() }
        for client in clients { try await client.shutdown() }
        try await directClient.shutdown()
    }
}

/// The pinned clients by "host|address", least recently used first; a client is only shut down
/// when no request is using it.
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
