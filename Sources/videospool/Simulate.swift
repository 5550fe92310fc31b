import ArgumentParser
import Foundation
import Logging
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolSimulator

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a simulated AI/ML API (and a verifying webhook receiver) for testing.",
        discussion: """
            POST/GET /v2/video/generations behave like the real endpoints (bearer key, body validation, \
            queued → generating → completed/error, usage figures). A completed generation's video.url \
            points at GET /_videos/<id>.mp4 here, which serves a small valid MP4 (Range requests \
            supported) until the link expires. Webhooks POSTed to /webhooks/... are verified and \
            counted; GET /_simulator/statistics reports counts.
            """
    )

    @Option(help: ArgumentHelp("Address to listen on.", valueName: "host:port"))
    var listen = "127.0.0.1:8089"

    @Option(help: "The API key the simulator accepts.")
    var apiKey = "sim-test-key"

    @Option(
        name: .customLong("generation-seconds"),
        help: ArgumentHelp(
            "Seconds each generation takes (repeatable): SECONDS, or MODEL=SECONDS for one model.",
            discussion: """
                SECONDS is a number or 'seedance', which draws from the documented 83-253 s spread. Without a \
                MODEL= prefix it applies to every model without its own value; the default is 5. Example: \
                --generation-seconds seedance --generation-seconds bytedance/seedance-2-0-fast=60
                """,
            valueName: "[model=]seconds"
        )
    )
    var generationSeconds: [String] = []

    @Option(
        help: ArgumentHelp(
            "Also accept the models defined in this directory's *.json files (as models.directory).",
            valueName: "path"
        )
    )
    var modelsDirectory: String?

    @Flag(help: "Accept any model, with only the generic checks (as models.allow_unlisted).")
    var allowUnlisted = false

    @Option(help: "Fraction of generations that end with status error (0-1).")
    var errorRate = 0.0

    @Option(help: "Webhook secret (whsec_...) the receiver verifies signatures with.")
    var webhookSecret: String?

    @Option(help: "Seconds a video link works after its generation completed; then it answers 403.")
    var videoTtl = 86400.0

    @Option(
        help: ArgumentHelp(
            "Price of one second of video in USD, as meta.usage reports it (default: 24,000 credits a second, $0.012).",
            valueName: "usd"
        )
    )
    var usdPerSecond: Double?

    @Flag(help: "Report only credits_used in meta.usage (no usd_spent), as the poll response documents.")
    var creditsOnly = false

    @Option(
        name: .customLong("fault"),
        help: ArgumentHelp(
            "Inject a fault (repeatable): ENDPOINT:FAULT[*COUNT].",
            discussion: """
                ENDPOINT is submit, poll, any or video. FAULT is status=CODE[,retry-after=SECONDS], \
                delay=SECONDS, drop, malformed, report=STATUS, video-url=URL (a completed poll answer with that \
                video.url) or accept-then-fail=CODE. Without *COUNT it applies to every matching request; \
                status=CODE,for=SECONDS applies to every matching request for that long from the first one \
                (a key refused for a while: any:status=401,for=5). The standing limits concurrency-limit=N and \
                rate-limit=PER_SECOND (each optionally ,retry-after=SECONDS) answer 429 to requests beyond N \
                at once or PER_SECOND in one second, as a real API key's limits would. Video links (video:) \
                take status=CODE, delay=SECONDS, size=BYTES (standing: videos of that size), \
                slow-drip=BYTES_PER_SECOND, truncate=BYTES, wrong-length, redirect=URL, endless, \
                ignore-range and chunked. Examples: submit:status=429,retry-after=5*3  poll:report=error  \
                any:delay=40  any:concurrency-limit=5  video:truncate=1000*1  video:redirect=http://10.0.0.1/v.mp4
                """,
            valueName: "fault"
        )
    )
    var faults: [String] = []

    func run() async throws {
        let parts = listen.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else {
            throw ValidationError("--listen must be host:port")
        }
        var times = SimulatorConfiguration(generationTime: .fixed(.seconds(5)))
        for value in generationSeconds {
            do { try times.setGenerationSeconds(value) } catch { throw ValidationError(error.description) }
        }
        var models = ModelCatalog.builtIn
        if let modelsDirectory {
            do { models = try ModelDirectory.load(modelsDirectory, required: true) } catch { throw ValidationError("\(error)") }
        }
        if let usdPerSecond, !(usdPerSecond >= 0 && usdPerSecond.isFinite) {
            throw ValidationError("--usd-per-second must be a number of dollars, 0 or more")
        }
        guard videoTtl >= 0, videoTtl.isFinite else {
            throw ValidationError("--video-ttl must be a number of seconds, 0 or more")
        }
        var secret: WebhookSecret?
        if let webhookSecret {
            do { secret = try WebhookSecret(parsing: webhookSecret) } catch { throw ValidationError("--webhook-secret \(error)") }
        }
        var rules: [FaultRule] = []
        for fault in faults {
            do { rules.append(try FaultRule(parsing: fault)) } catch { throw ValidationError(error.description) }
        }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let simulator = Simulator(
            configuration: SimulatorConfiguration(
                apiKey: apiKey,
                generationTime: times.generationTime,
                generationTimes: times.generationTimes,
                models: models,
                acceptsUnlistedModels: allowUnlisted,
                errorRate: errorRate,
                videoBaseURL: nil,
                videoTTL: .seconds(double: videoTtl),
                faults: rules,
                webhookSecret: secret,
                usdPerSecond: usdPerSecond,
                reportsUSD: !creditsOnly
            )
        )
        try await simulator.serve(host: String(parts[0]), port: port) { bound in
            // Unbuffered: scripts wait for this line to learn the port.
            FileHandle.standardOutput.write(Data("simulator listening on http://\(parts[0]):\(bound)\n".utf8))
        }
    }
}
