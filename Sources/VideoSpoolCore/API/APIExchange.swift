/// What happened to one request to the upstream API, as the HTTP adapter observed it. The core,
/// not the adapter, decides what each outcome means for the job.
public enum APIExchange: Sendable, Hashable {
    /// A complete HTTP response arrived.
    case response(APIResponse)
    /// The request certainly did not reach the server (connect refused, DNS, TLS handshake, pool
    /// timeout): safe to send again.
    case notSent(reason: String)
    /// The request was sent but no complete response came back (timeout, reset): the server may
    /// have acted on it.
    case outcomeUnknown(reason: String)
}

public struct APIResponse: Sendable, Hashable {
    public var statusCode: Int
    /// The `Retry-After` header, if the server sent one.
    public var retryAfter: RetryAfter?
    /// The body, capped by the adapter, with the API key scrubbed out.
    public var body: [UInt8]
    /// The `x-request-id` header (support asks for it).
    public var requestID: String?

    public init(statusCode: Int, retryAfter: RetryAfter? = nil, body: [UInt8] = [], requestID: String? = nil) {
        self.statusCode = statusCode
        self.retryAfter = retryAfter
        self.body = body
        self.requestID = requestID
    }

    /// The API's own explanation: `message` of its error envelope, else a clipped body.
    public var message: String {
        if let document = try? JSONParser().parse(body), case .object(let object) = document {
            if let message = object["message"]?.stringValue { return clip(message, limit: 300) }
            if let error = object["error"], let message = error["message"]?.stringValue {
                return clip(message, limit: 300)
            }
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingWhitespace
        return text.isEmpty ? "no message" : clip(text, limit: 200)
    }
}

/// A `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
public enum RetryAfter: Sendable, Hashable {
    case seconds(Int64)
    case date(Timestamp)

    public init?(headerValue: String) {
        let value = headerValue.trimmingWhitespace
        if let seconds = Int64(value), seconds >= 0 {
            self = .seconds(seconds)
        } else if let date = Timestamp(httpDate: value) {
            self = .date(date)
        } else {
            return nil
        }
    }

    public func delay(from now: Timestamp) -> Duration {
        switch self {
        case .seconds(let seconds): .seconds(seconds)
        case .date(let date): max(date - now, .zero)
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[start...end])
    }
}
