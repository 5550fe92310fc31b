import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolSimulator
import VideoSpoolTesting

@Suite(.timeLimit(.minutes(1)))
struct HTTPWebhookTransportTests {
    /// Loopback is private: every test that is not about the guard opens it.
    private static let loopback = HTTPWebhookTransport.Configuration(
        timeout: .seconds(20),
        addressPolicy: AddressPolicy(allowPrivateNetworks: true)
    )

    private static let payload = Array(
        #"{"type":"video.completed","data":{"job_id":"job-1","video_url":"https://x/y.mp4"}}"#.utf8
    )

    /// A request signed the way the delivery service signs it.
    private func signedRequest(_ url: String, secret: WebhookSecret, body: [UInt8] = payload) -> WebhookRequest {
        let messageID = "msg_\(UUID().uuidString.lowercased())"
        let timestamp = Int64(Date().timeIntervalSince1970)
        let signature = WebhookSigner(secret: secret).signature(messageID: messageID, timestamp: timestamp, body: body)
        return WebhookRequest(
            url: url,
            headers: [
                ("content-type", "application/json"),
                ("user-agent", "videospool"),
                ("webhook-id", messageID),
                ("webhook-timestamp", String(timestamp)),
                ("webhook-signature", signature),
            ],
            body: body,
            jobID: testJobID,
            attempt: 1
        )
    }

    private func header(_ name: String, of request: WebhookRequest) -> String? {
        request.headers.first { $0.name == name }?.value
    }

    // MARK: - Delivery

    @Test func aSignedRequestIsDeliveredAndVerifiedByTheReceiver() async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        try await withTransport(Self.loopback) { transport in
            try await simulator.withRunningServer { port in
                let request = signedRequest("http://127.0.0.1:\(port)/webhooks/ok", secret: secret)
                let result = await transport.send(request)
                #expect(result == .response(statusCode: 204, retryAfter: nil, location: nil))

                let received = try #require(simulator.receiver.received.first)
                #expect(simulator.receiver.received.count == 1)
                #expect(received.path == "/webhooks/ok")
                #expect(received.signatureValid == true)
                #expect(received.webhookID == header("webhook-id", of: request))
                #expect(received.timestamp == header("webhook-timestamp", of: request))
                #expect(received.signature == header("webhook-signature", of: request))
                #expect(received.body == request.body)
                #expect(received.answeredStatus == 204)
            }
        }
    }

    @Test func aRequestSignedWithAnotherSecretIsRejectedByTheReceiver() async throws {
        let simulator = quickSimulator(webhookSecret: try makeWebhookSecret())
        try await withTransport(Self.loopback) { transport in
            try await simulator.withRunningServer { port in
                let request = signedRequest("http://127.0.0.1:\(port)/webhooks/ok", secret: try makeWebhookSecret())
                #expect(await transport.send(request) == .response(statusCode: 400, retryAfter: nil, location: nil))
                #expect(simulator.receiver.received.first?.signatureValid == false)
            }
        }
    }

    @Test func theReceiverCanBeAwaitedThroughItsSubscription() async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        try await withTransport(Self.loopback) { transport in
            try await simulator.withRunningServer { port in
                let arrivals = simulator.receiver.subscribe()
                let request = signedRequest("http://127.0.0.1:\(port)/webhooks/first", secret: secret)
                async let result = transport.send(request)
                var iterator = arrivals.makeAsyncIterator()
                let arrived = try #require(await iterator.next())
                #expect(arrived.path == "/webhooks/first")
                #expect(arrived.webhookID == header("webhook-id", of: request))
                #expect(await result == .response(statusCode: 204, retryAfter: nil, location: nil))
            }
        }
    }

    @Test(
        arguments: [
            (
                "/webhooks/status/500",
                DeliveryStateMachine.AttemptResult.response(statusCode: 500, retryAfter: nil, location: nil)
            ),
            (
                "/webhooks/status/503?retry_after=10",
                .response(statusCode: 503, retryAfter: .seconds(10), location: nil)
            ),
            ("/webhooks/status/429?retry_after=0", .response(statusCode: 429, retryAfter: .seconds(0), location: nil)),
            ("/webhooks/status/410", .response(statusCode: 410, retryAfter: nil, location: nil)),
            ("/webhooks/status/200", .response(statusCode: 200, retryAfter: nil, location: nil)),
            (
                "/webhooks/redirect/301",
                .response(statusCode: 301, retryAfter: nil, location: "https://elsewhere.invalid/webhooks")
            ),
            (
                "/webhooks/redirect/307",
                .response(statusCode: 307, retryAfter: nil, location: "https://elsewhere.invalid/webhooks")
            ),
            (
                "/webhooks/redirect/308",
                .response(statusCode: 308, retryAfter: nil, location: "https://elsewhere.invalid/webhooks")
            ),
        ]
    )
    func theReceiversAnswerIsReportedAsIsAndRedirectsAreNotFollowed(
        path: String,
        expected: DeliveryStateMachine.AttemptResult
    ) async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        try await withTransport(Self.loopback) { transport in
            try await simulator.withRunningServer { port in
                let result = await transport.send(signedRequest("http://127.0.0.1:\(port)\(path)", secret: secret))
                #expect(result == expected)
                #expect(simulator.receiver.received.count == 1)
                #expect(simulator.receiver.received.first?.signatureValid == true)
            }
        }
    }

    @Test(arguments: [301, 302, 303, 307, 308])
    func aRedirectToTheSameServerIsNotFollowed(code: Int) async throws {
        let landings = Counter()
        let router = Router()
        router.post("/hook") { _, _ -> Response in
            Response(status: HTTPResponse.Status(code: code), headers: [.location: "/landing"])
        }
        router.get("/landing") { _, _ -> Response in
            landings.increment()
            return Response(status: .noContent)
        }
        router.post("/landing") { _, _ -> Response in
            landings.increment()
            return Response(status: .noContent)
        }
        try await withTransport(Self.loopback) { transport in
            try await LoopbackServer.serve(router) { port in
                let result = await transport.send(
                    signedRequest("http://127.0.0.1:\(port)/hook", secret: try makeWebhookSecret())
                )
                #expect(result == .response(statusCode: code, retryAfter: nil, location: "/landing"))
                #expect(landings.value == 0)
            }
        }
    }

    // MARK: - Failures without an answer

    @Test func aReceiverThatHangsTimesOutWithinTheTransportTimeout() async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        var configuration = Self.loopback
        // Long enough that a loaded machine still gets the request to the receiver before it expires.
        configuration.timeout = .seconds(1)
        try await withTransport(configuration) { transport in
            try await simulator.withRunningServer { port in
                let started = ContinuousClock.now
                let result = await transport.send(
                    signedRequest("http://127.0.0.1:\(port)/webhooks/hang", secret: secret)
                )
                let elapsed = ContinuousClock.now - started
                guard case .transportFailure(_, let timedOut) = result else {
                    Issue.record("expected a transport failure, got \(result)")
                    return
                }
                #expect(timedOut)
                #expect(elapsed >= .milliseconds(950))
                #expect(elapsed < .seconds(6))
                var reached: String?
                for await item in simulator.receiver.subscribe() {
                    reached = item.path
                    break
                }
                #expect(reached == "/webhooks/hang")
            }
        }
    }

    @Test func aClosedPortIsATransportFailureThatDidNotTimeOut() async throws {
        let port = try await LoopbackServer.closedPort()
        try await withTransport(Self.loopback) { transport in
            let result = await transport.send(
                signedRequest("http://127.0.0.1:\(port)/webhooks/x", secret: try makeWebhookSecret())
            )
            guard case .transportFailure(let reason, let timedOut) = result else {
                Issue.record("expected a transport failure, got \(result)")
                return
            }
            #expect(!timedOut)
            #expect(reason == "connection refused")
        }
    }

    @Test func aHugeResponseBodyDoesNotKeepTheStatusFromBeingReported() async throws {
        let router = Router()
        router.post("/hook") { _, _ -> Response in
            Response(
                status: .ok,
                body: ResponseBody(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "x"), count: 5 * 1024 * 1024))
            )
        }
        var configuration = Self.loopback
        configuration.maximumResponseBytes = 1000
        try await withTransport(configuration) { transport in
            try await LoopbackServer.serve(router) { port in
                let result = await transport.send(
                    signedRequest("http://127.0.0.1:\(port)/hook", secret: try makeWebhookSecret())
                )
                #expect(result == .response(statusCode: 200, retryAfter: nil, location: nil))
            }
        }
    }

    @Test func aBodyThatNeverEndsIsCutAtTheCapAndTheStatusStillReported() async throws {
        let router = Router()
        router.post("/hook") { _, _ -> Response in
            Response(status: .ok, body: endlessBody())
        }
        var configuration = Self.loopback
        configuration.timeout = .seconds(5)
        configuration.maximumResponseBytes = 1000
        try await withTransport(configuration) { transport in
            try await LoopbackServer.serve(router) { port in
                let started = ContinuousClock.now
                let result = await transport.send(
                    signedRequest("http://127.0.0.1:\(port)/hook", secret: try makeWebhookSecret())
                )
                #expect(result == .response(statusCode: 200, retryAfter: nil, location: nil))
                #expect(ContinuousClock.now - started < .seconds(5))
            }
        }
    }

    // MARK: - The address guard

    @Test(
        arguments: [
            "http://127.0.0.1:PORT/webhooks/x",
            "http://[::1]:PORT/webhooks/x",
            "http://[::ffff:127.0.0.1]:PORT/webhooks/x",
            "http://0x7f000001:PORT/webhooks/x",
            "http://2130706433:PORT/webhooks/x",
            "http://017700000001:PORT/webhooks/x",
            "http://127.1:PORT/webhooks/x",
            "http://0.0.0.0:PORT/webhooks/x",
            "http://localhost:PORT/webhooks/x",
            "http://LOCALHOST:PORT/webhooks/x",
        ]
    )
    func theDefaultPolicyRefusesLoopbackInEverySpelling(template: String) async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        try await withTransport(HTTPWebhookTransport.Configuration()) { transport in
            try await simulator.withRunningServer { port in
                let url = template.replacingOccurrences(of: "PORT", with: String(port))
                let result = await transport.send(signedRequest(url, secret: secret))
                guard case .refused(let reason) = result else {
                    Issue.record("expected \(url) to be refused, got \(result)")
                    return
                }
                #expect(!reason.isEmpty)
                #expect(simulator.receiver.received.isEmpty)
            }
        }
    }

    @Test(arguments: ["http://loc%61lhost:PORT/webhooks/x", "http://%6C%6F%63%61%6C%68%6F%73%74:PORT/webhooks/x"])
    func aPercentEncodedHostIsRefusedBeforeAnyLookup(template: String) async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        // Even with private networks open: the HTTP client would decode the host the check saw encoded.
        for configuration in [HTTPWebhookTransport.Configuration(), Self.loopback] {
            try await withTransport(configuration) { transport in
                try await simulator.withRunningServer { port in
                    let url = template.replacingOccurrences(of: "PORT", with: String(port))
                    let result = await transport.send(signedRequest(url, secret: secret))
                    guard case .refused(let reason) = result else {
                        Issue.record("expected \(url) to be refused, got \(result)")
                        return
                    }
                    #expect(reason.contains("cannot be checked"))
                }
            }
        }
        #expect(simulator.receiver.received.isEmpty)
    }

    @Test func anUppercaseHostIsCheckedAndConnectedToAsTheSameName() async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        let configuration = HTTPWebhookTransport.Configuration(
            addressPolicy: AddressPolicy(allowedNetworks: [CIDR("127.0.0.0/8")!])
        )
        try await withTransport(configuration) { transport in
            try await simulator.withRunningServer { port in
                let result = await transport.send(
                    signedRequest("http://LocalHost:\(port)/webhooks/Case", secret: secret)
                )
                #expect(result == .response(statusCode: 204, retryAfter: nil, location: nil))
                // The path keeps its case; only the host is normalized.
                #expect(simulator.receiver.received.map(\.path) == ["/webhooks/Case"])
            }
        }
    }

    @Test func anAllowedNetworkLetsALoopbackLiteralThrough() async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        let configuration = HTTPWebhookTransport.Configuration(
            addressPolicy: AddressPolicy(allowedNetworks: [CIDR("127.0.0.0/8")!])
        )
        try await withTransport(configuration) { transport in
            try await simulator.withRunningServer { port in
                let result = await transport.send(signedRequest("http://127.0.0.1:\(port)/webhooks/x", secret: secret))
                #expect(result == .response(statusCode: 204, retryAfter: nil, location: nil))
                #expect(simulator.receiver.received.count == 1)
                // Still refused: ::1 is not in the allowed range.
                let v6 = await transport.send(signedRequest("http://[::1]:\(port)/webhooks/x", secret: secret))
                guard case .refused = v6 else {
                    Issue.record("expected [::1] to be refused, got \(v6)")
                    return
                }
            }
        }
    }

    @Test func anAllowedNetworkLetsAResolvedNameThroughOnThePinnedAddress() async throws {
        let addresses = try await AddressResolver().addresses(of: "localhost", port: 80)
        // The simulator listens on 127.0.0.1 only; the transport connects to the first answer.
        try #require(addresses.first == IPAddress(strict: "127.0.0.1"), "localhost resolves to \(addresses) here")
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        let configuration = HTTPWebhookTransport.Configuration(
            addressPolicy: AddressPolicy(allowedNetworks: [CIDR("127.0.0.0/8")!, CIDR("::1/128")!])
        )
        try await withTransport(configuration) { transport in
            try await simulator.withRunningServer { port in
                for attempt in 1...2 {
                    let result = await transport.send(
                        signedRequest("http://localhost:\(port)/webhooks/named", secret: secret)
                    )
                    #expect(result == .response(statusCode: 204, retryAfter: nil, location: nil))
                    #expect(simulator.receiver.received.count == attempt)
                }
            }
        }
    }

    @Test func aPolicyUpdateAppliesToTheNextSend() async throws {
        let secret = try makeWebhookSecret()
        let simulator = quickSimulator(webhookSecret: secret)
        try await withTransport(Self.loopback) { transport in
            try await simulator.withRunningServer { port in
                let url = "http://127.0.0.1:\(port)/webhooks/x"
                #expect(
                    await transport.send(signedRequest(url, secret: secret))
                        == .response(statusCode: 204, retryAfter: nil, location: nil)
                )
                transport.update(HTTPWebhookTransport.Configuration())
                let result = await transport.send(signedRequest(url, secret: secret))
                guard case .refused = result else {
                    Issue.record("expected refused after the update, got \(result)")
                    return
                }
                #expect(simulator.receiver.received.count == 1)
            }
        }
    }

    @Test(
        arguments: [
            "",
            "not a url",
            "example.com/webhooks",
            "ftp://example.com/webhooks",
            "javascript:alert(1)",
            "http://user:secret@example.com/webhooks",
            "http://exa mple.com/webhooks",
            "http://example.com:99999/webhooks",
            "http://example.com:+80/webhooks",
            "http:///webhooks",
            "http://[127.0.0.1]/webhooks",
            "http://[::1/webhooks",
        ]
    )
    func aMalformedURLIsRefused(url: String) async throws {
        for configuration in [HTTPWebhookTransport.Configuration(), Self.loopback] {
            try await withTransport(configuration) { transport in
                let result = await transport.send(signedRequest(url, secret: try makeWebhookSecret()))
                guard case .refused(let reason) = result else {
                    Issue.record("expected '\(url)' to be refused, got \(result)")
                    return
                }
                #expect(reason.hasPrefix("the callback URL"))
            }
        }
    }
}

/// A thread-safe count for routes.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
