public import AsyncHTTPClient
public import Logging
import NIOCore
import NIOHTTP1
import Synchronization
public import VideoSpoolCore

/// The AI/ML API video endpoints over AsyncHTTPClient.
///
/// Each request has a deadline and a body cap. The adapter reports facts (a response, "not sent",
/// "outcome unknown") and never interprets status codes; the key is never logged and is scrubbed
/// from anything the API sends back.
public final class HTTPGenerationAPI: GenerationAPI, Sendable {
    public struct Configuration: Sendable {
        /// `api.base_url`, without a trailing slash.
        public var baseURL: String
        public var apiKey: String
        /// Deadline for one request, connection included.
        public var requestTimeout: Duration
        public var maximumResponseBytes: Int
        public var userAgent: String

        public init(
            baseURL: String = "https://api.aimlapi.com",
            apiKey: String,
            requestTimeout: Duration = .seconds(30),
            maximumResponseBytes: Int = 1024 * 1024,
            userAgent: String = "videospool"
        ) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.apiKey = apiKey
            self.requestTimeout = requestTimeout
            self.maximumResponseBytes = maximumResponseBytes
            self.userAgent = userAgent
        }
    }

    private let client: HTTPClient
    private let state: Mutex<(configuration: Configuration, scrubber: SecretScrubber)>
    private let logger: Logger

    public init(client: HTTPClient, configuration: Configuration, logger: Logger) {
        self.client = client
        self.state = Mutex((configuration, SecretScrubber(secrets: [configuration.apiKey])))
        self.logger = logger
    }

    private var configuration: Configuration { state.withLock { $0.configuration } }

    /// Applies a new key or timeout (configuration reload); requests already sent keep the old ones.
    public func update(apiKey: String, requestTimeout: Duration) {
        state.withLock { state in
            state.configuration.apiKey = apiKey
            state.configuration.requestTimeout = requestTimeout
            state.scrubber = SecretScrubber(secrets: [apiKey])
        }
    }

    public func submit(body: [UInt8], jobID: JobID) async -> APIExchange {
        await exchange(.POST, url: configuration.baseURL + "/v2/video/generations", body: body, jobID: jobID)
    }

    public func status(of generationID: String, jobID: JobID) async -> APIExchange {
        let query = generationID.addingPercentEncodingForQuery
        return await exchange(
            .GET,
            url: configuration.baseURL + "/v2/video/generations?generation_id=" + query,
            body: nil,
            jobID: jobID
        )
    }

    private func exchange(_ method: HTTPMethod, url: String, body: [UInt8]?, jobID: JobID) async -> APIExchange {
        let (configuration, scrubber) = state.withLock { ($0.configuration, $0.scrubber) }
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(jobID)"
        var headers = HTTPHeaders()
        headers.add(name: "Authorization", value: "Bearer \(configuration.apiKey)")
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "User-Agent", value: configuration.userAgent)
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: method, headers: headers, body: body.map { .bytes($0) })
        } catch {
            return .notSent(reason: "invalid request URL: \(error)")
        }
        let recorder = ExchangeRecorder(maximumBodyBytes: configuration.maximumResponseBytes)
        let deadline = NIODeadline.now() + .milliseconds(configuration.requestTimeout.wholeMilliseconds)
        do {
            let recorded = try await recorder.execute(request, on: client, deadline: deadline, logger: logger)
            let retryAfter = recorded.headers.first(name: "Retry-After").flatMap(RetryAfter.init(headerValue:))
            let requestID = recorded.headers.first(name: "x-request-id")
            logger.debug(
                "API answered",
                metadata: ["http.method": "\(method)", "http.status": "\(recorded.status.code)"]
            )
            return .response(
                APIResponse(
                    statusCode: Int(recorded.status.code),
                    retryAfter: retryAfter,
                    body: scrubber.scrub(recorded.body),
                    requestID: requestID
                )
            )
        } catch {
            let reason = scrubber.scrub(TransportErrorDescription.describe(error).reason)
            logger.debug("API request failed", metadata: ["http.method": "\(method)", "error": "\(reason)"])
            return recorder.requestWasSent ? .outcomeUnknown(reason: reason) : .notSent(reason: reason)
        }
    }
}

extension String {
    /// Percent-encodes everything but RFC 3986 unreserved characters.
    var addingPercentEncodingForQuery: String {
        var output = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                output.append(Character(Unicode.Scalar(byte)))
            default:
                output += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return output
    }
}
