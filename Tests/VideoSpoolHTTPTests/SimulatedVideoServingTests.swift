import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import VideoSpoolCore
import VideoSpoolSimulator

/// `GET /_videos/<id>.mp4` on the simulator, read with a plain HTTP client.
@Suite(.timeLimit(.minutes(1)))
struct SimulatedVideoServingTests {
    struct Answer {
        let status: Int
        let headers: [String: String]
        let body: [UInt8]
    }

    static func get(_ url: String, range: String? = nil, on client: HTTPClient) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        if let range { request.headers.add(name: "Range", value: range) }
        let response = try await client.execute(request, timeout: .seconds(20))
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return Answer(status: Int(response.status.code), headers: headers, body: Array(buffer: body))
    }

    @Test func aCompletedGenerationsLinkPointsAtTheSimulatorAndServesItsVideo() async throws {
        let simulator = try videoSimulator(videoTTL: .seconds(3600))
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let (id, url) = try completedGeneration(simulator)
                #expect(url.hasPrefix("http://127.0.0.1:\(port)/_videos/\(id).mp4?expires="), "\(url)")
                #expect(url.contains("&token="))
                // The expiry in the link is about an hour from now.
                let expires = try #require(url.split(separator: "expires=").last?.split(separator: "&").first.flatMap { Double($0) })
                #expect(abs(expires - (Date().timeIntervalSince1970 + 3600)) < 60)

                let answer = try await Self.get(url, on: client)
                #expect(answer.status == 200)
                #expect(answer.headers["content-type"] == "video/mp4")
                #expect(answer.headers["accept-ranges"] == "bytes")
                #expect(answer.headers["content-length"] == String(SimulatedVideo(generationID: id).count))
                #expect(answer.body == SimulatedVideo(generationID: id).bytes)
            }
        }
    }

    @Test func rangesAreServedWith206AndAContentRange() async throws {
        let simulator = try videoSimulator()
        try await withHTTPClient { client in
            try await simulator.withRunningServer { _ in
                let (id, url) = try completedGeneration(simulator)
                let whole = SimulatedVideo(generationID: id).bytes
                let middle = try await Self.get(url, range: "bytes=100-199", on: client)
                #expect(middle.status == 206)
                #expect(middle.headers["content-range"] == "bytes 100-199/\(whole.count)")
                #expect(middle.body == Array(whole[100..<200]))
                let rest = try await Self.get(url, range: "bytes=1000-", on: client)
                #expect(rest.status == 206)
                #expect(rest.headers["content-range"] == "bytes 1000-\(whole.count - 1)/\(whole.count)")
                #expect(rest.body == Array(whole[1000...]))
                let suffix = try await Self.get(url, range: "bytes=-10", on: client)
                #expect(suffix.body == Array(whole.suffix(10)))
                let beyond = try await Self.get(url, range: "bytes=\(whole.count)-", on: client)
                #expect(beyond.status == 416)
                #expect(beyond.headers["content-range"] == "bytes */\(whole.count)")
                // Several ranges at once are answered with the whole file, which HTTP allows.
                let several = try await Self.get(url, range: "bytes=0-1,5-6", on: client)
                #expect(several.status == 200)
                #expect(several.body == whole)
            }
        }
    }

    @Test func anExpiredLinkIsForbiddenAndAWrongTokenToo() async throws {
        let simulator = try videoSimulator(videoTTL: .zero)
        try await withHTTPClient { client in
            try await simulator.withRunningServer { _ in
                let url = try completedGeneration(simulator).url
                let expired = try await Self.get(url, on: client)
                #expect(expired.status == 403)
                #expect(String(decoding: expired.body, as: UTF8.self).contains("Request has expired"))

                simulator.api.updateConfiguration { $0.videoTTL = .seconds(3600) }
                #expect(try await Self.get(url, on: client).status == 200)
                let forged = url.replacingOccurrences(of: "token=", with: "token=0")
                let wrong = try await Self.get(forged, on: client)
                #expect(wrong.status == 403)
                #expect(String(decoding: wrong.body, as: UTF8.self).contains("Invalid token"))
            }
        }
    }

    @Test func anUnknownOrUnfinishedGenerationHasNoVideo() async throws {
        let simulator = try videoSimulator()
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                #expect(try await Self.get("http://127.0.0.1:\(port)/_videos/nope.mp4", on: client).status == 404)
                let body = Array(#"{"model":"\#(seedanceModel)","prompt":"[sim:never] clip","duration":5}"#.utf8)
                guard case .json(200, let accepted, _) = simulator.api.submit(authorization: "Bearer \(simulatorKey)", body: body),
                    let id = accepted["id"]?.stringValue,
                    let token = simulator.api.generations.first(where: { $0.id == id })?.videoToken
                else {
                    Issue.record("the submission was not accepted")
                    return
                }
                let answer = try await Self.get("http://127.0.0.1:\(port)/_videos/\(id).mp4?token=\(token)", on: client)
                #expect(answer.status == 404)
            }
        }
    }

    @Test func videoFaultsApplyToVideosOnlyAndAnyFaultsNotToVideos() async throws {
        let simulator = try videoSimulator()
        try await withHTTPClient { client in
            try await simulator.withRunningServer { _ in
                let (_, url) = try completedGeneration(simulator)
                simulator.api.setFaults([try FaultRule(parsing: "any:status=503"), try FaultRule(parsing: "video:status=404*1")])
                #expect(try await Self.get(url, on: client).status == 404)
                #expect(try await Self.get(url, on: client).status == 200)
                #expect(simulator.api.statistics.videoRequests == 2)
            }
        }
    }

    @Test func theOldExternalLinksRemainAvailable() throws {
        let simulator = Simulator(
            configuration: SimulatorConfiguration(apiKey: simulatorKey, queuedTime: .zero, generationTime: .fixed(.zero)),
            logger: quietLogger
        )
        let (id, url) = try completedGeneration(simulator)
        #expect(url == "https://cdn.simulator.invalid/generations/\(id).mp4")
    }
}

struct VideoFaultRuleParsingTests {
    @Test(arguments: [
        ("video:size=209715200", FaultRule(endpoint: .video, fault: .videoSize(209_715_200))),
        ("video:slow-drip=0.5", FaultRule(endpoint: .video, fault: .slowDrip(bytesPerSecond: 0.5))),
        ("video:truncate=1000*1", FaultRule(endpoint: .video, fault: .truncate(afterBytes: 1000), remaining: 1)),
        ("video:wrong-length", FaultRule(endpoint: .video, fault: .wrongLength)),
        ("video:endless", FaultRule(endpoint: .video, fault: .endless)),
        ("video:ignore-range*2", FaultRule(endpoint: .video, fault: .ignoreRange, remaining: 2)),
        ("video:chunked", FaultRule(endpoint: .video, fault: .chunked)),
        ("video:status=403", FaultRule(endpoint: .video, fault: .status(403))),
        ("video:delay=2", FaultRule(endpoint: .video, fault: .delay(.seconds(2)))),
        (
            "video:redirect=http://10.0.0.1/a,b.mp4?x=1&y=2*3",
            FaultRule(endpoint: .video, fault: .redirect("http://10.0.0.1/a,b.mp4?x=1&y=2"), remaining: 3)
        ),
    ])
    func videoFaultsParse(text: String, expected: FaultRule) throws {
        #expect(try FaultRule(parsing: text) == expected)
    }

    @Test(arguments: [
        "submit:truncate=10", "any:endless", "poll:size=100", "video:drop", "video:report=error",
        "video:concurrency-limit=5", "video:redirect=", "video:size=0", "video:slow-drip=fast", "video:truncate=-1",
    ])
    func misplacedOrMalformedVideoFaultsAreRejected(text: String) {
        #expect(throws: FaultSyntaxError.self) { try FaultRule(parsing: text) }
    }
}
