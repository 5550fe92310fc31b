/// Decides which addresses callbacks may connect to.
///
/// By default only globally routable unicast addresses are allowed: loopback, private, link-local,
/// CGNAT, multicast, documentation, benchmarking, reserved and unspecified ranges are refused in IPv4
/// and IPv6, and IPv4-mapped or NAT64/6to4 encodings are judged by the IPv4 address inside (Svix's
/// list, `webhook_http_client.rs`). Operators open specific ranges with `allowedNetworks`, or
/// everything with `allowPrivateNetworks`.
public struct AddressPolicy: Sendable, Hashable {
    public var allowPrivateNetworks: Bool
    public var allowedNetworks: [CIDR]

    public init(allowPrivateNetworks: Bool = false, allowedNetworks: [CIDR] = []) {
        self.allowPrivateNetworks = allowPrivateNetworks
        self.allowedNetworks = allowedNetworks
    }

    /// Why an address is refused, or `nil` when a connection to it is allowed.
    public func refusal(for address: IPAddress) -> String? {
        if allowPrivateNetworks { return nil }
        if allowedNetworks.contains(where: { $0.contains(address) }) { return nil }
        if let embedded = Self.embeddedIPv4(address) {
            if allowedNetworks.contains(where: { $0.contains(embedded) }) { return nil }
            if let reason = Self.nonPublicReason(embedded) { return "\(address) embeds \(embedded), \(reason)" }
        }
        return Self.nonPublicReason(address).map { "\(address) is \($0)" }
    }

    private static let blockedRanges: [(CIDR, String)] = [
        ("0.0.0.0/8", "a 'this network' address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        // Before 240.0.0.0/4, which contains it: the first match names the reason.
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("::ffff:0:0/96", "an IPv4-mapped address"),
        ("64:ff9b::/96", "a NAT64 address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001:db8::/32", "a documentation address"),
        ("2002::/16", "a 6to4 address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "an SRv6 SID address"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    ].map { (CIDR($0.0)!, $0.1) }

    static func nonPublicReason(_ address: IPAddress) -> String? {
        if case .v6(let high, _) = address, high >> 61 != 1 {
            // Only 2000::/3 is allocated global unicast; everything else is reserved or special.
            if let match = blockedRanges.first(where: { $0.0.contains(address) }) { return match.1 }
            return "outside the global unicast range 2000::/3"
        }
        return blockedRanges.first { $0.0.contains(address) }?.1
    }

    /// The IPv4 address carried inside IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
    /// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`) addresses.
    static func embeddedIPv4(_ address: IPAddress) -> IPAddress? {
        guard case .v6(let high, let low) = address else { return nil }
        if high == 0, low >> 32 == 0xFFFF || (low >> 32 == 0 && low > 1) {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        if high == 0x0064_FF9B_0000_0000, low >> 32 == 0 {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        if high >> 48 == 0x2002 {
            return .v4(UInt32(truncatingIfNeeded: high >> 16))
        }
        return nil
    }
}
