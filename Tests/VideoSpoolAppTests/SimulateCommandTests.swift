import Foundation
import Testing
import VideoSpoolCore

/// `videospool simulate` serves videos at its own address, and `--video-ttl` makes their links expire.
/// Read with Python's urllib, an HTTP client that shares no code with the simulator.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct SimulateCommandTests {
    /// Submits, polls until completed, then fetches the video whole and its first 8 bytes.
    static let script = #"""
        import json, sys, time, urllib.request, urllib.error
        base, key = sys.argv[1], "sim-test-key"
        def call(url, body=None, headers={}):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
            try:
                with urllib.request.urlopen(request, timeout=20) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                return error.code, dict(error.headers), error.read()
        auth = {"Authorization": "Bearer " + key}
        body = json.dumps({"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "x", "duration": 5}).encode()
        _, _, accepted = call(base + "/v2/video/generations", body, dict(auth, **{"Content-Type": "application/json"}))
        generation = json.loads(accepted)["id"]
        for _ in range(300):
            _, _, polled = call(base + "/v2/video/generations?generation_id=" + generation, None, auth)
            status = json.loads(polled)
            if status["status"] == "completed":
                break
            time.sleep(0.05)
        url = status["video"]["url"]
        whole_status, whole_headers, whole = call(url)
        part_status, part_headers, part = call(url, None, {"Range": "bytes=0-7"})
        print(json.dumps({
            "url": url, "status": whole_status, "length": len(whole), "box": whole[4:8].decode("latin1"),
            "accept_ranges": whole_headers.get("Accept-Ranges"), "range_status": part_status,
            "content_range": part_headers.get("Content-Range"), "range_length": len(part),
            "usage": status.get("meta", {}).get("usage"),
        }))
        """#

    /// Runs `simulate` with `arguments` on a free port, runs the script against it, stops it.
    static func fetch(_ arguments: [String], in root: String) async throws -> (base: String, result: JSONValue) {
        let simulator = try DaemonProcess(
            arguments: ["simulate", "--listen", "127.0.0.1:0", "--generation-seconds", "0"] + arguments,
            logPath: root + "/simulate-\(UUID().uuidString).log"
        )
        defer { simulator.signal(SIGTERM) }
        var base: String?
        for await line in simulator.lines where line.contains("simulator listening on ") {
            base = line.components(separatedBy: "simulator listening on ").last
            break
        }
        let listening = try #require(base, "the simulator did not start:\n\(simulator.log)")
        let output = try RequestSchemaTests.python(Self.script, arguments: [listening], directory: root)
        let result = try #require(try? JSONParser().parse(Array(output.utf8)), "\(output)")
        simulator.signal(SIGTERM)
        #expect(await simulator.waitForExit() == 0)
        return (listening, result)
    }

    static func int(_ result: JSONValue, _ key: String) -> Int64? {
        result[key]?.numberValue?.int64Value
    }

    @Test func videoLinksPointAtTheSimulatorAndServeAnMP4WithRanges() async throws {
        try await withTemporaryDirectory { root in
            let (base, result) = try await Self.fetch([], in: root)
            #expect(result["url"]?.stringValue?.hasPrefix(base + "/_videos/") == true, "\(result)")
            #expect(Self.int(result, "status") == 200)
            #expect(result["box"] == .string("ftyp"))
            #expect(result["accept_ranges"] == .string("bytes"))
            let length = try #require(Self.int(result, "length"))
            #expect(length > 500)
            #expect(Self.int(result, "range_status") == 206)
            #expect(result["content_range"] == .string("bytes 0-7/\(length)"))
            #expect(Self.int(result, "range_length") == 8)
        }
    }

    @Test func aVideoTTLOfZeroMakesEveryLinkExpired() async throws {
        try await withTemporaryDirectory { root in
            let (_, result) = try await Self.fetch(["--video-ttl", "0"], in: root)
            #expect(Self.int(result, "status") == 403, "\(result)")
            #expect(Self.int(result, "range_status") == 403)
        }
    }

    @Test func usageReportsThePricePerSecondOfVideo() async throws {
        try await withTemporaryDirectory { root in
            let (_, standard) = try await Self.fetch([], in: root)
            #expect(standard["usage"]?["credits_used"]?.numberValue?.int64Value == 120_000, "\(standard)")
            #expect(standard["usage"]?["usd_spent"]?.numberValue?.doubleValue == 0.06)
            let (_, priced) = try await Self.fetch(["--usd-per-second", "0.05"], in: root)
            #expect(priced["usage"]?["usd_spent"]?.numberValue?.doubleValue == 0.25, "\(priced)")
            #expect(priced["usage"]?["credits_used"]?.numberValue?.int64Value == 500_000)
            let (_, credits) = try await Self.fetch(["--credits-only"], in: root)
            #expect(credits["usage"]?["usd_spent"] == nil, "\(credits)")
            #expect(credits["usage"]?["credits_used"]?.numberValue?.int64Value == 120_000)
        }
    }

    @Test func aNegativeVideoTTLIsRefused() async throws {
        try await withTemporaryDirectory { root in
            let refused = try await ClientCommand.run(["simulate", "--listen", "127.0.0.1:0", "--video-ttl=-1"], in: root)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--video-ttl must be a number of seconds"), "\(refused.stderr)")
        }
    }
}
