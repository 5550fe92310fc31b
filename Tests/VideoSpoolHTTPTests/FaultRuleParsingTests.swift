import Testing
import VideoSpoolSimulator

/// The `videospool simulate --fault` syntax.
struct FaultRuleParsingTests {
    @Test(arguments: [
        ("submit:status=429,retry-after=5*3", FaultRule(endpoint: .submit, fault: .status(429, retryAfterSeconds: 5), remaining: 3)),
        ("poll:status=503", FaultRule(endpoint: .poll, fault: .status(503, retryAfterSeconds: nil))),
        ("any:delay=2.5", FaultRule(endpoint: .any, fault: .delay(.milliseconds(2500)))),
        ("submit:drop*1", FaultRule(endpoint: .submit, fault: .dropConnection, remaining: 1)),
        ("poll:malformed", FaultRule(endpoint: .poll, fault: .malformedJSON)),
        ("poll:report=error", FaultRule(endpoint: .poll, fault: .reportStatus("error"))),
        ("poll:video-url=javascript:alert(1)", FaultRule(endpoint: .poll, fault: .reportVideoURL("javascript:alert(1)"))),
        (
            "poll:video-url=https://x.test/a,b.mp4*2",
            FaultRule(endpoint: .poll, fault: .reportVideoURL("https://x.test/a,b.mp4"), remaining: 2)
        ),
        ("submit:accept-then-fail=504", FaultRule(endpoint: .submit, fault: .acceptThenFail(504))),
        ("any:concurrency-limit=5", FaultRule(endpoint: .any, fault: .concurrencyLimit(5, retryAfterSeconds: nil))),
        ("any:rate-limit=20,retry-after=1", FaultRule(endpoint: .any, fault: .rateLimit(perSecond: 20, retryAfterSeconds: 1))),
        ("any:status=401,for=5", FaultRule(endpoint: .any, fault: .status(401, retryAfterSeconds: nil), window: .seconds(5))),
        ("poll:status=403,for=0.5", FaultRule(endpoint: .poll, fault: .status(403, retryAfterSeconds: nil), window: .milliseconds(500))),
    ])
    func faultsParse(text: String, rule: FaultRule) throws {
        #expect(try FaultRule(parsing: text) == rule)
    }

    @Test(arguments: [
        "submit", "nowhere:drop", "submit:status", "submit:status=x", "submit:drop*0", "poll:melt", "poll:report=",
        "any:concurrency-limit=0", "any:rate-limit=lots", "any:status=401,for=0", "any:status=401,for=soon",
        "any:status=401,for=5*2",
    ])
    func malformedFaultsAreRefusedWithAReason(text: String) {
        let error = #expect(throws: FaultSyntaxError.self) { try FaultRule(parsing: text) }
        #expect(error?.description.contains(text) == true)
    }
}
