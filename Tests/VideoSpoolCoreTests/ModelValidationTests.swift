import Testing
import VideoSpoolCore

/// The validator working from definitions other than the seed model's: every kind and rule of the
/// format, messages that name the model's own limits, and `models.allow_unlisted`.
struct ModelValidationTests {
    /// A model using every kind and rule of the format.
    static let acme: ModelSchema = {
        let text = #"""
            {
              "model": "acme/video-1",
              "required": ["model"],
              "properties": {
                "prompt": {"type": "string", "maxLength": 10},
                "multi_prompt": {"type": "array", "maxItems": 2},
                "mode": {"type": "string", "enum": ["std", "pro"]},
                "duration": {"type": "integer", "enum": [5, 10], "acceptsString": true},
                "cfg_scale": {"type": "number", "minimum": 0, "maximum": 1},
                "image_url": {"type": "media", "accepts": ["http", "data:image"]},
                "mask": {"type": "media", "accepts": ["data:image"]},
                "camera_control": {"type": "object"},
                "keyframes": {},
                "frame_size": {"type": "string", "enum": ["1280:720", "720:1280"]},
                "tail_image_url": {"type": "media"}
              },
              "rules": [
                {"atLeastOneOf": ["prompt", "multi_prompt"]},
                {"atMostOneOf": ["prompt", "multi_prompt"]},
                {"when": "tail_image_url", "requiresAnyOf": ["image_url"]}
              ],
              "generationParameters": {"resolution": "frame_size"}
            }
            """#
        return try! ModelSchema(definition: Array(text.utf8))
    }()

    static let catalog: ModelCatalog = {
        var catalog = ModelCatalog.builtIn
        try! catalog.add(acme, source: .file("/etc/videospool/models.d/acme.json"))
        return catalog
    }()

    private func outcome(_ text: String, allowUnlisted: Bool = false) -> ValidationOutcome {
        RequestValidator(options: .init(models: Self.catalog, allowUnlistedModels: allowUnlisted)).validate(Array(text.utf8))
    }

    private func accepted(_ text: String, allowUnlisted: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> ValidatedRequest
    {
        guard case .valid(let request) = outcome(text, allowUnlisted: allowUnlisted) else {
            Issue.record("expected valid: \(outcome(text, allowUnlisted: allowUnlisted))", sourceLocation: sourceLocation)
            throw Rejected()
        }
        return request
    }

    private func issues(_ text: String, allowUnlisted: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> [ValidationIssue]
    {
        guard case .invalid(let rejected) = outcome(text, allowUnlisted: allowUnlisted) else {
            Issue.record("expected a rejection", sourceLocation: sourceLocation)
            throw Rejected()
        }
        return rejected.issues
    }

    private struct Rejected: Error {}

    // MARK: - Kinds and rules from a definition file

    @Test func aRequestThatKeepsEveryRuleIsSentNormalized() throws {
        let request = try accepted(
            #"{"model":"acme/video-1","prompt":"a cat","mode":"pro","duration":"10","cfg_scale":0.25,"#
                + #""image_url":"https://e.com/a.png","tail_image_url":"https://e.com/b.png","mask":"data:image/png;base64,AAAA","#
                + #""camera_control":{"pan":1},"keyframes":[1,"two",{"3":null}],"frame_size":"720:1280"}"#
        )
        #expect(request.upstreamBody["duration"] == .int(10))
        #expect(request.upstreamBody["keyframes"] == (try json(#"[1,"two",{"3":null}]"#)))
        #expect(request.isListed)
        #expect(request.parameters == GenerationParameters(resolution: "720:1280", durationSeconds: 10))
    }

    @Test(arguments: [
        (#""duration":7"#, "duration", "invalid_value", "must be one of 5, 10 for acme/video-1 (got 7)"),
        (#""duration":"7""#, "duration", "invalid_value", "must be one of 5, 10 for acme/video-1"),
        (#""cfg_scale":1.5"#, "cfg_scale", "out_of_range", "must be between 0 and 1 for acme/video-1 (got 1.5)"),
        (#""cfg_scale":"0.5""#, "cfg_scale", "wrong_type", "must be a number"),
        (#""mode":"max""#, "mode", "invalid_value", "must be one of std, pro for acme/video-1"),
        (#""mask":"https://e.com/m.png""#, "mask", "unsupported_scheme", "does not take http(s) URLs for acme/video-1"),
        (#""mask":"data:video/mp4;base64,AAAA""#, "mask", "invalid_value", "must be a data:image/… URI for acme/video-1"),
        (#""tail_image_url":"data:image/png;base64,AAAA","image_url":"https://e.com/a.png""#, "tail_image_url", "unsupported_scheme", "base64 data is not accepted here for acme/video-1"),
        (#""camera_control":[1]"#, "camera_control", "wrong_type", "must be a JSON object"),
        (#""watermark":true"#, "watermark", "unknown_field", "unknown field 'watermark' for acme/video-1; other models take it"),
    ])
    func aValueOutsideTheModelsLimitsIsRejectedNamingThem(extra: String, field: String, code: String, fragment: String) throws {
        let found = try issues(#"{"model":"acme/video-1","prompt":"p",\#(extra)}"#)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.field == field)
        #expect(found.first?.code.description == code)
        #expect(found.first?.message.contains(fragment) == true, "\(found.first?.message ?? "")")
    }

    @Test func textLengthCountsCharactersNotBytes() throws {
        _ = try accepted(#"{"model":"acme/video-1","prompt":"éééééééééé"}"#)
        let found = try issues(#"{"model":"acme/video-1","prompt":"éééééééééé!"}"#)
        #expect(found.map(\.code) == [.outOfRange])
        #expect(found.first?.message.contains("at most 10 characters for acme/video-1 (got 11)") == true)
    }

    @Test func atLeastOneOfNeedsOneOfItsFields() throws {
        let found = try issues(#"{"model":"acme/video-1","mode":"std"}"#)
        #expect(found.map(\.code) == [.missingField])
        #expect(found.first?.field == "prompt")
        #expect(found.first?.message == "give at least one of 'prompt' or 'multi_prompt'")
        _ = try accepted(#"{"model":"acme/video-1","multi_prompt":["a","b"]}"#)
    }

    @Test func atMostOneOfRefusesTwoAndCountsNullAsAbsent() throws {
        let found = try issues(#"{"model":"acme/video-1","prompt":"a","multi_prompt":["b"]}"#)
        #expect(found.map(\.code) == [.conflictingFields])
        #expect(found.first?.field == "multi_prompt")
        _ = try accepted(#"{"model":"acme/video-1","prompt":"a","multi_prompt":null}"#)
    }

    @Test func requiresAnyOfNeedsOneOfTheOthers() throws {
        let found = try issues(#"{"model":"acme/video-1","prompt":"a","tail_image_url":"https://e.com/b.png"}"#)
        #expect(found.map(\.code) == [.missingField])
        #expect(found.first?.field == "tail_image_url")
        #expect(found.first?.message == "'tail_image_url' needs 'image_url'")
    }

    @Test func aListOfUntypedItemsOnlyCountsThem() throws {
        _ = try accepted(#"{"model":"acme/video-1","multi_prompt":[{"prompt":"a"},7]}"#)
        let found = try issues(#"{"model":"acme/video-1","multi_prompt":[1,2,3]}"#)
        #expect(found.map(\.code) == [.tooManyItems])
        #expect(found.first?.message.contains("at most 2 are allowed for acme/video-1") == true)
    }

    // MARK: - The built-in family's own limits

    @Test func rejectionsNameTheModelsOwnLimits() throws {
        let resolution = try issues(#"{"model":"bytedance/seedance-2-0","prompt":"p","resolution":"8k"}"#)
        #expect(resolution.first?.message.hasPrefix("'resolution' must be one of 480p, 720p, 1080p, 4k for bytedance/seedance-2-0") == true)
        let duration = try issues(#"{"model":"bytedance/seedance-2-5","prompt":"p","duration":31}"#)
        #expect(duration.first?.message == "'duration' must be between 4 and 30 for bytedance/seedance-2-5 (got 31)")
        let provider = try issues(#"{"model":"bytedance/dreamina-seedance-2-5","prompt":"p","provider":"fal"}"#)
        #expect(provider.first?.message.contains("must be one of bytedance, auto for bytedance/dreamina-seedance-2-5") == true)
        let watermark = try issues(#"{"model":"bytedance/seedance-2-0-fast","prompt":"p","watermark":false}"#)
        #expect(watermark.first?.code == .unknownField)
        #expect(watermark.first?.message.contains("for bytedance/seedance-2-0-fast") == true)
    }

    @Test func aMistypedModelIdGetsASuggestion() throws {
        let found = try issues(#"{"model":"bytedance/seedance-2.0","prompt":"p"}"#)
        #expect(found.first?.code == .unsupportedModel)
        #expect(found.first?.message.contains("did you mean 'bytedance/seedance-2-0'?") == true)
    }

    // MARK: - models.allow_unlisted

    @Test func anUnlistedModelIsRejectedUnlessAllowed() throws {
        let text = #"{"model":"openai/sora-2-t2v","prompt":"p","duration":4}"#
        #expect(try issues(text).map(\.code) == [.unsupportedModel])
        let request = try accepted(text, allowUnlisted: true)
        #expect(!request.isListed)
        #expect(request.model == "openai/sora-2-t2v")
    }

    @Test func anUnlistedModelGetsOnlyTheGenericChecksAndIsSentAsWritten() throws {
        let request = try accepted(
            #"{"model":"kling/v9","duration":"5","resolution":"1080P","made_up":{"x":[1]},"seed":null,"#
                + #""image_url":"data:image/png;base64,AAAA","audio_url":"asset://voice-1","video_urls":["https://e.com/v.mp4"],"#
                + #""callback_url":"https://hooks.example.com/h","metadata":{"a":1},"job_id":"j-1"}"#,
            allowUnlisted: true
        )
        #expect(
            request.upstreamBody
                == (try jsonObject(
                    #"{"model":"kling/v9","duration":"5","resolution":"1080P","made_up":{"x":[1]},"#
                        + #""image_url":"data:image/png;base64,AAAA","audio_url":"asset://voice-1","video_urls":["https://e.com/v.mp4"]}"#
                ))
        )
        #expect(request.parameters == GenerationParameters(resolution: "1080P", durationSeconds: 5))
        #expect(request.callbackURLs == ["https://hooks.example.com/h"])
        #expect(request.requestedJobID?.rawValue == "j-1")
    }

    @Test(arguments: [
        (#""image_url":"not a url""#, "image_url", ValidationIssue.Code.invalidURL),
        (#""image_url":"ftp://e.com/a.png""#, "image_url", .unsupportedScheme),
        (#""image_url":"data:image/png;base64,!!""#, "image_url", .invalidBase64),
        (#""image_url":5"#, "image_url", .wrongType),
        (#""image_urls":"https://e.com/a.png""#, "image_urls", .wrongType),
        (#""image_urls":["https://e.com/a.png","javascript:alert(1)"]"#, "image_urls[1]", .unsupportedScheme),
        (#""callback_url":"http://10.0.0.1/h""#, "callback_url", .callbackNotAllowed),
        (#""metadata":{"blob":"\#(String(repeating: "x", count: 16 * 1024))"}"#, "metadata", .metadataTooLarge),
    ])
    func anUnlistedModelStillGetsWellFormedURLsAndTheDaemonsLimits(extra: String, field: String, code: ValidationIssue.Code) throws {
        let found = try issues(#"{"model":"kling/v9",\#(extra)}"#, allowUnlisted: true)
        #expect(found.map(\.code) == [code])
        #expect(found.first?.field == field)
    }

    @Test func allowingUnlistedModelsLoosensNeitherListedModelsNorTheModelKey() throws {
        let listed = try issues(#"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"p","resolution":"1080p"}"#, allowUnlisted: true)
        #expect(listed.map(\.code) == [.invalidValue])
        #expect(try issues(#"{"model":"","prompt":"p"}"#, allowUnlisted: true).map(\.code) == [.unsupportedModel])
        #expect(try issues(#"{"model":42}"#, allowUnlisted: true).map(\.code) == [.wrongType])
        #expect(try issues(#"{"prompt":"p"}"#, allowUnlisted: true).map(\.code) == [.missingField])
    }
}
