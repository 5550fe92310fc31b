import AsyncHTTPClient
import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolSimulator

/// A resolver with fixed answers, to give a host several addresses on loopback.
struct FixedResolver: HostResolver {
    let answers: [String: [IPAddress]]

    func addresses(of host: String, port: Int) async throws -> [IPAddress] {
        answers[host] ?? []
    }
}

@Suite(.timeLimit(.minutes(1)))
struct WebhookAddressFallbackTests {
    static func request(_ url: String) -> WebhookRequest {
        WebhookRequest(url: url, headers: [("content-type", "application/json")], body: Array("{}".utf8), jobID: testJobID, attempt: 1)
    }

    @Test func anUnreachableFirstAddressFallsBackToTheNextVettedOne() async throws {
        let simulator = quickSimulator()
        try await simulator.withRunningServer { port in
            // Nothing listens on 127.0.0.2: connecting there is refused, 127.0.0.1 answers.
            let resolver = FixedResolver(answers: ["receiver.test": [.v4(0x7F00_0002), .v4(0x7F00_0001)]])
            let transport = HTTPWebhookTransport(
                configuration: .init(addressPolicy: AddressPolicy(allowedNetworks: [CIDR("127.0.0.0/8")!])),
                eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                resolver: resolver,
                logger: quietLogger
            )
            let result = await transport.send(Self.request("http://receiver.test:\(port)/webhooks/fallback"))
            try await transport.shutdown()
            guard case .response(let status, _, _) = result else {
                Issue.record("expected a response, got \(result)")
                return
            }
            #expect(status == 204)
            #expect(simulator.receiver.received.count == 1)
        }
    }

    @Test func aNameThatAlsoResolvesToAPrivateAddressIsRefused() async throws {
        let resolver = FixedResolver(answers: ["mixed.test": [.v4(0x0808_0808), .v4(0x0A00_0001)]])
        let transport = HTTPWebhookTransport(
            configuration: .init(),
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            resolver: resolver,
            logger: quietLogger
        )
        let result = await transport.send(Self.request("https://mixed.test/hook"))
        try await transport.shutdown()
        guard case .refused(let reason) = result else {
            Issue.record("expected a refusal, got \(result)")
            return
        }
        #expect(reason.contains("10.0.0.1"))
    }

    @Test func everyAddressFailingIsOneTransportFailure() async throws {
        let resolver = FixedResolver(answers: ["down.test": [.v4(0x7F00_0002), .v4(0x7F00_0003)]])
        let transport = HTTPWebhookTransport(
            configuration: .init(addressPolicy: AddressPolicy(allowedNetworks: [CIDR("127.0.0.0/8")!])),
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            resolver: resolver,
            logger: quietLogger
        )
        let result = await transport.send(Self.request("http://down.test:9/hook"))
        try await transport.shutdown()
        guard case .transportFailure(let reason, _) = result else {
            Issue.record("expected a transport failure, got \(result)")
            return
        }
        #expect(reason.contains("tried 2 address(es)"))
    }
}
