import VideoSpoolCore

/// A fault the simulator injects into matching API requests.
public struct FaultRule: Sendable, Hashable {
    public enum Endpoint: String, Sendable, Hashable {
        case submit
        case poll
        case any
    }

    public enum Fault: Sendable, Hashable {
        /// Answer with this status (and `Retry-After` seconds when given) and an error envelope.
        case status(Int, retryAfterSeconds: Int? = nil)
        /// Wait this long before answering normally.
        case delay(Duration)
        /// Send part of a response, then close the connection.
        case dropConnection
        /// Answer 200 with a body that is not JSON.
        case malformedJSON
        /// Answer a poll with this status value (e.g. `processing`, `error`).
        case reportStatus(String)
        /// Answer a poll with `status: completed` and this `video.url`, as a broken or hostile API
        /// might (`file:///etc/passwd`, `javascript:alert(1)`).
        case reportVideoURL(String)
        /// Accept the request, then answer 500 anyway (a POST whose outcome is unknown).
        case acceptThenFail(Int)
        /// Answer with this status and an error message that quotes the request's Authorization
        /// header, as a careless API might: the daemon must not pass the key on.
        case echoKey(Int)
        /// A standing limit, as a real API key has: a request that arrives while this many are being
        /// answered gets 429 (with `Retry-After` seconds when given). Not used up by requests.
        case concurrencyLimit(Int, retryAfterSeconds: Int? = nil)
        /// A standing limit: requests beyond this many in one second get 429.
        case rateLimit(perSecond: Int, retryAfterSeconds: Int? = nil)

        /// Limits apply to every request while in force; other faults are taken by one request each.
        public var isStandingLimit: Bool {
            switch self {
            case .concurrencyLimit, .rateLimit: true
            default: false
            }
        }
    }

    public var endpoint: Endpoint
    public var fault: Fault
    /// How many matching requests it applies to (for a limit: how many it refuses); `nil` for all.
    public var remaining: Int?
    /// Applies to every matching request for this long, from the first one it matches (an API that
    /// refuses the key for a few seconds); then it is gone. Overrides `remaining`.
    public var window: Duration?
    /// When the window opened (the simulator sets it on the first match).
    public var windowStart: ContinuousClock.Instant?

    public init(endpoint: Endpoint, fault: Fault, remaining: Int? = nil, window: Duration? = nil) {
        self.endpoint = endpoint
        self.fault = fault
        self.remaining = remaining
        self.window = window
    }
}

extension FaultRule {
    /// Parses the `videospool simulate --fault` syntax: `ENDPOINT:FAULT[*COUNT]`, where ENDPOINT is
    /// `submit`, `poll` or `any` and FAULT is one of `status=CODE` (optionally `,retry-after=SECONDS`;
    /// `,for=SECONDS` answers every matching request so for that long from the first one, no COUNT),
    /// `delay=SECONDS`, `drop`, `malformed`, `report=STATUS`, `video-url=URL` (the rest of the text, commas
    /// included), `accept-then-fail=CODE`, and the standing
    /// limits `concurrency-limit=N` and `rate-limit=PER_SECOND` (both optionally `,retry-after=SECONDS`).
    /// Examples: `submit:status=429,retry-after=5*3`, `any:status=401,for=5`, `poll:report=error`,
    /// `any:delay=40`, `any:concurrency-limit=5`.
    public init(parsing text: String) throws(FaultSyntaxError) {
        var body = Substring(text)
        var count: Int?
        if let star = body.lastIndex(of: "*") {
            guard let value = Int(body[body.index(after: star)...]), value > 0 else {
                throw FaultSyntaxError(text: text, reason: "the count after '*' must be a positive number")
            }
            count = value
            body = body[..<star]
        }
        let parts = body.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let endpoint = Endpoint(rawValue: parts[0]) else {
            throw FaultSyntaxError(text: text, reason: "expected submit:…, poll:… or any:…")
        }
        if parts[1].hasPrefix("video-url=") {
            // A URL may hold commas: take it whole.
            let url = String(parts[1].dropFirst("video-url=".count))
            self.init(endpoint: endpoint, fault: .reportVideoURL(url), remaining: count)
            return
        }
        var settings: [String: String] = [:]
        var kind = ""
        for (index, item) in parts[1].split(separator: ",").enumerated() {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            if index == 0 { kind = pair[0] }
            settings[pair[0]] = pair.count == 2 ? pair[1] : ""
        }
        let fault: Fault
        var window: Duration?
        switch kind {
        case "status":
            guard let code = settings["status"].flatMap(Int.init) else {
                throw FaultSyntaxError(text: text, reason: "status needs a code, e.g. status=503")
            }
            fault = .status(code, retryAfterSeconds: settings["retry-after"].flatMap(Int.init))
            if let seconds = settings["for"] {
                guard let value = Double(seconds), value > 0, count == nil else {
                    throw FaultSyntaxError(
                        text: text,
                        reason: "for needs positive seconds and no *COUNT, e.g. status=401,for=5"
                    )
                }
                window = .milliseconds(Int64(value * 1000))
            }
        case "delay":
            guard let seconds = settings["delay"].flatMap(Double.init) else {
                throw FaultSyntaxError(text: text, reason: "delay needs seconds, e.g. delay=40")
            }
            fault = .delay(.milliseconds(Int64(seconds * 1000)))
        case "drop": fault = .dropConnection
        case "malformed": fault = .malformedJSON
        case "report":
            guard let status = settings["report"], !status.isEmpty else {
                throw FaultSyntaxError(text: text, reason: "report needs a status, e.g. report=error")
            }
            fault = .reportStatus(status)
        case "accept-then-fail":
            fault = .acceptThenFail(settings["accept-then-fail"].flatMap(Int.init) ?? 500)
        case "echo-key":
            fault = .echoKey(settings["echo-key"].flatMap(Int.init) ?? 400)
        case "concurrency-limit", "rate-limit":
            guard let limit = settings[kind].flatMap(Int.init), limit > 0 else {
                throw FaultSyntaxError(text: text, reason: "\(kind) needs a positive number, e.g. \(kind)=5")
            }
            let retryAfter = settings["retry-after"].flatMap(Int.init)
            fault =
                kind == "rate-limit"
                ? .rateLimit(perSecond: limit, retryAfterSeconds: retryAfter)
                : .concurrencyLimit(limit, retryAfterSeconds: retryAfter)
        default:
            throw FaultSyntaxError(text: text, reason: "unknown fault '\(kind)'")
        }
        self.init(endpoint: endpoint, fault: fault, remaining: count, window: window)
    }
}

public struct FaultSyntaxError: Error, CustomStringConvertible {
    public let text: String
    public let reason: String

    public var description: String { "invalid fault '\(text)': \(reason)" }
}
