import Testing
import VideoSpoolCore

/// A request with the model first and `fields` after it: `request(#""prompt":"x""#)`.
private func request(_ fields: String) -> String {
    fields.isEmpty ? #"{"model":"\#(seedanceModel)"}"# : #"{"model":"\#(seedanceModel)",\#(fields)}"#
}

/// A minimal valid request plus `fields`.
private func minimal(_ fields: String = "") -> String {
    request(fields.isEmpty ? #""prompt":"a cat""# : #""prompt":"a cat",\#(fields)"#)
}

private let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
private let mp3 = "data:audio/mpeg;base64,SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4Ljc2LjEwMAAAAAAAAAAAAAAA"
private let bareBase64 = String(repeating: "iVBORw0KGgoAAAANSUhEUgAA", count: 4)

struct ValidCase: Sendable, CustomTestStringConvertible {
    let name: String
    let file: String
    /// The upstream body expected, as JSON text (key order matters).
    let body: String

    var testDescription: String { name }
}

struct InvalidCase: Sendable, CustomTestStringConvertible {
    let file: String
    let field: String?
    let code: ValidationIssue.Code
    /// Other issues the file also produces (most cases produce exactly one).
    var otherIssues = 0

    var testDescription: String { "\(code) at \(field ?? "(file)"): \(file.prefix(120))" }
}

private func bad(_ extra: String, _ field: String?, _ code: ValidationIssue.Code) -> InvalidCase {
    InvalidCase(file: minimal(extra), field: field, code: code)
}

private func badRaw(_ file: String, _ field: String?, _ code: ValidationIssue.Code, others: Int = 0) -> InvalidCase {
    InvalidCase(file: file, field: field, code: code, otherIssues: others)
}

struct RequestValidatorTests {
    private let validator = RequestValidator()

    private func outcome(_ text: String, validator: RequestValidator? = nil) -> ValidationOutcome {
        (validator ?? self.validator).validate(Array(text.utf8))
    }

    private func accepted(
        _ text: String,
        validator: RequestValidator? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ValidatedRequest {
        switch outcome(text, validator: validator) {
        case .valid(let request):
            return request
        case .invalid(let rejected):
            Issue.record("expected valid, got \(rejected.issues)", sourceLocation: sourceLocation)
            throw RejectedForTest()
        }
    }

    private func rejected(
        _ text: String,
        validator: RequestValidator? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> RejectedRequest {
        switch outcome(text, validator: validator) {
        case .valid(let request):
            Issue.record("expected invalid, got upstream body \(request.upstreamBody)", sourceLocation: sourceLocation)
            throw RejectedForTest()
        case .invalid(let rejected):
            return rejected
        }
    }

    private struct RejectedForTest: Error {}

    private static let schemaFields = Set(ModelSchema.seedance20Mini.fields.map(\.name))

    // MARK: - Valid requests

    static let validCases: [ValidCase] = [
        ValidCase(name: "minimal", file: minimal(), body: minimal()),
        ValidCase(
            name: "provider is case-insensitive and sent lowercased",
            file: minimal(#""provider":"ByteDance""#),
            body: minimal(#""provider":"bytedance""#)
        ),
        ValidCase(name: "provider fal", file: minimal(#""provider":"FAL""#), body: minimal(#""provider":"fal""#)),
        ValidCase(name: "provider auto", file: minimal(#""provider":"auto""#), body: minimal(#""provider":"auto""#)),
        ValidCase(
            name: "duration as a digit string is sent as an integer",
            file: minimal(#""duration":"5""#),
            body: minimal(#""duration":5"#)
        ),
        ValidCase(name: "duration lower bound", file: minimal(#""duration":4"#), body: minimal(#""duration":4"#)),
        ValidCase(name: "duration upper bound", file: minimal(#""duration":15"#), body: minimal(#""duration":15"#)),
        ValidCase(name: "duration string upper bound", file: minimal(#""duration":"15""#), body: minimal(#""duration":15"#)),
        ValidCase(name: "seed -1", file: minimal(#""seed":-1"#), body: minimal(#""seed":-1"#)),
        ValidCase(name: "seed 0", file: minimal(#""seed":0"#), body: minimal(#""seed":0"#)),
        ValidCase(
            name: "seed 2^32-1",
            file: minimal(#""seed":4294967295"#),
            body: minimal(#""seed":4294967295"#)
        ),
        ValidCase(
            name: "booleans",
            file: minimal(#""generate_audio":false,"watermark":true"#),
            body: minimal(#""generate_audio":false,"watermark":true"#)
        ),
        ValidCase(
            name: "resolution and aspect ratio",
            file: minimal(#""resolution":"480p","aspect_ratio":"21:9""#),
            body: minimal(#""resolution":"480p","aspect_ratio":"21:9""#)
        ),
        ValidCase(
            name: "image_url and last_image_url as URLs",
            file: minimal(#""image_url":"https://cdn.example.com/first.png","last_image_url":"http://cdn.example.com:8080/last.jpg?sig=1""#),
            body: minimal(#""image_url":"https://cdn.example.com/first.png","last_image_url":"http://cdn.example.com:8080/last.jpg?sig=1""#)
        ),
        ValidCase(
            name: "image_url as a base64 data URI",
            file: minimal(#""image_url":"\#(png)""#),
            body: minimal(#""image_url":"\#(png)""#)
        ),
        ValidCase(
            name: "audio_url as an asset id with a reference image",
            file: minimal(#""image_url":"https://example.com/a.png","audio_url":"asset://audio-123_v2.x""#),
            body: minimal(#""image_url":"https://example.com/a.png","audio_url":"asset://audio-123_v2.x""#)
        ),
        ValidCase(
            name: "audio_url as a data URI with a reference video",
            file: minimal(#""video_url":"https://example.com/v.mp4","audio_url":"\#(mp3)""#),
            body: minimal(#""video_url":"https://example.com/v.mp4","audio_url":"\#(mp3)""#)
        ),
        ValidCase(
            name: "audio_url as a URL with reference image_urls",
            file: minimal(#""audio_url":"https://example.com/a.mp3","image_urls":["https://example.com/1.png"]"#),
            body: minimal(#""audio_url":"https://example.com/a.mp3","image_urls":["https://example.com/1.png"]"#)
        ),
        ValidCase(
            name: "audio_url with reference video_urls",
            file: minimal(#""audio_url":"https://example.com/a.mp3","video_urls":["https://example.com/1.mp4"]"#),
            body: minimal(#""audio_url":"https://example.com/a.mp3","video_urls":["https://example.com/1.mp4"]"#)
        ),
        ValidCase(
            name: "nine image_urls",
            file: minimal(#""image_urls":[\#((1...9).map { #""https://example.com/\#($0).png""# }.joined(separator: ","))]"#),
            body: minimal(#""image_urls":[\#((1...9).map { #""https://example.com/\#($0).png""# }.joined(separator: ","))]"#)
        ),
        ValidCase(
            name: "image_urls mixing URLs and data URIs",
            file: minimal(#""image_urls":["https://example.com/1.png","\#(png)"]"#),
            body: minimal(#""image_urls":["https://example.com/1.png","\#(png)"]"#)
        ),
        ValidCase(
            name: "three audio_urls with three video_urls",
            file: minimal(
                #""video_urls":["https://e.com/1.mp4","https://e.com/2.mp4","https://e.com/3.mp4"],"#
                    + #""audio_urls":["https://e.com/1.mp3","\#(mp3)","https://e.com/3.mp3"]"#
            ),
            body: minimal(
                #""video_urls":["https://e.com/1.mp4","https://e.com/2.mp4","https://e.com/3.mp4"],"#
                    + #""audio_urls":["https://e.com/1.mp3","\#(mp3)","https://e.com/3.mp3"]"#
            )
        ),
        ValidCase(
            name: "audio_urls with image_urls",
            file: minimal(#""image_urls":["https://e.com/1.png"],"audio_urls":["https://e.com/1.mp3"]"#),
            body: minimal(#""image_urls":["https://e.com/1.png"],"audio_urls":["https://e.com/1.mp3"]"#)
        ),
        ValidCase(
            name: "daemon keys are not sent upstream",
            file: minimal(
                #""callback_url":"https://hooks.example.com/v?token=1","metadata":{"order":42},"job_id":"order-42""#
            ),
            body: minimal()
        ),
        ValidCase(
            name: "callback_urls and daemon keys before the model fields",
            file: #"{"job_id":"a.b_c-1","callback_urls":["https://a.example/h","https://b.example/h"],"#
                + #""metadata":{},"model":"\#(seedanceModel)","prompt":"p"}"#,
            body: #"{"model":"\#(seedanceModel)","prompt":"p"}"#
        ),
        ValidCase(
            name: "null members are dropped",
            file: minimal(
                #""seed":null,"image_url":null,"provider":null,"callback_url":null,"metadata":null,"job_id":null,"#
                    + #""duration":6"#
            ),
            body: minimal(#""duration":6"#)
        ),
        ValidCase(
            name: "field order follows the file",
            file: #"{"duration":"8","prompt":"p","resolution":"720p","model":"\#(seedanceModel)","provider":"Auto"}"#,
            body: #"{"duration":8,"prompt":"p","resolution":"720p","model":"\#(seedanceModel)","provider":"auto"}"#
        ),
        ValidCase(
            name: "every field at once",
            file: minimal(
                #""provider":"bytedance","image_url":"https://e.com/f.png","last_image_url":"https://e.com/l.png","#
                    + #""audio_url":"https://e.com/a.mp3","video_url":"https://e.com/v.mp4","#
                    + #""image_urls":["https://e.com/1.png"],"audio_urls":["https://e.com/1.mp3"],"#
                    + #""video_urls":["https://e.com/1.mp4"],"aspect_ratio":"9:16","resolution":"720p","#
                    + #""duration":"10","generate_audio":true,"seed":123456,"watermark":false"#
            ),
            body: minimal(
                #""provider":"bytedance","image_url":"https://e.com/f.png","last_image_url":"https://e.com/l.png","#
                    + #""audio_url":"https://e.com/a.mp3","video_url":"https://e.com/v.mp4","#
                    + #""image_urls":["https://e.com/1.png"],"audio_urls":["https://e.com/1.mp3"],"#
                    + #""video_urls":["https://e.com/1.mp4"],"aspect_ratio":"9:16","resolution":"720p","#
                    + #""duration":10,"generate_audio":true,"seed":123456,"watermark":false"#
            )
        ),
        ValidCase(
            name: "prompt with unicode and escapes",
            file: request(#""prompt":"un chat \"noir\" 🐈\n sous la pluie""#),
            body: request(#""prompt":"un chat \"noir\" 🐈\n sous la pluie""#)
        ),
        ValidCase(
            name: "upper-case URL scheme",
            file: minimal(#""video_url":"HTTPS://E.COM/V.MP4""#),
            body: minimal(#""video_url":"HTTPS://E.COM/V.MP4""#)
        ),
    ]

    @Test(arguments: RequestValidatorTests.validCases)
    func validRequestsAreAcceptedAndSentNormalized(validCase: ValidCase) throws {
        let request = try accepted(validCase.file)
        let expected = try jsonObject(validCase.body)
        #expect(request.upstreamBody == expected)
        #expect(request.model == seedanceModel)
        for (key, value) in request.upstreamBody {
            #expect(Self.schemaFields.contains(key), "'\(key)' is not a schema field")
            #expect(!RequestValidator.daemonKeys.contains(key), "daemon key '\(key)' would be sent upstream")
            #expect(value != .null, "'\(key)' is null in the upstream body")
        }
    }

    @Test(arguments: ["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"])
    func everyDocumentedAspectRatioIsAccepted(ratio: String) throws {
        let request = try accepted(minimal(#""aspect_ratio":"\#(ratio)""#))
        #expect(request.upstreamBody["aspect_ratio"] == .string(ratio))
    }

    @Test(arguments: ["480p", "720p"])
    func everyDocumentedResolutionIsAccepted(resolution: String) throws {
        let request = try accepted(minimal(#""resolution":"\#(resolution)""#))
        #expect(request.upstreamBody["resolution"] == .string(resolution))
        #expect(request.parameters.resolution == resolution)
    }

    @Test func theStringDurationIsSubmittedAsAnInteger() throws {
        let request = try accepted(minimal(#""duration":"5""#))
        let duration = try #require(request.upstreamBody["duration"]?.numberValue)
        #expect(duration.isInteger)
        #expect(duration.text == "5")
        #expect(request.parameters.durationSeconds == 5)
        let body = JSONWriter().string(.object(request.upstreamBody))
        #expect(body.contains(#""duration":5"#))
        #expect(!body.contains(#""duration":"5""#))
    }

    @Test func parametersAreAbsentWhenTheFileDoesNotSetThem() throws {
        let request = try accepted(minimal())
        #expect(request.parameters == GenerationParameters())
    }

    @Test func daemonKeysAreKeptForTheDaemon() throws {
        let request = try accepted(
            minimal(#""callback_url":"https://hooks.example.com/v?token=1","metadata":{"order":42,"tags":["a"]},"job_id":"order-42""#)
        )
        #expect(request.callbackURLs == ["https://hooks.example.com/v?token=1"])
        #expect(request.metadata == (try jsonObject(#"{"order":42,"tags":["a"]}"#)))
        #expect(request.requestedJobID == JobID("order-42"))
    }

    @Test func callbackURLsKeepTheirOrderAndDropRepeats() throws {
        let request = try accepted(
            minimal(#""callback_urls":["https://b.example/h","https://a.example/h","https://b.example/h"]"#)
        )
        #expect(request.callbackURLs == ["https://b.example/h", "https://a.example/h"])
    }

    @Test func aRequestWithoutDaemonKeysHasNoCallbacksMetadataOrJobID() throws {
        let request = try accepted(minimal())
        #expect(request.callbackURLs.isEmpty)
        #expect(request.metadata == nil)
        #expect(request.requestedJobID == nil)
    }

    @Test func tenCallbackURLsAreAllowed() throws {
        let urls = (0..<10).map { #""https://h\#($0).example/hook""# }.joined(separator: ",")
        let request = try accepted(minimal(#""callback_urls":[\#(urls)]"#))
        #expect(request.callbackURLs.count == 10)
    }

    @Test func validatingAParsedObjectGivesTheSameOutcome() throws {
        let text = minimal(#""duration":"6","provider":"FAL""#)
        let object = try jsonObject(text)
        #expect(validator.validate(object) == validator.validate(Array(text.utf8)))
    }

    // MARK: - Invalid requests

    static let invalidCases: [InvalidCase] = [
        // model
        badRaw(#"{"prompt":"a cat"}"#, "model", .missingField),
        badRaw(#"{"model":null,"prompt":"a cat"}"#, "model", .missingField),
        badRaw(#"{"model":"openai/sora-2","prompt":"a cat"}"#, "model", .unsupportedModel),
        badRaw(#"{"model":"","prompt":"a cat"}"#, "model", .unsupportedModel),
        badRaw(#"{"model":"BYTEDANCE/DREAMINA-SEEDANCE-2-0-MINI","prompt":"a cat"}"#, "model", .unsupportedModel),
        badRaw(#"{"model":42,"prompt":"a cat"}"#, "model", .wrongType),
        badRaw(#"{"model":["x"],"prompt":"a cat"}"#, "model", .wrongType),
        // prompt
        badRaw(request(""), "prompt", .missingField),
        badRaw(request(#""prompt":null"#), "prompt", .missingField),
        badRaw(request(#""prompt":"""#), "prompt", .emptyValue),
        badRaw(request(#""prompt":"  \n\t ""#), "prompt", .emptyValue),
        badRaw(request(#""prompt":42"#), "prompt", .wrongType),
        badRaw(request(#""prompt":["a cat"]"#), "prompt", .wrongType),
        badRaw(request(#""prompt":true"#), "prompt", .wrongType),
        // unknown fields
        bad(#""imageUrl":"https://e.com/a.png""#, "imageUrl", .unknownField),
        bad(#""negative_prompt":"dogs""#, "negative_prompt", .unknownField),
        bad(#""Model":"x""#, "Model", .unknownField),
        // provider
        bad(#""provider":"openai""#, "provider", .invalidValue),
        bad(#""provider":"""#, "provider", .invalidValue),
        bad(#""provider":1"#, "provider", .wrongType),
        // aspect_ratio
        bad(#""aspect_ratio":"16x9""#, "aspect_ratio", .invalidValue),
        bad(#""aspect_ratio":"16:9 ""#, "aspect_ratio", .invalidValue),
        bad(#""aspect_ratio":"2:1""#, "aspect_ratio", .invalidValue),
        bad(#""aspect_ratio":1.78"#, "aspect_ratio", .wrongType),
        bad(#""aspect_ratio":["16:9"]"#, "aspect_ratio", .wrongType),
        // resolution
        bad(#""resolution":"720P""#, "resolution", .invalidValue),
        bad(#""resolution":"1080p""#, "resolution", .invalidValue),
        bad(#""resolution":720"#, "resolution", .wrongType),
        // duration
        bad(#""duration":5.0"#, "duration", .wrongType),
        bad(#""duration":5.5"#, "duration", .wrongType),
        bad(#""duration":5e0"#, "duration", .wrongType),
        bad(#""duration":"5.0""#, "duration", .wrongType),
        bad(#""duration":"five""#, "duration", .wrongType),
        bad(#""duration":"""#, "duration", .wrongType),
        bad(#""duration":" 5""#, "duration", .wrongType),
        bad(#""duration":"-5""#, "duration", .wrongType),
        bad(#""duration":"+5""#, "duration", .wrongType),
        bad(#""duration":"99999999999999999999""#, "duration", .wrongType),
        bad(#""duration":true"#, "duration", .wrongType),
        bad(#""duration":[5]"#, "duration", .wrongType),
        bad(#""duration":{"s":5}"#, "duration", .wrongType),
        bad(#""duration":16"#, "duration", .outOfRange),
        bad(#""duration":3"#, "duration", .outOfRange),
        bad(#""duration":0"#, "duration", .outOfRange),
        bad(#""duration":-5"#, "duration", .outOfRange),
        bad(#""duration":"16""#, "duration", .outOfRange),
        bad(#""duration":"3""#, "duration", .outOfRange),
        bad(#""duration":99999999999999999999"#, "duration", .outOfRange),
        // booleans
        bad(#""generate_audio":"true""#, "generate_audio", .wrongType),
        bad(#""generate_audio":1"#, "generate_audio", .wrongType),
        bad(#""watermark":"false""#, "watermark", .wrongType),
        bad(#""watermark":0"#, "watermark", .wrongType),
        // seed
        bad(#""seed":1.5"#, "seed", .wrongType),
        bad(#""seed":42.0"#, "seed", .wrongType),
        bad(#""seed":"42""#, "seed", .wrongType),
        bad(#""seed":true"#, "seed", .wrongType),
        bad(#""seed":-2"#, "seed", .outOfRange),
        bad(#""seed":4294967296"#, "seed", .outOfRange),
        // image_url
        bad(#""image_url":5"#, "image_url", .wrongType),
        bad(#""image_url":{"url":"https://e.com/a.png"}"#, "image_url", .wrongType),
        bad(#""image_url":["https://e.com/a.png"]"#, "image_url", .wrongType),
        bad(#""image_url":"file:///etc/passwd""#, "image_url", .unsupportedScheme),
        bad(#""image_url":"ftp://x/y""#, "image_url", .unsupportedScheme),
        bad(#""image_url":"javascript:alert(1)""#, "image_url", .unsupportedScheme),
        bad(#""image_url":"gopher://e.com/a""#, "image_url", .unsupportedScheme),
        bad(#""image_url":"asset://abc""#, "image_url", .unsupportedScheme),
        bad(#""image_url":"not a url""#, "image_url", .invalidURL),
        bad(#""image_url":"e.com/a.png""#, "image_url", .invalidURL),
        bad(#""image_url":"""#, "image_url", .invalidURL),
        bad(#""image_url":"http://""#, "image_url", .invalidURL),
        bad(#""image_url":"https://e.com/a b.png""#, "image_url", .invalidURL),
        bad(#""image_url":"https://user:pw@e.com/a.png""#, "image_url", .invalidURL),
        bad(#""image_url":"https://e.com:99999/a.png""#, "image_url", .invalidURL),
        bad(#""image_url":"\#(bareBase64)""#, "image_url", .invalidURL),
        bad(#""image_url":"\#(mp3)""#, "image_url", .invalidValue),
        bad(#""image_url":"data:text/plain;base64,aGVsbG8=""#, "image_url", .invalidValue),
        bad(#""image_url":"data:image/;base64,aGVsbG8=""#, "image_url", .invalidValue),
        bad(#""image_url":"data:;base64,aGVsbG8=""#, "image_url", .invalidValue),
        bad(#""image_url":"data:image/png,aGVsbG8=""#, "image_url", .invalidBase64),
        bad(#""image_url":"data:image/png;base64""#, "image_url", .invalidBase64),
        bad(#""image_url":"data:image/png;base64,""#, "image_url", .invalidBase64),
        bad(#""image_url":"data:image/png;base64,not base64!""#, "image_url", .invalidBase64),
        bad(#""image_url":"data:image/png;base64,aGVsbG8==x""#, "image_url", .invalidBase64),
        bad(#""image_url":"data:image/png;base64,a""#, "image_url", .invalidBase64),
        bad(#""last_image_url":"ftp://x/y""#, "last_image_url", .unsupportedScheme),
        bad(#""last_image_url":false"#, "last_image_url", .wrongType),
        // audio_url (with a reference image so that only the value is wrong)
        bad(#""image_url":"https://e.com/a.png","audio_url":"asset://""#, "audio_url", .invalidValue),
        bad(#""image_url":"https://e.com/a.png","audio_url":"asset://has space""#, "audio_url", .invalidValue),
        bad(#""image_url":"https://e.com/a.png","audio_url":"asset://a/b""#, "audio_url", .invalidValue),
        bad(#""image_url":"https://e.com/a.png","audio_url":"\#(png)""#, "audio_url", .invalidValue),
        bad(#""image_url":"https://e.com/a.png","audio_url":"file:///a.mp3""#, "audio_url", .unsupportedScheme),
        bad(#""image_url":"https://e.com/a.png","audio_url":1"#, "audio_url", .wrongType),
        // video_url: http(s) only
        bad(#""video_url":"data:video/mp4;base64,AAAAIGZ0eXA=""#, "video_url", .unsupportedScheme),
        bad(#""video_url":"asset://video-1""#, "video_url", .unsupportedScheme),
        bad(#""video_url":"rtmp://e.com/live""#, "video_url", .unsupportedScheme),
        bad(#""video_url":"\#(bareBase64)""#, "video_url", .invalidURL),
        bad(#""video_url":[]"#, "video_url", .wrongType),
        // lists
        bad(#""image_urls":[]"#, "image_urls", .tooFewItems),
        bad(
            #""image_urls":[\#((1...10).map { #""https://e.com/\#($0).png""# }.joined(separator: ","))]"#,
            "image_urls",
            .tooManyItems
        ),
        bad(#""image_urls":"https://e.com/1.png""#, "image_urls", .wrongType),
        bad(#""image_urls":{"0":"https://e.com/1.png"}"#, "image_urls", .wrongType),
        bad(#""image_urls":[1]"#, "image_urls[0]", .wrongType),
        bad(#""image_urls":[null]"#, "image_urls[0]", .wrongType),
        bad(#""image_urls":["https://e.com/1.png","ftp://x/y"]"#, "image_urls[1]", .unsupportedScheme),
        bad(#""image_urls":["https://e.com/1.png","\#(mp3)"]"#, "image_urls[1]", .invalidValue),
        bad(#""video_urls":[]"#, "video_urls", .tooFewItems),
        bad(#""video_urls":"https://e.com/1.mp4""#, "video_urls", .wrongType),
        bad(#""video_urls":[true]"#, "video_urls[0]", .wrongType),
        bad(#""image_urls":["https://e.com/1.png"],"audio_urls":"https://e.com/1.mp3""#, "audio_urls", .wrongType),
        bad(#""image_urls":["https://e.com/1.png"],"audio_urls":[{}]"#, "audio_urls[0]", .wrongType),
        bad(
            #""video_urls":["https://e.com/1.mp4","https://e.com/2.mp4","https://e.com/3.mp4","https://e.com/4.mp4"]"#,
            "video_urls",
            .tooManyItems
        ),
        bad(#""video_urls":["data:video/mp4;base64,AAAA"]"#, "video_urls[0]", .unsupportedScheme),
        bad(#""image_urls":["https://e.com/1.png"],"audio_urls":[]"#, "audio_urls", .tooFewItems),
        bad(
            #""image_urls":["https://e.com/1.png"],"#
                + #""audio_urls":["https://e.com/1.mp3","https://e.com/2.mp3","https://e.com/3.mp3","https://e.com/4.mp3"]"#,
            "audio_urls",
            .tooManyItems
        ),
        bad(#""image_urls":["https://e.com/1.png"],"audio_urls":["asset://a1"]"#, "audio_urls[0]", .unsupportedScheme),
        bad(#""image_urls":["https://e.com/1.png"],"audio_urls":["\#(png)"]"#, "audio_urls[0]", .invalidValue),
        // audio needs a reference
        bad(#""audio_url":"https://e.com/a.mp3""#, "audio_url", .audioWithoutReference),
        bad(#""audio_url":"https://e.com/a.mp3","last_image_url":"https://e.com/l.png""#, "audio_url", .audioWithoutReference),
        bad(#""audio_urls":["https://e.com/a.mp3"]"#, "audio_urls", .audioWithoutReference),
        bad(#""audio_url":"https://e.com/a.mp3","image_url":null"#, "audio_url", .audioWithoutReference),
        // callback_url
        bad(#""callback_url":5"#, "callback_url", .wrongType),
        bad(#""callback_url":["https://e.com/h"]"#, "callback_url", .wrongType),
        bad(#""callback_url":"not a url""#, "callback_url", .invalidURL),
        bad(#""callback_url":"""#, "callback_url", .invalidURL),
        bad(#""callback_url":"javascript:alert(1)""#, "callback_url", .unsupportedScheme),
        bad(#""callback_url":"ftp://hooks.example.com/h""#, "callback_url", .unsupportedScheme),
        bad(#""callback_url":"file:///etc/passwd""#, "callback_url", .unsupportedScheme),
        bad(#""callback_url":"https://user@hooks.example.com/h""#, "callback_url", .invalidURL),
        bad(#""callback_url":"https://user:secret@hooks.example.com/h""#, "callback_url", .invalidURL),
        bad(#""callback_url":"https://hooks.example.com:0/h""#, "callback_url", .invalidURL),
        bad(#""callback_url":"https://hooks example.com/h""#, "callback_url", .invalidURL),
        bad(#""callback_url":"http://127.0.0.1:8080/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://[::1]/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://10.0.0.1/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://192.168.1.10/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://169.254.169.254/latest/meta-data""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://2130706433/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://0x7f.1/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://0177.0.0.1/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://[::ffff:127.0.0.1]/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://[fe80::1%25eth0]/h""#, "callback_url", .callbackNotAllowed),
        bad(#""callback_url":"http://0.0.0.0/h""#, "callback_url", .callbackNotAllowed),
        // callback_urls
        bad(#""callback_urls":[]"#, "callback_urls", .tooFewItems),
        bad(
            #""callback_urls":[\#((0..<11).map { #""https://h\#($0).example/hook""# }.joined(separator: ","))]"#,
            "callback_urls",
            .tooManyItems
        ),
        bad(#""callback_urls":"https://e.com/h""#, "callback_urls", .wrongType),
        bad(#""callback_urls":[1]"#, "callback_urls[0]", .wrongType),
        bad(#""callback_urls":["https://e.com/h","http://10.0.0.1/h"]"#, "callback_urls[1]", .callbackNotAllowed),
        bad(#""callback_urls":["https://e.com/h","ftp://e.com/h"]"#, "callback_urls[1]", .unsupportedScheme),
        bad(#""callback_url":"https://a.example/h","callback_urls":["https://b.example/h"]"#, "callback_urls", .conflictingFields),
        // metadata
        bad(#""metadata":"order 42""#, "metadata", .wrongType),
        bad(#""metadata":[1,2]"#, "metadata", .wrongType),
        bad(#""metadata":42"#, "metadata", .wrongType),
        bad(#""metadata":{"blob":"\#(String(repeating: "x", count: 16 * 1024))"}"#, "metadata", .metadataTooLarge),
        // job_id
        bad(#""job_id":"""#, "job_id", .invalidJobID),
        bad(#""job_id":"a/b""#, "job_id", .invalidJobID),
        bad(#""job_id":"../../etc/passwd""#, "job_id", .invalidJobID),
        bad(#""job_id":"has space""#, "job_id", .invalidJobID),
        bad(#""job_id":"café""#, "job_id", .invalidJobID),
        bad(#""job_id":"\#(String(repeating: "a", count: 129))""#, "job_id", .invalidJobID),
        bad(#""job_id":42"#, "job_id", .wrongType),
        // not a request at all
        badRaw("[1,2]", nil, .notAnObject),
        badRaw(#""a string""#, nil, .notAnObject),
        badRaw("42", nil, .notAnObject),
        badRaw("null", nil, .notAnObject),
        badRaw("true", nil, .notAnObject),
        // unparseable
        badRaw("", nil, "empty_file"),
        badRaw(#"{"model":"#, nil, "truncated_json"),
        badRaw(#"{"model":"x","model":"y"}"#, nil, "duplicate_key"),
        badRaw(#"{"model":"x"} trailing"#, nil, "invalid_json"),
        badRaw(#"{"prompt":"\u0000"}"#, nil, "nul_byte"),
        badRaw(String(repeating: "[", count: 100_000), nil, "too_deeply_nested"),
    ]

    @Test(arguments: RequestValidatorTests.invalidCases)
    func invalidRequestsAreRejectedWithTheirCodeAndField(invalidCase: InvalidCase) throws {
        let rejection = try rejected(invalidCase.file)
        let match = rejection.issues.first { $0.field == invalidCase.field && $0.code == invalidCase.code }
        #expect(match != nil, "issues were: \(rejection.issues)")
        #expect(
            rejection.issues.count == 1 + invalidCase.otherIssues,
            "expected \(1 + invalidCase.otherIssues) issue(s), got \(rejection.issues)"
        )
        for issue in rejection.issues {
            #expect(!issue.message.isEmpty)
        }
    }

    @Test func anUnparseableFileReportsTheParserCodeAndOffset() throws {
        let rejection = try rejected(#"{"model": tru}"#)
        let issue = try #require(rejection.issues.first)
        #expect(issue.code == "invalid_json")
        #expect(issue.field == nil)
        #expect(issue.message.contains("at byte 13"))
    }

    @Test(arguments: [
        ("[]", "an array"),
        (#""x""#, "a string"),
        ("5", "an integer"),
        ("5.5", "a number"),
        ("null", "null"),
        ("false", "a boolean"),
    ])
    func aTopLevelThatIsNotAnObjectSaysWhatItIs(text: String, description: String) throws {
        let issue = try #require(try rejected(text).issues.first)
        #expect(issue.code == .notAnObject)
        #expect(issue.message.hasSuffix("not \(description)"))
    }

    // MARK: - Messages and hints

    @Test func aMisspeltFieldSuggestsTheKnownOne() throws {
        let rejection = try rejected(request(#""promt":"a cat""#))
        let unknown = try #require(rejection.issues.first { $0.code == .unknownField })
        #expect(unknown.field == "promt")
        #expect(unknown.message.contains("did you mean 'prompt'?"))
        #expect(rejection.issues.contains { $0.field == "prompt" && $0.code == .missingField })
        #expect(rejection.issues.count == 2)
    }

    @Test(arguments: [
        ("imageUrl", "image_url"),
        ("image-url", "image_url"),
        ("ImageURLs", "image_urls"),
        ("aspectRatio", "aspect_ratio"),
        ("durations", "duration"),
        ("callback", "callback_url"),
        ("callbackUrls", "callback_urls"),
        ("jobId", "job_id"),
        ("meta_data", "metadata"),
        ("watermak", "watermark"),
    ])
    func unknownFieldsGetTheNearestSuggestion(key: String, suggestion: String) throws {
        let rejection = try rejected(minimal(#""\#(key)":"x""#))
        let issue = try #require(rejection.issues.first { $0.code == .unknownField })
        #expect(issue.field == key)
        #expect(issue.message.contains("did you mean '\(suggestion)'?"), "\(issue.message)")
    }

    @Test func anUnrelatedUnknownFieldGetsNoSuggestion() throws {
        let issue = try #require(try rejected(minimal(#""xyzzy":1"#)).issues.first)
        #expect(issue.code == .unknownField)
        #expect(!issue.message.contains("did you mean"))
    }

    @Test func unknownFieldsAreReportedEvenForAnUnsupportedModel() throws {
        let rejection = try rejected(#"{"model":"x/y","promt":"a","prompt":"b","callback_url":"https://e.com/h"}"#)
        #expect(rejection.issues.map(\.code) == [.unsupportedModel, .unknownField])
        #expect(rejection.issues.last?.message.contains("did you mean 'prompt'?") == true)
        #expect(rejection.model == "x/y")
    }

    @Test func theUnsupportedModelMessageListsTheSupportedOnes() throws {
        let issue = try #require(try rejected(#"{"model":"x/y","prompt":"a"}"#).issues.first)
        #expect(issue.message.contains("'\(seedanceModel)'"))
    }

    @Test func aCaseMismatchedResolutionGetsAHint() throws {
        let issue = try #require(try rejected(minimal(#""resolution":"720P""#)).issues.first)
        #expect(issue.code == .invalidValue)
        #expect(issue.message.contains("case-sensitive"))
        #expect(issue.message.contains("'720p'"))
    }

    @Test func aValueThatDiffersByMoreThanCaseGetsNoCaseHint() throws {
        let issue = try #require(try rejected(minimal(#""aspect_ratio":"16:9 ""#)).issues.first)
        #expect(!issue.message.contains("case-sensitive"))
    }

    @Test func bareBase64InAnImageFieldSuggestsADataURI() throws {
        let issue = try #require(try rejected(minimal(#""image_url":"\#(bareBase64)""#)).issues.first)
        #expect(issue.code == .invalidURL)
        #expect(issue.message.contains("bare base64"))
        #expect(issue.message.contains("data:image/"))
    }

    @Test func unsupportedSchemesAreNamed() throws {
        let issue = try #require(try rejected(minimal(#""image_url":"file:///etc/passwd""#)).issues.first)
        #expect(issue.message.contains("'file'"))
    }

    @Test func longValuesAreClippedInMessages() throws {
        let long = String(repeating: "zz ", count: 170)
        let issue = try #require(try rejected(minimal(#""resolution":"\#(long)""#)).issues.first)
        #expect(issue.message.count < 300)
        #expect(issue.message.contains("…"))
    }

    @Test func aPrivateCallbackMessageSaysWhyAndHowToAllowIt() throws {
        let issue = try #require(try rejected(minimal(#""callback_url":"http://127.0.0.1/h""#)).issues.first)
        #expect(issue.message.contains("loopback"))
        #expect(issue.message.contains("allow_private_networks"))
    }

    // MARK: - Several issues at once

    @Test func everyProblemIsReportedInOneGo() throws {
        let rejection = try rejected(
            request(
                #""prompt":"","duration":99,"resolution":"4k","promt":"x","image_urls":[],"seed":"1","#
                    + #""callback_url":"http://10.0.0.1/h","job_id":"bad id""#
            )
        )
        let found = Set(rejection.issues.map { "\($0.field ?? "-"):\($0.code)" })
        #expect(
            found == [
                "prompt:empty_value", "duration:out_of_range", "resolution:invalid_value", "promt:unknown_field",
                "image_urls:too_few_items", "seed:wrong_type", "callback_url:callback_not_allowed",
                "job_id:invalid_job_id",
            ]
        )
        #expect(rejection.summary.hasSuffix("(and 7 more)"))
    }

    @Test func modelFieldIssuesFollowTheFileOrder() throws {
        let rejection = try rejected(minimal(#""watermark":1,"duration":2,"provider":"x""#))
        #expect(rejection.issues.map(\.field) == ["watermark", "duration", "provider"])
    }

    @Test func aSingleIssueSummaryIsTheIssueItself() throws {
        let rejection = try rejected(minimal(#""duration":2"#))
        #expect(rejection.summary == rejection.issues[0].description)
        #expect(rejection.summary.hasPrefix("duration: "))
    }

    // MARK: - What a rejection keeps

    @Test func aRejectionKeepsUsableCallbacksMetadataAndJobID() throws {
        let rejection = try rejected(
            request(
                #""prompt":"","callback_urls":["https://ok.example/hook","http://10.0.0.1/x","ftp://no/","#
                    + #""https://also-ok.example/h?t=1"],"metadata":{"order":"42"},"job_id":"job-7""#
            )
        )
        #expect(rejection.callbackURLs == ["https://ok.example/hook", "https://also-ok.example/h?t=1"])
        #expect(rejection.metadata == (try jsonObject(#"{"order":"42"}"#)))
        #expect(rejection.requestedJobID == JobID("job-7"))
        #expect(rejection.model == seedanceModel)
    }

    @Test func aRejectionForAnUnsupportedModelStillKeepsTheDaemonKeys() throws {
        let rejection = try rejected(
            #"{"model":"x/y","prompt":"p","callback_url":"https://ok.example/h","metadata":{"a":1},"job_id":"j1"}"#
        )
        #expect(rejection.callbackURLs == ["https://ok.example/h"])
        #expect(rejection.metadata?["a"] == .int(1))
        #expect(rejection.requestedJobID?.rawValue == "j1")
        #expect(rejection.model == "x/y")
    }

    @Test func aRejectionDropsUnusableDaemonKeys() throws {
        let rejection = try rejected(
            minimal(#""callback_url":"http://127.0.0.1/h","metadata":"x","job_id":"not valid!""#)
        )
        #expect(rejection.callbackURLs.isEmpty)
        #expect(rejection.metadata == nil)
        #expect(rejection.requestedJobID == nil)
        #expect(rejection.issues.count == 3)
    }

    @Test func anUnparseableFileKeepsNothing() throws {
        let rejection = try rejected(#"{"callback_url":"https://ok.example/h","#)
        #expect(rejection.callbackURLs.isEmpty)
        #expect(rejection.model == nil)
    }

    // MARK: - Options

    @Test(arguments: ["http://127.0.0.1/h", "http://[::1]:8080/h", "http://10.0.0.1/h", "http://192.168.0.5/h"])
    func allowPrivateNetworksAcceptsLiteralPrivateCallbacks(url: String) throws {
        let open = RequestValidator(options: .init(addressPolicy: AddressPolicy(allowPrivateNetworks: true)))
        let request = try accepted(minimal(#""callback_url":"\#(url)""#), validator: open)
        #expect(request.callbackURLs == [url])
    }

    @Test func allowedNetworksOpenOnlyTheirRange() throws {
        let policy = AddressPolicy(allowedNetworks: [CIDR("10.0.0.0/8")!])
        let validator = RequestValidator(options: .init(addressPolicy: policy))
        _ = try accepted(minimal(#""callback_url":"http://10.1.2.3/h""#), validator: validator)
        let rejection = try rejected(minimal(#""callback_url":"http://192.168.1.1/h""#), validator: validator)
        #expect(rejection.issues.map(\.code) == [.callbackNotAllowed])
    }

    @Test func callbackHostnamesAreNotResolvedDuringValidation() throws {
        // Names are checked against the policy when the webhook sender connects, not here.
        let request = try accepted(minimal(#""callback_url":"http://localhost:8080/h""#))
        #expect(request.callbackURLs == ["http://localhost:8080/h"])
    }

    @Test func theMetadataCapCountsCompactBytes() throws {
        let metadata = #"{"k":"v"}"#  // 9 bytes compact
        let roomy = RequestValidator(options: .init(maximumMetadataBytes: 9))
        let tight = RequestValidator(options: .init(maximumMetadataBytes: 8))
        _ = try accepted(minimal(#""metadata":{ "k" : "v" }"#), validator: roomy)
        let issue = try #require(try rejected(minimal(#""metadata":\#(metadata)"#), validator: tight).issues.first)
        #expect(issue.code == .metadataTooLarge)
        #expect(issue.message.contains("9 bytes"))
    }

    @Test func theCallbackURLLimitIsConfigurable() throws {
        let validator = RequestValidator(options: .init(maximumCallbackURLs: 2))
        let issue = try #require(
            try rejected(
                minimal(#""callback_urls":["https://a.example/","https://b.example/","https://c.example/"]"#),
                validator: validator
            ).issues.first
        )
        #expect(issue.code == .tooManyItems)
    }

    @Test func aJobIDOf128CharactersIsAccepted() throws {
        let id = String(repeating: "A", count: 128)
        let request = try accepted(minimal(#""job_id":"\#(id)""#))
        #expect(request.requestedJobID?.rawValue == id)
    }

    // MARK: - ValidationIssue

    @Test func anIssueRendersAsFieldColonMessageAndAsJSON() throws {
        let issue = ValidationIssue(field: "duration", code: .outOfRange, message: "too long")
        #expect(issue.description == "duration: too long")
        #expect(issue.json == .object(try jsonObject(#"{"field":"duration","code":"out_of_range","message":"too long"}"#)))
        let fileIssue = ValidationIssue(field: nil, code: .notAnObject, message: "not an object")
        #expect(fileIssue.description == "not an object")
        #expect(fileIssue.json["field"] == .null)
    }
}

struct RequestValidatorMessageTests {
    @Test func longBase64ValuesAreNotEchoedInMessages() throws {
        let blob = String(repeating: "QUJD", count: 200)
        let bytes = Array(#"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"x","aspect_ratio":"\#(blob)"}"#.utf8)
        guard case .invalid(let rejected) = RequestValidator().validate(bytes) else {
            Issue.record("expected a rejection")
            return
        }
        let message = try #require(rejected.issues.first?.message)
        #expect(!message.contains("QUJDQUJD"))
        #expect(message.contains("800 characters of base64-like data"))
    }
}
