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
    /// Fraction of generations that end with `status: error`.
    public var errorRate: Double
    /// Base of the video URLs handed out.
    public var videoBaseURL: String
    /// Injected faults, consulted in order for every API request.
    public var faults: [FaultRule]
    /// Secret the webhook receiver verifies signatures with (`whsec_…`), if any.
    public var webhookSecret: WebhookSecret?

    public init(
        apiKey: String = "sim-test-key",
        exhaustedKeys: Set<String> = [],
        queuedTime: Duration = .milliseconds(200),
        generationTime: GenerationTimeModel = .fixed(.seconds(2)),
        errorRate: Double = 0,
        videoBaseURL: String = "https://cdn.simulator.invalid/generations",
        faults: [FaultRule] = [],
        webhookSecret: WebhookSecret? = nil
    ) {
        self.apiKey = apiKey
        self.exhaustedKeys = exhaustedKeys
        self.queuedTime = queuedTime
        self.generationTime = generationTime
        self.errorRate = errorRate
        self.videoBaseURL = videoBaseURL
        self.faults = faults
        self.webhookSecret = webhookSecret
    }
}

/// How long generations take.
public enum GenerationTimeModel: Sendable, Hashable {
    case fixed(Duration)
    case uniform(Duration, Duration)
    /// The documented spread for Seedance 5 s clips: 83–253 s with a median near 105 s, drawn from
    /// a log-normal fit and clipped to that range; `scale` shrinks it for quick runs.
    case seedance(scale: Double)

    func sample(using random: inout some RandomNumberGenerator) -> Duration {
        switch self {
        case .fixed(let duration):
            return duration
        case .uniform(let low, let high):
            let seconds = Double.random(in: low.secondsDouble...max(low.secondsDouble, high.secondsDouble), using: &random)
            return .seconds(double: seconds)
        case .seedance(let scale):
            // ln(105) ≈ 4.654; σ = 0.4 puts the 97.5th percentile near 230 s.
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &random)
            let u2 = Double.random(in: 0..<1, using: &random)
            let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            let seconds = min(max(exp(4.654 + 0.4 * normal), 83), 253)
            return .seconds(double: seconds * scale)
        }
    }
}

import Foundation
