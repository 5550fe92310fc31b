import Testing
import VideoSpoolCore

struct HTTPURLTests {
    @Test func aURLSplitsIntoSchemeHostPortAndPath() throws {
        let url = try HTTPURL(parsing: "https://Hooks.Example.COM:8443/Video/Done?token=abc#frag")
        #expect(url.scheme == "https")
        #expect(url.host == "hooks.example.com")
        #expect(url.port == 8443)
        #expect(url.effectivePort == 8443)
        #expect(url.pathAndQuery == "/Video/Done?token=abc#frag")
        #expect(url.hostForResolution == "hooks.example.com")
        #expect(url.literalAddress == nil)
        #expect(url.description == "https://hooks.example.com:8443/Video/Done?token=abc#frag")
    }

    @Test(arguments: [
        ("http://example.com", "http", 80, "/"),
        ("https://example.com", "https", 443, "/"),
        ("HTTP://example.com/", "http", 80, "/"),
        ("HtTpS://example.com/a/b", "https", 443, "/a/b"),
        ("http://example.com?x=1", "http", 80, "/?x=1"),
        ("http://example.com#top", "http", 80, "/#top"),
        ("http://example.com:1/", "http", 1, "/"),
        ("http://example.com:65535/", "http", 65535, "/"),
        ("https://example.com:80/x", "https", 80, "/x"),
    ])
    func schemesPortsAndPathsHaveDefaults(text: String, scheme: String, port: Int, path: String) throws {
        let url = try HTTPURL(parsing: text)
        #expect(url.scheme == scheme)
        #expect(url.effectivePort == port)
        #expect(url.pathAndQuery == path)
    }

    @Test func anIPv6LiteralKeepsItsBracketsAndTakesAPort() throws {
        let url = try HTTPURL(parsing: "http://[2001:DB8::1]:8080/hook")
        #expect(url.host == "[2001:db8::1]")
        #expect(url.port == 8080)
        #expect(url.pathAndQuery == "/hook")
        #expect(url.hostForResolution == "2001:db8::1")
        #expect(url.literalAddress == IPAddress(strict: "2001:db8::1"))
        #expect(url.description == "http://[2001:db8::1]:8080/hook")
    }

    @Test func anIPv6LiteralWithoutAPortUsesTheDefault() throws {
        let url = try HTTPURL(parsing: "https://[::1]/")
        #expect(url.host == "[::1]")
        #expect(url.port == nil)
        #expect(url.effectivePort == 443)
        #expect(url.literalAddress == .v6(0, 1))
    }

    @Test(arguments: [
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f000001:8080/", "127.0.0.1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://[fe80::1%25eth0]/", "fe80::1"),
    ])
    func literalAddressesAreRecognisedInEverySpelling(text: String, address: String) throws {
        let url = try HTTPURL(parsing: text)
        #expect(url.literalAddress?.description == address)
    }

    @Test(arguments: ["http://example.com/", "http://localhost/", "http://1.2.3.4.example/", "http://a-b.c_d.example/"])
    func hostNamesAreNotLiteralAddresses(text: String) throws {
        #expect(try HTTPURL(parsing: text).literalAddress == nil)
    }

    @Test(arguments: [
        ("ftp://example.com/file", "uses the scheme 'ftp'"),
        ("file:///etc/passwd", "uses the scheme 'file'"),
        ("ws://example.com/", "uses the scheme 'ws'"),
        ("javascript:alert(1)", "uses the scheme 'javascript'"),
        ("example.com/hook", "not an absolute URL"),
        ("", "not an absolute URL"),
        ("mailto:a@example.com", "uses the scheme 'mailto'"),
        ("http://[evil.com]/", "not an IPv6 address"),
        ("http://[127.0.0.1]/", "not an IPv6 address"),
        ("http://user@example.com/", "user info"),
        ("http://user:password@example.com/", "user info"),
        ("https://:@example.com/", "user info"),
        ("http://example.com @evil.com/", "whitespace"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com/a b", "whitespace"),
        ("http://example.com/\n", "whitespace"),
        ("http://example.com/\t", "whitespace"),
        ("http://example.com/\u{7F}", "whitespace"),
        ("http://example.com:0/", "port outside"),
        ("http://example.com:65536/", "port outside"),
        ("http://example.com:99999/", "port outside"),
        ("http://example.com:-1/", "invalid port"),
        ("http://example.com:/", "invalid port"),
        ("http://example.com:+80/", "invalid port"),
        ("http://[::1]:+80/", "invalid port"),
        ("http://example.com:0x50/", "invalid port"),
        ("http://example.com:http/", "invalid port"),
        ("http://[::1]:/", "invalid port"),
        ("http://[::1]x/", "invalid port"),
        ("http://[::1/", "unclosed"),
        ("http:///path", "no host"),
        ("http://", "no host"),
        ("http://:8080/", "no host"),
        ("http://exa$mple.com/", "invalid characters"),
        ("http://example.com\\@evil.com/", "user info"),
        ("http://example.com\\evil.com/", "invalid characters"),
        ("http://exa\"mple.com/", "invalid characters"),
    ])
    func malformedURLsAreRejectedWithAReason(text: String, reason: String) {
        do {
            let url = try HTTPURL(parsing: text)
            Issue.record("\(text.debugDescription) parsed as \(url)")
        } catch {
            #expect(error.message.contains(reason), "\(text.debugDescription): \(error.message)")
        }
    }

    @Test func overlongURLsAreRejected() {
        let text = "https://example.com/" + String(repeating: "a", count: 2048)
        #expect(throws: HTTPURL.ParseError.self) { try HTTPURL(parsing: text) }
        let justFits = "https://example.com/" + String(repeating: "a", count: 2048 - 20)
        #expect(throws: Never.self) { try HTTPURL(parsing: justFits) }
    }

    @Test func internationalHostNamesAreAllowed() throws {
        let url = try HTTPURL(parsing: "https://bücher.example/hook")
        #expect(url.host == "bücher.example")
    }

    // MARK: - Redaction

    @Test func redactionDropsTheQueryAndFragment() throws {
        let url = try HTTPURL(parsing: "https://hooks.example.com:8443/v1/done?token=s3cr3t&x=1#frag")
        #expect(url.redacted == "https://hooks.example.com:8443/v1/done?…")
        #expect(!url.redacted.contains("s3cr3t"))
        #expect(!url.redacted.contains("frag"))
    }

    @Test(arguments: [
        ("https://h.example/hook", "https://h.example/hook"),
        ("https://h.example", "https://h.example/"),
        ("https://h.example#secret", "https://h.example/?…"),
        ("https://h.example/p?", "https://h.example/p?…"),
        ("http://[::1]:80/a?b", "http://[::1]:80/a?…"),
    ])
    func redactionKeepsSchemeHostPortAndPath(text: String, redacted: String) throws {
        #expect(try HTTPURL(parsing: text).redacted == redacted)
    }

    @Test func redactingAnUnparseableStringRevealsNothing() {
        #expect(HTTPURL.redacting("ftp://user:pw@host/?token=x") == "(unparseable URL)")
        #expect(HTTPURL.redacting("https://h.example/p?token=x") == "https://h.example/p?…")
    }
}
