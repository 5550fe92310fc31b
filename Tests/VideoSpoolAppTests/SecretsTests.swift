import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolTesting

/// The API key and the webhook secret appear nowhere the daemon writes: not in a log line (at debug
/// level), an outcome or rejection file, a webhook body, or the store, even when the API echoes the
/// key back in an error message.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct SecretsTests {
    static let key = "sk-aimlapi-0123456789abcdef-secret"
    static let secretPart = String(testSecretText.dropFirst("whsec_".count))

    @Test func secretsReachNoLogOutcomeWebhookOrStore() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100), key: Self.key)
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port, key: Self.key)
                let hook = "http://127.0.0.1:\(port)/webhooks/secrets"
                let daemon = try EndToEndTests.start(config: config, root: root, run: 0)
                try EndToEndTests.drop(EndToEndTests.request(tag: "secret-ok", hook: hook), as: "ok.json", root: root)
                _ = try await simulator.receiver.subscribe().collect(1)
                // The API now answers the next submission with an error quoting the Authorization header.
                simulator.api.setFaults([FaultRule(endpoint: .submit, fault: .echoKey(400), remaining: 1)])
                try EndToEndTests.drop(EndToEndTests.request(tag: "secret-echo", hook: hook), as: "echo.json", root: root)
                try EndToEndTests.drop(#"{"model": 1, "callback_url": "\#(hook)?token=callback-token-1234"}"#, as: "bad.json", root: root)
                let received = try await simulator.receiver.subscribe().collect(3)
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)

                let echoed = try #require(received.first { $0.json?["data"]?["job_id"] == .string("secret-echo") })
                let message = try #require(echoed.json?["data"]?["error"]?["message"]?.stringValue)
                #expect(message.contains("[redacted]"), "the API's message is passed on, with the key removed: \(message)")

                var places: [(String, [UInt8])] = [("daemon log", Array(daemon.log.utf8))]
                for item in received { places.append(("webhook body \(item.path)", item.body)) }
                // Stored videos too (state/videos): everything the daemon wrote.
                for directory in ["spool/done", "spool/failed", "spool/rejected", "state", "state/videos"] {
                    let path = root + "/" + directory
                    for name in try FileManager.default.contentsOfDirectory(atPath: path) where name != "videos" {
                        places.append(("\(directory)/\(name)", Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))))
                    }
                }
                #expect(places.count > 8)
                for (place, bytes) in places {
                    for needle in [Self.key, Self.secretPart] {
                        #expect(!Self.contains(bytes, needle), "\(place) contains a secret")
                    }
                    // A token in a callback URL's query is the caller's: it stays out of logs, outcome
                    // files and webhooks (the store must keep it to deliver, and the caller's own
                    // rejected file keeps it, of course).
                    if place != "spool/rejected/bad.json", !place.hasPrefix("state/") {
                        #expect(!Self.contains(bytes, "callback-token-1234"), "\(place) contains the callback URL's token")
                    }
                }
            }
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let needle = Array(needle.utf8)
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start] == needle[0] && haystack[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}
