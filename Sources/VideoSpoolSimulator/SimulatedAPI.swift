import Foundation
import Synchronization
public import VideoSpoolCore
import VideoSpoolSupport

/// The state and rules of the simulated AI/ML API: generations, their timelines, and faults.
/// Transport-free so that tests can reason about it directly; `Simulator` serves it over HTTP.
public final class SimulatedAPI: Sendable {
    /// One generation as the simulator sees it.
    public struct Generation: Sendable {
        public let id: String
        public let body: JSONObject
        public let submittedAt: ContinuousClock.Instant
        public let readyAfter: Duration
        public let ending: Ending
        /// The token in its served video link (as a CDN's signature would be).
        public let videoToken: String

        public enum Ending: Sendable, Hashable {
            case completed
            case error
            case never
        }

        /// Prompt text, which tests use to tag requests.
        public var prompt: String { body["prompt"]?.stringValue ?? "" }
    }

    /// Counters tests assert on.
    public struct Statistics: Sendable, Hashable {
        public var submissions = 0
        public var acceptedSubmissions = 0
        public var polls = 0
        public var rejectedBodies = 0
        public var unauthorized = 0
        public var faultsInjected = 0
        /// Requests refused with 429 by a standing limit (`concurrency-limit`, `rate-limit`).
        public var rateLimited = 0
        /// Most API requests being answered at once.
        public var peakConcurrency = 0
        /// Requests for served videos (`GET /_videos/…`), whatever the answer.
        public var videoRequests = 0
    }

    /// One request for a served video, as it arrived.
    public struct VideoRequest: Sendable, Hashable {
        public var generationID: String
        /// The `Range` header, if any.
        public var range: String?
    }

    /// What happened to one request, for tests that await the API's side of things.
    public enum Event: Sendable, Hashable {
        /// A submission was accepted and created this generation.
        case accepted(generationID: String, prompt: String)
        /// A request was answered with an error status (401, 400, injected faults, ...).
        case answered(endpoint: FaultRule.Endpoint, statusCode: Int)
        /// A poll for this generation was answered.
        case polled(generationID: String)
    }

    private struct State {
        var configuration: SimulatorConfiguration
        var generations: [String: Generation] = [:]
        var order: [String] = []
        var statistics = Statistics()
        /// When a poll first answered `completed`, per generation (the benchmark's "completion seen").
        var completionSeen: [String: ContinuousClock.Instant] = [:]
        var random = SystemRandomNumberGenerator()
        /// API requests admitted and not yet answered.
        var inFlight = 0
        /// The current one-second window of `rate-limit`, and the requests admitted in it.
        var rateWindow: (start: ContinuousClock.Instant, admitted: Int)?
        /// Where served video links point: the simulator's own address once it listens.
        var servedBaseURL = "http://127.0.0.1"
        var videoRequests: [VideoRequest] = []
    }

    private let state: Mutex<State>
    /// Every event so far, for tests that await the API's side of things.
    private let events = ReplayingBroadcast<Event>()
    private let clock = ContinuousClock()

    public init(configuration: SimulatorConfiguration) {
        self.state = Mutex(State(configuration: configuration))
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// How long each request takes before it is answered (``SimulatorConfiguration/latency``).
    public var latency: Duration { state.withLock { $0.configuration.latency } }

    /// Every request for a served video so far, in arrival order.
    public var videoRequests: [VideoRequest] { state.withLock { $0.videoRequests } }

    /// Points served video links at the address the simulator listens on.
    public func setServedAddress(host: String, port: Int) {
        let literal = host.contains(":") ? "[\(host)]" : host
        state.withLock { $0.servedBaseURL = "http://\(literal):\(port)" }
    }

    /// When a poll first told the daemon this generation was `completed`.
    public func completionSeen(_ generationID: String) -> ContinuousClock.Instant? {
        state.withLock { $0.completionSeen[generationID] }
    }

    /// Every accepted generation, in submission order.
    public var generations: [Generation] {
        state.withLock { state in state.order.compactMap { state.generations[$0] } }
    }

    /// Every event so far, then every new one.
    public func subscribe() -> AsyncStream<Event> {
        events.subscribe()
    }

    private func record(_ event: Event) {
        events.append(event)
    }

    /// Records error answers on their way out.
    private func noted(_ reply: Reply, _ endpoint: FaultRule.Endpoint) -> Reply {
        switch reply {
        case .json(let status, _, _) where status >= 300, .raw(let status, _) where status >= 300:
            record(.answered(endpoint: endpoint, statusCode: status))
        default:
            break
        }
        return reply
    }

    public func setFaults(_ faults: [FaultRule]) {
        state.withLock { $0.configuration.faults = faults }
    }

    public func updateConfiguration(_ update: @Sendable (inout SimulatorConfiguration) -> Void) {
        state.withLock { update(&$0.configuration) }
    }

    /// What the HTTP layer should send back.
    public indirect enum Reply: Sendable {
        case json(status: Int, body: JSONValue, retryAfterSeconds: Int?)
        case raw(status: Int, body: [UInt8])
        case drop
        case delayed(Duration, then: Reply)
    }

    // MARK: - Standing limits

    /// Admits one API request under the standing limits, or answers 429. Call ``leave()`` once an
    /// admitted request has been answered.
    public func enter(_ endpoint: FaultRule.Endpoint) -> Reply? {
        let now = clock.now
        let refusal = state.withLock { state -> Int?? in
            for index in state.configuration.faults.indices {
                let rule = state.configuration.faults[index]
                guard rule.endpoint == endpoint || rule.endpoint == .any else { continue }
                let retryAfter: Int?
                switch rule.fault {
                case .concurrencyLimit(let limit, let seconds):
                    guard state.inFlight >= limit else { continue }
                    retryAfter = seconds
                case .rateLimit(let perSecond, let seconds):
                    if let window = state.rateWindow, now - window.start < .seconds(1) {
                        guard window.admitted >= perSecond else { continue }
                    } else {
                        continue
                    }
                    retryAfter = seconds
                default:
                    continue
                }
                state.statistics.rateLimited += 1
                if let remaining = rule.remaining {
                    if remaining <= 1 {
                        state.configuration.faults.remove(at: index)
                    } else {
                        state.configuration.faults[index].remaining = remaining - 1
                    }
                }
                return .some(retryAfter)
            }
            state.inFlight += 1
            state.statistics.peakConcurrency = max(state.statistics.peakConcurrency, state.inFlight)
            if let window = state.rateWindow, now - window.start < .seconds(1) {
                state.rateWindow = (window.start, window.admitted + 1)
            } else {
                state.rateWindow = (now, 1)
            }
            return nil
        }
        guard let retryAfter = refusal else { return nil }
        return noted(errorReply(429, Self.message(for: 429), retryAfter: retryAfter), endpoint)
    }

    /// An admitted request has been answered.
    public func leave() {
        state.withLock { $0.inFlight -= 1 }
    }

    // MARK: - Endpoints

    public func submit(authorization: String?, body: [UInt8]) -> Reply {
        noted(answerSubmit(authorization: authorization, body: body), .submit)
    }

    public func poll(authorization: String?, generationID: String?) -> Reply {
        let reply = answerPoll(authorization: authorization, generationID: generationID)
        if case .json(200, _, _) = reply, let generationID { record(.polled(generationID: generationID)) }
        return noted(reply, .poll)
    }

    private func answerSubmit(authorization: String?, body: [UInt8]) -> Reply {
        let configuration = state.withLock { state in
            state.statistics.submissions += 1
            return state.configuration
        }
        if let denial = authenticate(authorization, configuration: configuration) { return denial }
        let now = clock.now
        let fault = state.withLock { Self.takeFault(for: .submit, from: &$0, now: now) }
        if case .echoKey(let status)? = fault?.fault {
            return errorReply(status, "Invalid request for credentials '\(authorization ?? "")'")
        }
        if let fault, let reply = reply(for: fault, endpoint: .submit) {
            if case .acceptThenFail = fault.fault {
                _ = accept(body, configuration: configuration)
            }
            return reply
        }
        if case .delay(let delay)? = fault?.fault {
            return .delayed(delay, then: accept(body, configuration: configuration))
        }
        return accept(body, configuration: configuration)
    }

    private func answerPoll(authorization: String?, generationID: String?) -> Reply {
        let configuration = state.withLock { state in
            state.statistics.polls += 1
            return state.configuration
        }
        if let denial = authenticate(authorization, configuration: configuration) { return denial }
        let now = clock.now
        let fault = state.withLock { Self.takeFault(for: .poll, from: &$0, now: now) }
        guard let generationID, !generationID.isEmpty else {
            return errorReply(400, "Body validation error! generation_id is required")
        }
        guard let generation = state.withLock({ $0.generations[generationID] }) else {
            return errorReply(404, "Generation not found")
        }
        if let fault {
            if case .reportStatus(let status) = fault.fault {
                return .json(status: 200, body: statusBody(generation, status: status), retryAfterSeconds: nil)
            }
            if case .reportVideoURL(let url) = fault.fault {
                return .json(
                    status: 200,
                    body: statusBody(generation, status: "completed", videoURL: url),
                    retryAfterSeconds: nil
                )
            }
            if case .delay(let delay) = fault.fault {
                return .delayed(delay, then: .json(status: 200, body: statusBody(generation), retryAfterSeconds: nil))
            }
            if let reply = reply(for: fault, endpoint: .poll) { return reply }
        }
        return .json(status: 200, body: statusBody(generation), retryAfterSeconds: nil)
    }

    // MARK: - Served videos

    private func videoURL(_ generation: Generation, configuration: SimulatorConfiguration) -> String {
        if let base = configuration.videoBaseURL { return "\(base)/\(generation.id).mp4" }
        let base = state.withLock { $0.servedBaseURL }
        let remaining = videoExpiry(generation, configuration: configuration) - clock.now
        let expires = Int64(Date().timeIntervalSince1970) + Int64(remaining.secondsDouble.rounded(.down))
        return "\(base)/_videos/\(generation.id).mp4?expires=\(expires)&token=\(generation.videoToken)"
    }

    private func videoExpiry(_ generation: Generation, configuration: SimulatorConfiguration) -> ContinuousClock.Instant {
        generation.submittedAt + generation.readyAfter + configuration.videoTTL
    }

    /// Answers `GET /_videos/<file>` with `token` from the query and the `Range` header: the
    /// generation's MP4 (or the range asked for) while its link is valid, 404 for an unknown or
    /// unfinished generation, 403 for a wrong token or an expired link; `video:` faults first.
    public func video(file: String, token: String?, range: String?) -> VideoReply {
        let id = file.hasSuffix(".mp4") ? String(file.dropLast(4)) : file
        let (configuration, generation, fault) = state.withLock { state in
            state.statistics.videoRequests += 1
            state.videoRequests.append(VideoRequest(generationID: id, range: range))
            return (state.configuration, state.generations[id], Self.takeFault(for: .video, from: &state, now: .now))
        }
        switch fault?.fault {
        case .status(let status, let retryAfter)?:
            return .error(status: status, code: "SimulatedFault", message: Self.message(for: status), retryAfterSeconds: retryAfter)
        case .redirect(let location)?:
            return .redirect(location: location)
        case .delay(let delay)?:
            return .delayed(delay, then: serveVideo(generation, token: token, range: range, fault: nil, configuration: configuration))
        default:
            return serveVideo(generation, token: token, range: range, fault: fault?.fault, configuration: configuration)
        }
    }

    private func serveVideo(
        _ generation: Generation?,
        token: String?,
        range: String?,
        fault: FaultRule.Fault?,
        configuration: SimulatorConfiguration
    ) -> VideoReply {
        let now = clock.now
        guard let generation, generation.ending == .completed, now - generation.submittedAt >= generation.readyAfter
        else {
            return .error(status: 404, code: "NoSuchKey", message: "The specified key does not exist.")
        }
        guard token == generation.videoToken else {
            return .error(status: 403, code: "AccessDenied", message: "Invalid token")
        }
        guard now < videoExpiry(generation, configuration: configuration) else {
            return .error(status: 403, code: "AccessDenied", message: "Request has expired")
        }
        let size = configuration.faults.lazy.compactMap { rule -> Int64? in
            if rule.endpoint == .video, case .videoSize(let bytes) = rule.fault { return bytes }
            return nil
        }.first
        let video = SimulatedVideo(generationID: generation.id, size: size ?? 0)
        var behaviour = VideoBody.Behaviour.normal
        var honoursRange = true
        switch fault {
        case .slowDrip(let rate)?: behaviour = .slowDrip(bytesPerSecond: rate)
        case .truncate(let bytes)?: behaviour = .truncate(afterBytes: bytes)
        case .wrongLength?: behaviour = .wrongLength
        case .endless?: behaviour = .endless
        case .chunked?: behaviour = .chunked
        case .ignoreRange?: honoursRange = false
        default: break
        }
        if honoursRange, behaviour != .endless, let range, let answer = Self.byteRange(range, count: video.count) {
            guard let satisfiable = answer else { return .rangeNotSatisfiable(total: video.count) }
            return .body(VideoBody(video: video, status: 206, range: satisfiable, behaviour: behaviour))
        }
        return .body(VideoBody(video: video, status: 200, range: 0..<video.count, behaviour: behaviour))
    }

    /// A single `bytes=` range of a `count`-byte file: `nil` when the header is not one the
    /// simulator serves as a range (answer 200), `.some(nil)` when it cannot be satisfied (416).
    static func byteRange(_ header: String, count: Int64) -> Range<Int64>?? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let bounds = header.dropFirst("bytes=".count).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2 else { return nil }
        if bounds[0].isEmpty {
            guard let suffix = Int64(bounds[1]), suffix > 0 else { return nil }
            return .some(max(count - suffix, 0)..<count)
        }
        guard let first = Int64(bounds[0]), first >= 0 else { return nil }
        var last = count - 1
        if !bounds[1].isEmpty {
            guard let value = Int64(bounds[1]), value >= first else { return nil }
            last = min(value, count - 1)
        }
        guard first < count else { return .some(nil) }
        return .some(first..<(last + 1))
    }

    static func randomToken(using random: inout some RandomNumberGenerator) -> String {
        (0..<16).map { _ in
            let byte = UInt8.random(in: 0...255, using: &random)
            return String(byte >> 4, radix: 16) + String(byte & 0xF, radix: 16)
        }.joined()
    }

    // MARK: - Rules

    private func authenticate(_ authorization: String?, configuration: SimulatorConfiguration) -> Reply? {
        guard let authorization, authorization.hasPrefix("Bearer ") else {
            state.withLock { $0.statistics.unauthorized += 1 }
            return errorReply(401, "This request requires a valid API key. Authorization header is missing.")
        }
        let key = String(authorization.dropFirst("Bearer ".count))
        if configuration.exhaustedKeys.contains(key) {
            return errorReply(403, "You've run out of credits. Please top up your balance to continue.")
        }
        guard key == configuration.apiKey else {
            state.withLock { $0.statistics.unauthorized += 1 }
            return errorReply(401, "This request requires a valid API key.")
        }
        return nil
    }

    private func accept(_ bytes: [UInt8], configuration: SimulatorConfiguration) -> Reply {
        let body: JSONObject
        let model: String
        let validator = RequestValidator(
            options: .init(models: configuration.models, allowUnlistedModels: configuration.acceptsUnlistedModels)
        )
        switch validator.validate(bytes) {
        case .invalid(let rejected):
            state.withLock { $0.statistics.rejectedBodies += 1 }
            return errorReply(400, "Body validation error! " + rejected.issues.map(\.description).joined(separator: "; "))
        case .valid(let request):
            // The daemon must send the API's own body: no daemon keys, duration as an integer.
            guard case .object(let raw) = (try? JSONParser().parse(bytes)) ?? .null else {
                return errorReply(400, "Body validation error!")
            }
            if let leaked = RequestValidator.daemonKeys.first(where: { raw[$0] != nil }) {
                state.withLock { $0.statistics.rejectedBodies += 1 }
                return errorReply(400, "Body validation error! Unrecognized key: '\(leaked)'")
            }
            // A listed model's duration is an integer, and the daemon must send it as one. Of a model
            // without a definition nothing is known, so its body is taken as sent.
            if request.isListed, let duration = raw["duration"], duration.numberValue == nil {
                state.withLock { $0.statistics.rejectedBodies += 1 }
                return errorReply(400, "Body validation error! Expected number, received string at 'duration'")
            }
            body = request.upstreamBody
            model = request.model
        }
        let generation = state.withLock { state -> Generation in
            let prompt = body["prompt"]?.stringValue ?? ""
            var readyAfter = configuration.generationTime(for: model).sample(using: &state.random)
            if let seconds = Self.tag("seconds", in: prompt).flatMap(Double.init) { readyAfter = .seconds(double: seconds) }
            var ending: Generation.Ending = .completed
            if prompt.contains("[sim:error]") || Double.random(in: 0..<1, using: &state.random) < configuration.errorRate {
                ending = .error
            }
            if prompt.contains("[sim:never]") { ending = .never }
            let generation = Generation(
                id: UUID().uuidString.lowercased(),
                body: body,
                submittedAt: clock.now,
                readyAfter: configuration.queuedTime + readyAfter,
                ending: ending,
                videoToken: Self.randomToken(using: &state.random)
            )
            state.generations[generation.id] = generation
            state.order.append(generation.id)
            state.statistics.acceptedSubmissions += 1
            return generation
        }
        record(.accepted(generationID: generation.id, prompt: generation.prompt))
        return .json(
            status: 200,
            body: .object(JSONObject(["id": .string(generation.id), "status": .string("queued")])),
            retryAfterSeconds: nil
        )
    }

    /// `[sim:name=value]` in a prompt.
    static func tag(_ name: String, in prompt: String) -> String? {
        guard let start = prompt.range(of: "[sim:\(name)=") else { return nil }
        let rest = prompt[start.upperBound...]
        guard let end = rest.firstIndex(of: "]") else { return nil }
        return String(rest[..<end])
    }

    private func statusBody(
        _ generation: Generation,
        status override: String? = nil,
        videoURL: String? = nil
    ) -> JSONValue {
        let elapsed = clock.now - generation.submittedAt
        let configuration = state.withLock { $0.configuration }
        let status: String
        if let override {
            status = override
        } else if elapsed < configuration.queuedTime {
            status = "queued"
        } else if elapsed < generation.readyAfter || generation.ending == .never {
            status = "generating"
        } else {
            status = generation.ending == .error ? "error" : "completed"
        }
        if override == nil, status == "completed" {
            let now = clock.now
            state.withLock { state in
                if state.completionSeen[generation.id] == nil { state.completionSeen[generation.id] = now }
            }
        }
        var object = JSONObject(["id": .string(generation.id), "status": .string(status)])
        switch status {
        case "completed":
            let url = videoURL ?? self.videoURL(generation, configuration: configuration)
            object["video"] = .object(JSONObject(["url": .string(url)]))
            object["error"] = .null
            object["meta"] = .object(JSONObject(["usage": usage(for: generation.body, configuration: configuration)]))
        case "error":
            object["video"] = .null
            object["error"] = .object(
                JSONObject([
                    "name": .string("GenerationError"),
                    "message": .string("The model could not generate this video."),
                ])
            )
            object["meta"] = .null
        default:
            break
        }
        return .object(object)
    }

    /// ``SimulatorConfiguration/usdPerSecond`` per second of video, or 24,000 credits a second at
    /// 720p (the docs' example: 5 s → 120,000 credits, $0.06) and half that at 480p.
    private func usage(for body: JSONObject, configuration: SimulatorConfiguration) -> JSONValue {
        let seconds = body["duration"]?.numberValue?.int64Value ?? 5
        let credits: Int64
        if let usdPerSecond = configuration.usdPerSecond {
            credits = Int64((Double(seconds) * usdPerSecond * 2_000_000).rounded())
        } else {
            credits = seconds * (body["resolution"]?.stringValue == "480p" ? 12_000 : 24_000)
        }
        var usage = JSONObject(["credits_used": .int(credits)])
        if configuration.reportsUSD {
            let usd = configuration.usdPerSecond.map { Double(seconds) * $0 } ?? Double(credits) / 2_000_000
            usage["usd_spent"] = .number(JSONNumber(usd))
        }
        return .object(usage)
    }

    private func reply(for rule: FaultRule, endpoint: FaultRule.Endpoint) -> Reply? {
        switch rule.fault {
        case .status(let status, let retryAfter):
            return errorReply(status, Self.message(for: status), retryAfter: retryAfter)
        case .acceptThenFail(let status):
            return errorReply(status, Self.message(for: status))
        case .dropConnection:
            return .drop
        case .malformedJSON:
            return .raw(status: 200, body: Array("{\"id\": \"oops\", \"status\": ".utf8))
        case .delay, .reportStatus, .reportVideoURL, .echoKey, .concurrencyLimit, .rateLimit, .videoSize, .slowDrip,
            .truncate, .wrongLength, .redirect, .endless, .ignoreRange, .chunked:
            return nil
        }
    }

    private static func message(for status: Int) -> String {
        switch status {
        case 429: "Too Many Requests"
        case 500: "Internal server error"
        case 502: "Bad Gateway"
        case 503: "Service unavailable"
        case 504: "Generation timeout"
        default: "Simulated error"
        }
    }

    private func errorReply(_ status: Int, _ message: String, retryAfter: Int? = nil) -> Reply {
        .json(
            status: status,
            body: .object(
                JSONObject([
                    "message": .string(message),
                    "path": .string("/v2/video/generations"),
                    "requestId": .string(UUID().uuidString.lowercased()),
                    "statusCode": .string(String(status)),
                    "timestamp": .string(Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)).iso8601),
                ])
            ),
            retryAfterSeconds: retryAfter
        )
    }

    private static func takeFault(
        for endpoint: FaultRule.Endpoint,
        from state: inout State,
        now: ContinuousClock.Instant
    ) -> FaultRule? {
        guard
            let index = state.configuration.faults.firstIndex(where: {
                ($0.endpoint == endpoint || ($0.endpoint == .any && endpoint != .video)) && !$0.fault.isStandingLimit
            })
        else { return nil }
        let rule = state.configuration.faults[index]
        if let window = rule.window {
            let start = rule.windowStart ?? now
            if now - start > window {
                state.configuration.faults.remove(at: index)
                return takeFault(for: endpoint, from: &state, now: now)
            }
            state.configuration.faults[index].windowStart = start
        } else if let remaining = rule.remaining {
            if remaining <= 1 {
                state.configuration.faults.remove(at: index)
            } else {
                state.configuration.faults[index].remaining = remaining - 1
            }
        }
        state.statistics.faultsInjected += 1
        return rule
    }
}
