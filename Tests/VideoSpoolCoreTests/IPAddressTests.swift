import Testing
import VideoSpoolCore

private let loopbackV4 = IPAddress.v4(0x7F00_0001)

struct IPAddressTests {
    // MARK: - Lenient parsing

    @Test(arguments: [
        ("127.0.0.1", loopbackV4),
        ("127.1", loopbackV4),
        ("127.0.1", loopbackV4),
        ("0x7f000001", loopbackV4),
        ("0X7F000001", loopbackV4),
        ("2130706433", loopbackV4),
        ("0177.0.0.1", loopbackV4),
        ("0x7f.0.0.1", loopbackV4),
        ("0x7f.1", loopbackV4),
        ("017700000001", loopbackV4),
        ("10.1", IPAddress.v4(0x0A00_0001)),
        ("0", IPAddress.v4(0)),
        ("255.255.255.255", IPAddress.v4(.max)),
        ("4294967295", IPAddress.v4(.max)),
        ("[::1]", IPAddress.v6(0, 1)),
        ("::1", IPAddress.v6(0, 1)),
        ("fe80::1%eth0", IPAddress.v6(0xFE80_0000_0000_0000, 1)),
        ("[fe80::1%eth0]", IPAddress.v6(0xFE80_0000_0000_0000, 1)),
        ("[fe80::1%25eth0]", IPAddress.v6(0xFE80_0000_0000_0000, 1)),
        ("::ffff:127.0.0.1", IPAddress.v6(0, 0x0000_FFFF_7F00_0001)),
        ("::ffff:7f00:1", IPAddress.v6(0, 0x0000_FFFF_7F00_0001)),
        ("[::FFFF:7F00:0001]", IPAddress.v6(0, 0x0000_FFFF_7F00_0001)),
        ("2001:db8::1", IPAddress.v6(0x2001_0DB8_0000_0000, 1)),
        ("1:2:3:4:5:6:7:8", IPAddress.v6(0x0001_0002_0003_0004, 0x0005_0006_0007_0008)),
        ("::", IPAddress.v6(0, 0)),
        ("1::", IPAddress.v6(0x0001_0000_0000_0000, 0)),
        ("64:ff9b::10.0.0.1", IPAddress.v6(0x0064_FF9B_0000_0000, 0x0000_0000_0A00_0001)),
    ])
    func lenientParsingAcceptsWhatResolversAccept(text: String, address: IPAddress) {
        #expect(IPAddress(lenient: text) == address)
    }

    @Test(arguments: [
        "", "example.com", "localhost", "1.2.3.4.5", "256.0.0.1", "1.256.0.1", "1.2.3.256", "1.2.65536",
        "4294967296", "0x100000000", "08.0.0.1", "09", "1..2.3", "1.2.3.", ".1.2.3", "0xg", "-1", "1.2.3.4 ",
        " 1.2.3.4", ":::", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1.2.3.4:80",
        "::1.2.3.256", "::01.2.3.4", "[::1", "::1]", "0x+7f.0.0.1", "0x-1", "0+1", "0-1.0.0.1", "+1", "::+1", "::-0",
        "fe80::+1%eth0",
    ])
    func lenientParsingRejectsNonAddresses(text: String) {
        #expect(IPAddress(lenient: text) == nil)
    }

    // MARK: - Strict parsing

    @Test(arguments: [
        ("127.0.0.1", loopbackV4),
        ("0.0.0.0", IPAddress.v4(0)),
        ("255.255.255.255", IPAddress.v4(.max)),
        ("10.20.30.40", IPAddress.v4(0x0A14_1E28)),
        ("::1", IPAddress.v6(0, 1)),
        ("::", IPAddress.v6(0, 0)),
        ("2001:db8::1", IPAddress.v6(0x2001_0DB8_0000_0000, 1)),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", IPAddress.v6(0x2001_0DB8_0000_0000, 1)),
        ("::ffff:127.0.0.1", IPAddress.v6(0, 0x0000_FFFF_7F00_0001)),
        ("1:2:3:4:5:6:1.2.3.4", IPAddress.v6(0x0001_0002_0003_0004, 0x0005_0006_0102_0304)),
    ])
    func strictParsingAcceptsCanonicalSpellings(text: String, address: IPAddress) {
        #expect(IPAddress(strict: text) == address)
    }

    @Test(arguments: [
        "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "01.2.3.4", "127.0.0.01", "[::1]", "fe80::1%eth0",
        "256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.", "", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.4/8",
        "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "::1.2.3", "12345::", "::+1", "::-0", "+1::", "1:2:3:4:5:6:7:+8",
    ])
    func strictParsingRejectsOddSpellings(text: String) {
        #expect(IPAddress(strict: text) == nil)
    }

    // MARK: - Formatting

    @Test(arguments: [
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("FE80:0:0:0:0:0:0:ABCD", "fe80::abcd"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("64:ff9b::a00:1", "64:ff9b::a00:1"),
    ])
    func ipv6IsFormattedPerRFC5952(text: String, formatted: String) throws {
        let address = try #require(IPAddress(strict: text))
        #expect(address.description == formatted)
        #expect(IPAddress(strict: formatted) == address, "the formatted text parses back")
    }

    @Test(arguments: [
        ("127.1", "127.0.0.1"),
        ("0x0a000001", "10.0.0.1"),
        ("010.0.0.1", "8.0.0.1"),
        ("4294967295", "255.255.255.255"),
        ("0", "0.0.0.0"),
    ])
    func ipv4IsFormattedAsADottedQuad(text: String, formatted: String) throws {
        #expect(try #require(IPAddress(lenient: text)).description == formatted)
    }

    @Test func theMappedIPv4AddressIsExposed() {
        #expect(IPAddress(strict: "::ffff:10.0.0.1")?.ipv4Mapped == IPAddress(strict: "10.0.0.1"))
        #expect(IPAddress(strict: "::1")?.ipv4Mapped == nil)
        #expect(IPAddress(strict: "10.0.0.1")?.ipv4Mapped == nil)
        #expect(IPAddress(strict: "64:ff9b::a00:1")?.ipv4Mapped == nil)
    }
}

struct CIDRTests {
    private func address(_ text: String) -> IPAddress {
        IPAddress(strict: text)!
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0", true),
        ("10.0.0.0/8", "10.255.255.255", true),
        ("10.0.0.0/8", "11.0.0.0", false),
        ("10.0.0.0/8", "9.255.255.255", false),
        ("172.16.0.0/12", "172.31.255.255", true),
        ("172.16.0.0/12", "172.32.0.0", false),
        ("100.64.0.0/10", "100.127.1.1", true),
        ("100.64.0.0/10", "100.128.0.0", false),
        ("0.0.0.0/0", "0.0.0.0", true),
        ("0.0.0.0/0", "255.255.255.255", true),
        ("0.0.0.0/0", "::1", false),
        ("192.168.1.1/32", "192.168.1.1", true),
        ("192.168.1.1/32", "192.168.1.2", false),
        ("192.168.1.1", "192.168.1.1", true),
        ("192.168.1.1", "192.168.1.0", false),
        ("10.9.8.7/8", "10.1.1.1", true),
        ("::/0", "::", true),
        ("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("::/0", "10.0.0.1", false),
        ("::1/128", "::1", true),
        ("::1/128", "::2", false),
        ("::1/128", "1::1", false),
        ("::1", "::1", true),
        ("2001:db8::/32", "2001:db8:ffff:ffff::1", true),
        ("2001:db8::/32", "2001:db9::", false),
        ("fe80::/10", "febf:ffff::1", true),
        ("fe80::/10", "fec0::1", false),
        ("fc00::/7", "fdff::1", true),
        ("fc00::/7", "fe00::1", false),
        ("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", true),
        ("2001:db8::/64", "2001:db8:0:1::", false),
        ("::ffff:0:0/96", "::ffff:10.0.0.1", true),
        ("::ffff:0:0/96", "::fffe:10.0.0.1", false),
        ("2001:db8::/65", "2001:db8::7fff:ffff:ffff:ffff", true),
        ("2001:db8::/65", "2001:db8::8000:0:0:0", false),
        ("2001:db8::1:0/127", "2001:db8::1:1", true),
        ("2001:db8::1:0/127", "2001:db8::1:2", false),
    ])
    func containsMatchesThePrefix(cidr: String, candidate: String, contained: Bool) throws {
        let range = try #require(CIDR(cidr))
        #expect(range.contains(address(candidate)) == contained)
    }

    @Test(arguments: [
        "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8/8", "10.1/8", "example.com/8", "10.0.0.0/-1",
        "10.0.0.0/x", "/8", "", "[::1]/128",
    ])
    func malformedRangesAreRejected(text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test func aRangeDescribesItself() {
        #expect(CIDR("10.0.0.0/8")?.description == "10.0.0.0/8")
        #expect(CIDR("10.0.0.1")?.description == "10.0.0.1/32")
        #expect(CIDR("fc00::/7")?.description == "fc00::/7")
        #expect(CIDR("::1")?.prefixLength == 128)
    }
}
