import Testing
import VideoSpoolCore

struct AddressPolicyTests {
    private let policy = AddressPolicy()

    private func address(_ text: String) throws -> IPAddress {
        try #require(IPAddress(lenient: text), "\(text) is not an address")
    }

    static let nonPublic: [(String, String)] = [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("10.0.0.1", "private"),
        ("10.255.255.255", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("192.168.255.255", "private"),
        ("169.254.169.254", "link-local"),
        ("169.254.0.1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.255", "carrier-grade NAT"),
        ("0.0.0.0", "this network"),
        ("0.1.2.3", "this network"),
        ("192.0.0.8", "IETF"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("192.88.99.1", "6to4 relay"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.254", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("febf::1", "link-local"),
        ("fec0::1", "site-local"),
        ("fc00::1", "unique local"),
        ("fd00:ec2::254", "unique local"),
        ("fdff:ffff::1", "unique local"),
        ("ff02::1", "multicast"),
        ("ff05::2", "multicast"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("100::1", "discard-only"),
        ("5f00::1", "SRv6"),
        ("::ffff:127.0.0.1", "embeds 127.0.0.1"),
        ("::ffff:7f00:1", "embeds 127.0.0.1"),
        ("::ffff:10.0.0.1", "embeds 10.0.0.1"),
        ("::ffff:169.254.169.254", "embeds 169.254.169.254"),
        ("::127.0.0.1", "embeds 127.0.0.1"),
        ("::10.0.0.1", "embeds 10.0.0.1"),
        ("64:ff9b::a00:1", "embeds 10.0.0.1"),
        ("64:ff9b::10.0.0.1", "embeds 10.0.0.1"),
        ("64:ff9b::7f00:1", "embeds 127.0.0.1"),
        ("2002:0a00:0001::", "embeds 10.0.0.1"),
        ("2002:7f00:0001::1", "embeds 127.0.0.1"),
        ("2002:c0a8:0101:1::1", "embeds 192.168.1.1"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("4000::1", "outside the global unicast range"),
        ("1::1", "outside the global unicast range"),
        ("e000::1", "outside the global unicast range"),
    ]

    @Test(arguments: AddressPolicyTests.nonPublic)
    func nonPublicAddressesAreRefusedWithAReason(text: String, reason: String) throws {
        let refusal = try #require(policy.refusal(for: try address(text)), "\(text) was allowed")
        #expect(refusal.contains(reason), "\(text): \(refusal)")
    }

    @Test(arguments: [
        "8.8.8.8", "1.1.1.1", "9.9.9.9", "93.184.216.34", "172.15.255.255", "172.32.0.0", "100.63.255.255",
        "100.128.0.0", "169.253.255.255", "192.167.255.255", "223.255.255.255", "11.0.0.0", "126.255.255.255",
        "128.0.0.0", "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001:81c::200e",
        "2001:db9::1", "3ffe::1", "2c0f:f248::1",
    ])
    func publicAddressesAreAllowed(text: String) throws {
        #expect(policy.refusal(for: try address(text)) == nil)
    }

    @Test(arguments: AddressPolicyTests.nonPublic.map(\.0))
    func allowPrivateNetworksOpensEverything(text: String) throws {
        let open = AddressPolicy(allowPrivateNetworks: true)
        #expect(open.refusal(for: try address(text)) == nil)
    }

    @Test func anAllowedIPv4RangeOpensOnlyThatRange() throws {
        let policy = AddressPolicy(allowedNetworks: [try #require(CIDR("10.0.0.0/8"))])
        #expect(policy.refusal(for: try address("10.0.0.1")) == nil)
        #expect(policy.refusal(for: try address("10.200.3.4")) == nil)
        #expect(policy.refusal(for: try address("11.0.0.1")) == nil, "public stays allowed")
        #expect(policy.refusal(for: try address("192.168.1.1")) != nil)
        #expect(policy.refusal(for: try address("127.0.0.1")) != nil)
        #expect(policy.refusal(for: try address("172.16.0.1")) != nil)
    }

    @Test func anAllowedIPv4RangeAlsoCoversItsIPv6Encodings() throws {
        let policy = AddressPolicy(allowedNetworks: [try #require(CIDR("10.0.0.0/8"))])
        #expect(policy.refusal(for: try address("::ffff:10.0.0.1")) == nil)
        #expect(policy.refusal(for: try address("64:ff9b::a00:1")) == nil)
        #expect(policy.refusal(for: try address("::ffff:127.0.0.1")) != nil)
    }

    @Test func anAllowedIPv6RangeOpensOnlyThatRange() throws {
        let policy = AddressPolicy(allowedNetworks: [try #require(CIDR("fd00::/8"))])
        #expect(policy.refusal(for: try address("fd00:ec2::254")) == nil)
        #expect(policy.refusal(for: try address("fc00::1")) != nil)
        #expect(policy.refusal(for: try address("::1")) != nil)
        #expect(policy.refusal(for: try address("10.0.0.1")) != nil)
    }

    @Test func aSingleHostCanBeAllowed() throws {
        let policy = AddressPolicy(allowedNetworks: [try #require(CIDR("127.0.0.1/32"))])
        #expect(policy.refusal(for: try address("127.0.0.1")) == nil)
        #expect(policy.refusal(for: try address("127.0.0.2")) != nil)
    }

    @Test func theRefusalNamesTheAddress() throws {
        let refusal = try #require(policy.refusal(for: try address("0x7f000001")))
        #expect(refusal.hasPrefix("127.0.0.1 "))
    }
}
