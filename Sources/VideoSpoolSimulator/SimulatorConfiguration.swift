public import VideoSpoolCore

/// How the simulated API behaves.
public struct SimulatorConfiguration: Sendable {
    /// The bearer key the API accepts.
    public var apiKey: String
    /// Keys that authenticate but are out of credits (403).
    public var exhaustedKeys: Set<String>
    /// Time a generation spends `queued` before `generating`.
    public var queuedTime: Duration
    public var generationTime: GenerationTimeModel
    /// Generation times of particular models, in place of ``generationTime`` (a fast tier is faster).
    public var generationTimes: [String: GenerationTimeModel]
    /// The models the simulated API accepts; requests for others get a 400, as upstream.
    public var models: ModelCatalog
    /// Accepts any model, with the generic checks only (the real API serves far more models than
    /// the daemon has built in).
    public var acceptsUnlistedModels: Bool
    /// Fraction of generations that end with `status: error`.
    public var errorRate: Double
    /// Base of the video URLs handed out (`<base>/<generation_id>.mp4`, nothing served), or `nil`
    /// for links to the simulator's own `/_videos/<generation_id>.mp4?expires=…&token=…`, which serve
    /// a small valid MP4 until `videoTTL` after the generation completed.
    public var videoBaseURL: String?
    /// How long a served video link works after its generation completed (then 403, as an
    /// expired signed link).
    public var videoTTL: Duration
    /// Injected faults, consulted in order for every API request.
    public var faults: [FaultRule]
    /// Secret the webhook receiver verifies signatures with (`whsec_…`), if any.
    public var webhookSecret: WebhookSecret?
    /// How long every API request takes before it is answered, as over a real network (requests
    /// then overlap, as a real API's do). The answer is decided when the time is up.
    public var latency: Duration
    /// The price of one second of video, in USD, that `meta.usage` reports (`usd_spent`, and
    /// `credits_used` at the API's 2,000,000 credits per USD); `nil` for the documented example's
    /// prices (24,000 credits a second at 720p and above, 12,000 at 480p).
    public var usdPerSecond: Double?
    /// Whether `meta.usage` carries `usd_spent`; without it only `credits_used` (all the poll
    /// response documents), which the daemon converts.
    public var reportsUSD: Bool

    public init(
        apiKey: String = "sim-test-key",
        exhaustedKeys: Set<String> = [],
        queuedTime: Duration = .milliseconds(200),
        generationTime: GenerationTimeModel = .fixed(.seconds(2)),
        generationTimes: [String: GenerationTimeModel] = [:],
        models: ModelCatalog = .builtIn,
        acceptsUnlistedModels: Bool = false,
        errorRate: Double = 0,
        videoBaseURL: String? = "https://cdn.simulator.invalid/generations",
        videoTTL: Duration = .seconds(86400),
        faults: [FaultRule] = [],
        webhookSecret: WebhookSecret? = nil,
        latency: Duration = .zero,
        usdPerSecond: Double? = nil,
        reportsUSD: Bool = true
    ) {
        self.apiKey = apiKey
        self.exhaustedKeys = exhaustedKeys
        self.queuedTime = queuedTime
        self.generationTime = generationTime
        self.generationTimes = generationTimes
        self.models = models
        self.acceptsUnlistedModels = acceptsUnlistedModels
        self.errorRate = errorRate
        self.videoBaseURL = videoBaseURL
        self.videoTTL = videoTTL
        self.faults = faults
        self.webhookSecret = webhookSecret
        self.latency = latency
        self.usdPerSecond = usdPerSecond
        self.reportsUSD = reportsUSD
    }

    /// How long a generation of `model` takes.
    public func generationTime(for model: String) -> GenerationTimeModel {
        generationTimes[model] ?? generationTime
    }

    /// Applies one `--generation-seconds` value: `5`, `seedance`, or `MODEL=SECONDS` for one model.
    ///
    /// - Throws: ``GenerationTimeError`` naming the value when it is neither.
    public mutating func setGenerationSeconds(_ value: String) throws(GenerationTimeError) {
        var model: String?
        var seconds = Substring(value)
        if let equals = value.lastIndex(of: "=") {
            model = String(value[..<equals])
            seconds = value[value.index(after: equals)...]
            guard model?.isEmpty == false else {
                throw GenerationTimeError(message: "'\(value)' names no model before '='")
            }
        }
        let time: GenerationTimeModel
        if seconds == "seedance" {
            time = .seedance(scale: 1)
        } else if let number = Double(seconds), number.isFinite, number >= 0 {
            time = .fixed(.seconds(double: number))
        } else {
            throw GenerationTimeError(
                message: "must be a number of seconds or 'seedance', optionally after MODEL= (got '\(value)')"
            )
        }
        if let model { generationTimes[model] = time } else { generationTime = time }
    }
}

/// A `--generation-seconds` value that is not one.
public struct GenerationTimeError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public var description: String { "--generation-seconds \(message)" }
}

/// How long generations take.
public enum GenerationTimeModel: Sendable, Hashable {
    case fixed(Duration)
    case uniform(Duration, Duration)
    /// The documented spread for Seedance 5 s clips: 83–253 s with a median near 105 s. Drawn from a
    /// shifted log-normal, 83 s + LogNormal(μ = ln 22, σ = 0.88) capped at 253 s: nothing is faster
    /// than 83 s, the median is 105 s, 1 % reach the cap. (A log-normal clipped at both ends would
    /// pile over a quarter of all generations onto exactly 83 s.) `scale` shrinks it for quick runs.
    case seedance(scale: Double)

    /// Seedance's spread in seconds: 83 s plus a log-normal part with this median and σ, capped.
    public static let seedanceMinimumSeconds = 83.0
    public static let seedanceMedianExcessSeconds = 22.0
    public static let seedanceSigma = 0.88
    public static let seedanceMaximumSeconds = 253.0

    func sample(using random: inout some RandomNumberGenerator) -> Duration {
        switch self {
        case .fixed(let duration):
            return duration
        case .uniform(let low, let high):
            let seconds = Double.random(in: low.secondsDouble...max(low.secondsDouble, high.secondsDouble), using: &random)
            return .seconds(double: seconds)
        case .seedance(let scale):
            return .seconds(double: Self.seedanceSeconds(using: &random) * scale)
        }
    }

    /// One draw from Seedance's spread, in seconds (unscaled).
    public static func seedanceSeconds(using random: inout some RandomNumberGenerator) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &random)
        let u2 = Double.random(in: 0..<1, using: &random)
        let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        let excess = exp(log(seedanceMedianExcessSeconds) + seedanceSigma * normal)
        return min(seedanceMinimumSeconds + excess, seedanceMaximumSeconds)
    }
}

import Foundation
