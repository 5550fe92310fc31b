import VideoSpoolCore

/// A fault the simulator injects into matching API requests.
public struct FaultRule: Sendable, Hashable {
    public enum Endpoint: String, Sendable, Hashable {
        case submit
        case poll
        /// Submit and poll requests (not videos).
        case any
        /// The simulator's own video links, `GET /_videos/…`.
        case video
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

        // Video faults (`video:` only).

        /// Standing: videos are this many bytes (a valid MP4 padded after its frame, generated as
        /// it is sent), for large downloads.
        case videoSize(Int64)
        /// Send the body at about this many bytes per second.
        case slowDrip(bytesPerSecond: Double)
        /// Announce the full length, send this many bytes, then close the connection.
        case truncate(afterBytes: Int64)
        /// Announce 1024 bytes more than the body has, send the body, then close the connection.
        case wrongLength
        /// Answer 302 with this `Location`.
        case redirect(String)
        /// Send the video, then padding forever, without a `Content-Length`.
        case endless
        /// Answer a `Range` request with the whole video (200), as a server without range support does.
        case ignoreRange
        /// Send the body chunked, without a `Content-Length`.
        case chunked

        /// Limits (and the video size) apply to every request while in force; other faults are
        /// taken by one request each.
        public var isStandingLimit: Bool {
            switch self {
            case .concurrencyLimit, .rateLimit, .videoSize: true
            default: false
            }
        }

        /// Faults that only make sense for video downloads.
        var isVideoOnly: Bool {
            switch self {
            case .videoSize, .slowDrip, .truncate, .wrongLength, .redirect, .endless, .ignoreRange, .chunked: true
            default: false
            }
        }

        /// Faults a video download can take: the video ones, a status and a delay.
        var appliesToVideo: Bool {
            switch self {
            case .status, .delay: true
            default: isVideoOnly
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
    /// `submit`, `poll`, `any` or `video` and FAULT is one of `status=CODE` (optionally `,retry-after=SECONDS`;
    /// `,for=SECONDS` answers every matching request so for that long from the first one, no COUNT),
    /// `delay=SECONDS`, `drop`, `malformed`, `report=STATUS`, `video-url=URL` (the rest of the text, commas
    /// included), `accept-then-fail=CODE`, and the standing
    /// limits `concurrency-limit=N` and `rate-limit=PER_SECOND` (both optionally `,retry-after=SECONDS`).
    /// Video links (`video:`) take `status=CODE`, `delay=SECONDS`, `size=BYTES` (standing),
    /// `slow-drip=BYTES_PER_SECOND`, `truncate=BYTES`, `wrong-length`, `redirect=URL`, `endless`,
    /// `ignore-range` and `chunked`.
    /// Examples: `submit:status=429,retry-after=5*3`, `any:status=401,for=5`, `poll:report=error`,
    /// `any:delay=40`, `any:concurrency-limit=5`, `video:truncate=1000*1`, `video:redirect=http://10.0.0.1/v.mp4`.
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
            throw FaultSyntaxError(text: text, reason: "expected submit:…, poll:…, any:… or video:…")
        }
        // A URL may contain commas and '=': everything after `redirect=` is the Location.
        if parts[1].hasPrefix("redirect=") {
            let location = String(parts[1].dropFirst("redirect=".count))
            guard !location.isEmpty else {
                throw FaultSyntaxError(text: text, reason: "redirect needs a URL, e.g. redirect=http://10.0.0.1/v.mp4")
            }
            try self.init(endpoint: endpoint, checked: .redirect(location), remaining: count, text: text)
            return
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
        case "size":
            guard let bytes = settings["size"].flatMap(Int64.init), bytes > 0 else {
                throw FaultSyntaxError(text: text, reason: "size needs a positive number of bytes, e.g. size=209715200")
            }
            fault = .videoSize(bytes)
        case "slow-drip":
            guard let rate = settings["slow-drip"].flatMap(Double.init), rate > 0, rate.isFinite else {
                throw FaultSyntaxError(text: text, reason: "slow-drip needs bytes per second, e.g. slow-drip=100")
            }
            fault = .slowDrip(bytesPerSecond: rate)
        case "truncate":
            guard let bytes = settings["truncate"].flatMap(Int64.init), bytes >= 0 else {
                throw FaultSyntaxError(text: text, reason: "truncate needs a number of bytes, e.g. truncate=1000")
            }
            fault = .truncate(afterBytes: bytes)
        case "wrong-length": fault = .wrongLength
        case "endless": fault = .endless
        case "ignore-range": fault = .ignoreRange
        case "chunked": fault = .chunked
        default:
            throw FaultSyntaxError(text: text, reason: "unknown fault '\(kind)'")
        }
        try self.init(endpoint: endpoint, checked: fault, remaining: count, window: window, text: text)
    }

    private init(
        endpoint: Endpoint,
        checked fault: Fault,
        remaining: Int?,
        window: Duration? = nil,
        text: String
    ) throws(FaultSyntaxError) {
        if endpoint == .video, !fault.appliesToVideo {
            throw FaultSyntaxError(
                text: text,
                reason: "video links take status, delay, size, slow-drip, truncate, wrong-length, redirect, endless, "
                    + "ignore-range or chunked"
            )
        }
        if endpoint != .video, fault.isVideoOnly {
            throw FaultSyntaxError(text: text, reason: "this fault applies to video links only (video:…)")
        }
        self.init(endpoint: endpoint, fault: fault, remaining: remaining, window: window)
    }
}

public struct FaultSyntaxError: Error, CustomStringConvertible {
    public let text: String
    public let reason: String

    public var description: String { "invalid fault '\(text)': \(reason)" }
}
