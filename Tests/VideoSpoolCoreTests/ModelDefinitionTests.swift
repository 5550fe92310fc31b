import Testing
import VideoSpoolCore

/// A definition document from a compact description: `definition(#""duration": {"type": "integer"}"#)`.
private func definition(
    _ properties: String,
    required: String = #"["model"]"#,
    extra: String = "",
    model: String = "acme/video-1"
) -> [UInt8] {
    Array(#"{"model": "\#(model)", "required": \#(required), "properties": {\#(properties)}\#(extra)}"#.utf8)
}

private func schema(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> ModelSchema {
    do {
        return try ModelSchema(definition: bytes)
    } catch {
        Issue.record("definition does not load: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

struct BrokenDefinition: Sendable, CustomTestStringConvertible {
    let text: String
    let path: String
    let fragment: String

    var testDescription: String { "\(path): \(fragment)" }
}

private func broken(_ properties: String, _ path: String, _ fragment: String, extra: String = "", required: String = #"["model"]"#)
    -> BrokenDefinition
{
    BrokenDefinition(text: String(decoding: definition(properties, required: required, extra: extra), as: UTF8.self), path: path, fragment: fragment)
}

struct ModelDefinitionTests {
    // MARK: - The seed model is what it was

    /// `bytedance/dreamina-seedance-2-0-mini` exactly as the daemon validated it before definitions
    /// became files (the Swift literal it replaced, field by field).
    static let seedBefore: [ModelSchema.Field] = [
        .init("model", .text(nonEmpty: true, minimumLength: nil, maximumLength: nil)),
        .init("provider", .choice(["bytedance", "fal", "auto"], caseInsensitive: true)),
        .init("prompt", .text(nonEmpty: true, minimumLength: nil, maximumLength: nil)),
        .init("image_url", .media(.image)),
        .init("last_image_url", .media(.image)),
        .init("audio_url", .media(.audio)),
        .init("video_url", .media(.urlOnly)),
        .init("image_urls", .list(.media(.image), count: 1...9)),
        .init("audio_urls", .list(.media(.audioList), count: 1...3)),
        .init("video_urls", .list(.media(.urlOnly), count: 1...3)),
        .init("aspect_ratio", .choice(["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"], caseInsensitive: false)),
        .init("resolution", .choice(["480p", "720p"], caseInsensitive: false)),
        .init("duration", .integer(.init(minimum: 4, maximum: 15, acceptsDigitString: true))),
        .init("generate_audio", .boolean),
        .init("seed", .integer(.init(minimum: -1, maximum: 4_294_967_295))),
        .init("watermark", .boolean),
    ]

    @Test func theSeedModelHasExactlyItsFormerFieldsRequiredKeysAndRules() throws {
        let mini = ModelSchema.seedance20Mini
        #expect(mini.model == "bytedance/dreamina-seedance-2-0-mini")
        #expect(mini.fields.map(\.name) == Self.seedBefore.map(\.name))
        for (field, before) in zip(mini.fields, Self.seedBefore) {
            #expect(field.kind == before.kind, "\(field.name)")
        }
        #expect(mini.required == ["model", "prompt"])
        #expect(
            mini.rules.map(\.condition) == [
                .requiresAnyOf(field: "audio_url", fields: ["image_url", "image_urls", "video_url", "video_urls"]),
                .requiresAnyOf(field: "audio_urls", fields: ["image_urls", "video_urls"]),
            ]
        )
        #expect(mini.rules.allSatisfy { $0.code == .audioWithoutReference })
        #expect(mini.parameterFields == .init(resolution: "resolution", duration: "duration"))
    }

    @Test func theFiveSeedanceModelsAreBuiltIn() {
        #expect(
            ModelCatalog.builtIn.models.map(\.schema.model) == [
                "bytedance/dreamina-seedance-2-0-mini", "bytedance/dreamina-seedance-2-5", "bytedance/seedance-2-0",
                "bytedance/seedance-2-0-fast", "bytedance/seedance-2-5",
            ]
        )
        #expect(ModelCatalog.builtIn.models.allSatisfy { $0.source == .builtIn && !$0.replacesBuiltIn })
        #expect(Set(ModelSchema.supported.keys) == Set(ModelCatalog.builtIn.models.map(\.schema.model)))
    }

    // MARK: - The format

    @Test func everyKindReadsFromItsKeywords() throws {
        let model = try schema(
            definition(
                #"""
                "prompt": {"type": "string", "nonEmpty": true, "maxLength": 2000, "description": "What to show."},
                "negative_prompt": {"type": "string", "minLength": 2},
                "mode": {"type": "string", "enum": ["std", "pro"], "default": "std"},
                "duration": {"type": "integer", "enum": [5, 10], "acceptsString": true, "default": 5},
                "steps": {"type": "integer", "minimum": 1},
                "cfg_scale": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
                "loop": {"type": "boolean", "default": false},
                "mask_url": {"type": "media", "accepts": ["http", "data", "asset"]},
                "clip_url": {"type": "media"},
                "frames": {"type": "array", "maxItems": 4, "items": {"type": "media", "accepts": ["data:image", "data:video"]}},
                "elements": {"type": "array"},
                "camera_control": {"type": "object"},
                "keyframes": {"description": "Passed on as given."}
                """#,
                required: #"["model", "prompt"]"#
            )
        )
        let kinds = Dictionary(uniqueKeysWithValues: model.fields.map { ($0.name, $0.kind) })
        #expect(kinds["prompt"] == .text(nonEmpty: true, minimumLength: nil, maximumLength: 2000))
        #expect(kinds["negative_prompt"] == .text(nonEmpty: false, minimumLength: 2, maximumLength: nil))
        #expect(kinds["mode"] == .choice(["std", "pro"], caseInsensitive: false))
        #expect(kinds["duration"] == .integer(.init(values: [5, 10], acceptsDigitString: true)))
        #expect(kinds["steps"] == .integer(.init(minimum: 1)))
        #expect(kinds["cfg_scale"] == .number(minimum: 0, maximum: 1))
        #expect(kinds["loop"] == .boolean)
        #expect(kinds["mask_url"] == .media(.init(dataTypes: ["*"], allowsAssetID: true)))
        #expect(kinds["clip_url"] == .media(.urlOnly))
        #expect(kinds["frames"] == .list(.media(.init(acceptsHTTP: false, dataTypes: ["image", "video"])), count: 0...4))
        #expect(kinds["elements"] == .list(.any, count: 0...Int(Int32.max)))
        #expect(kinds["camera_control"] == .object)
        #expect(kinds["keyframes"] == .any)
        #expect(model.field(named: "prompt")?.summary == "What to show.")
        #expect(model.field(named: "cfg_scale")?.defaultValue == .double(0.5))
        #expect(model.required == ["model", "prompt"])
        #expect(model.parameterFields == .init(resolution: nil, duration: "duration"))
    }

    @Test func generationParametersNameTheFieldsThatGroupJobs() throws {
        let model = try schema(
            definition(
                #""frame_size": {"type": "string", "enum": ["1280:720", "720:1280"]}, "num_frames": {"type": "integer"}"#,
                extra: #", "generationParameters": {"resolution": "frame_size", "duration": "num_frames"}"#
            )
        )
        #expect(model.parameterFields == .init(resolution: "frame_size", duration: "num_frames"))
        let none = try schema(
            definition(#""resolution": {"type": "string"}"#, extra: #", "generationParameters": {"resolution": null}"#)
        )
        #expect(none.parameterFields == .init(resolution: nil, duration: nil))
    }

    @Test func rulesReadWithTheirDefaultsAndOverrides() throws {
        let model = try schema(
            definition(
                #""a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}"#,
                extra: #"""
                    , "rules": [
                      {"atMostOneOf": ["a", "b"]},
                      {"atLeastOneOf": ["a", "c"], "code": "needs_input", "message": "give a or c"},
                      {"when": "c", "requiresAnyOf": ["b"], "$comment": "c is relative to b"}
                    ]
                    """#
            )
        )
        #expect(model.rules.map(\.condition) == [.atMostOneOf(["a", "b"]), .atLeastOneOf(["a", "c"]), .requiresAnyOf(field: "c", fields: ["b"])])
        #expect(model.rules.map(\.code) == [.conflictingFields, "needs_input", .missingField])
        #expect(model.rules[0].message == "give at most one of 'a' and 'b'")
        #expect(model.rules[1].message == "give a or c")
        #expect(model.rules[2].message == "'c' needs 'b'")
    }

    static let brokenDefinitions: [BrokenDefinition] = [
        BrokenDefinition(text: "", path: "", fragment: "is not valid JSON"),
        BrokenDefinition(text: "[]", path: "", fragment: "must be a JSON object"),
        BrokenDefinition(text: #"{"properties": {}}"#, path: "model", fragment: "is required"),
        BrokenDefinition(text: #"{"model": "a b", "properties": {}}"#, path: "model", fragment: "must be a model id"),
        BrokenDefinition(text: #"{"model": "acme/x"}"#, path: "properties", fragment: "is required"),
        BrokenDefinition(text: #"{"model": "acme/x", "properties": [], "required": []}"#, path: "properties", fragment: "must be an object"),
        BrokenDefinition(text: #"{"model": "acme/x", "propertes": {}}"#, path: "", fragment: "did you mean 'properties'?"),
        broken(#""d": {"type": "integr"}"#, "properties.d.type", "must be one of string, integer"),
        broken(#""d": {"type": "integer", "maximun": 3}"#, "properties.d", "did you mean 'maximum'?"),
        broken(#""d": {"type": "string", "minimum": 3}"#, "properties.d", "'minimum' does not apply to type string"),
        broken(#""d": {"enum": ["a"]}"#, "properties.d", "'enum' needs a 'type'"),
        broken(#""d": {"type": "integer", "minimum": 5, "maximum": 4}"#, "properties.d", "'minimum' is greater than 'maximum'"),
        broken(#""d": {"type": "integer", "minimum": 1.5}"#, "properties.d.minimum", "must be a whole number"),
        broken(#""d": {"type": "integer", "enum": [5, "10"]}"#, "properties.d.enum[1]", "must be a whole number"),
        broken(#""d": {"type": "integer", "enum": [5, 10], "maximum": 8}"#, "properties.d.enum", "10 is outside"),
        broken(#""d": {"type": "string", "enum": []}"#, "properties.d.enum", "non-empty array"),
        broken(#""d": {"type": "string", "enum": ["a", "A"], "caseInsensitive": true}"#, "properties.d.enum[1]", "listed twice"),
        broken(#""d": {"type": "string", "enum": ["a"], "nonEmpty": true}"#, "properties.d", "cannot be combined with 'enum'"),
        broken(#""d": {"type": "string", "caseInsensitive": true}"#, "properties.d.caseInsensitive", "applies only to an 'enum'"),
        broken(#""d": {"type": "media", "accepts": ["ftp"]}"#, "properties.d.accepts[0]", "is not \"http\""),
        broken(#""d": {"type": "media", "accepts": ["data:Image"]}"#, "properties.d.accepts[0]", "lowercase media type"),
        broken(#""d": {"type": "media", "accepts": []}"#, "properties.d.accepts", "non-empty array"),
        broken(#""d": {"type": "array", "minItems": 3, "maxItems": 2}"#, "properties.d", "'minItems' is greater than 'maxItems'"),
        broken(#""d": {"type": "array", "minItems": -1}"#, "properties.d.minItems", "from 0"),
        broken(#""d": {"type": "array", "items": {"type": "media", "default": "x"}}"#, "properties.d.items.default", "belongs on the array"),
        broken(#""d": {"type": "integer", "minimum": 4, "default": 3}"#, "properties.d.default", "must be at least 4"),
        broken(#""d": {"type": "string", "enum": ["a", "b"], "default": "c"}"#, "properties.d.default", "must be one of a, b"),
        broken(#""d": "integer""#, "properties.d", "must be an object"),
        broken(#""model": {"type": "string"}"#, "properties.model", "is implied"),
        broken(#""callback_url": {"type": "media"}"#, "properties.callback_url", "daemon's own keys"),
        broken(#""bad name": {"type": "string"}"#, "properties.bad name", "not a usable field name"),
        broken(#""prompt": {"type": "string"}"#, "required[1]", "did you mean 'prompt'?", required: #"["model", "promt"]"#),
        broken(#""a": {}"#, "required", "must be an array", required: #""a""#),
        broken(#""a": {}"#, "rules[0]", "exactly one of", extra: #", "rules": [{"when": "a"}]"#),
        broken(#""a": {}, "b": {}"#, "rules[0].when", "is required with requiresAnyOf", extra: #", "rules": [{"requiresAnyOf": ["b"]}]"#),
        broken(#""a": {}"#, "rules[0].atMostOneOf", "at least 2 field names", extra: #", "rules": [{"atMostOneOf": ["a"]}]"#),
        broken(#""a": {}"#, "rules[0].atLeastOneOf[1]", "is not one of the fields", extra: #", "rules": [{"atLeastOneOf": ["a", "z"]}]"#),
        broken(#""a": {}"#, "rules[0].code", "snake_case", extra: #", "rules": [{"atLeastOneOf": ["a"], "code": "Bad Code"}]"#),
        broken(#""a": {}"#, "rules[0].when", "applies only to requiresAnyOf", extra: #", "rules": [{"atLeastOneOf": ["a"], "when": "a"}]"#),
        broken(#""a": {"type": "boolean"}"#, "generationParameters.duration", "must be an integer field", extra: #", "generationParameters": {"duration": "a"}"#),
        broken(#""a": {"type": "string"}"#, "generationParameters.resolution", "is not one of the fields", extra: #", "generationParameters": {"resolution": "b"}"#),
    ]

    @Test(arguments: ModelDefinitionTests.brokenDefinitions)
    func aBrokenDefinitionIsRefusedNamingWhereAndWhy(broken: BrokenDefinition) {
        let error = #expect(throws: ModelDefinitionError.self) { try ModelSchema(definition: Array(broken.text.utf8)) }
        #expect(error?.path == broken.path, "\(String(describing: error))")
        #expect(error?.message.contains(broken.fragment) == true, "\(String(describing: error))")
    }

    @Test func commentsAreAllowedWhereverKeywordsAre() throws {
        let model = try schema(
            definition(#""a": {"type": "string", "$comment": "why"}"#, extra: #", "$comment": "from the vendor's docs""#)
        )
        #expect(model.field(named: "a")?.kind == .text(nonEmpty: false, minimumLength: nil, maximumLength: nil))
    }

    // MARK: - The catalog

    @Test func aFileRedefinesABuiltInModelButTwoFilesMayNotDefineOne() throws {
        var catalog = ModelCatalog.builtIn
        let mine = try schema(definition(#""prompt": {"type": "string"}"#, model: "bytedance/seedance-2-0"))
        try catalog.add(mine, source: .file("/etc/videospool/models.d/seedance.json"))
        #expect(catalog.entry(for: "bytedance/seedance-2-0")?.replacesBuiltIn == true)
        #expect(catalog["bytedance/seedance-2-0"]?.fields.count == 2)
        let error = #expect(throws: ModelDefinitionError.self) {
            try catalog.add(mine, source: .file("/etc/videospool/models.d/other.json"))
        }
        #expect(error?.message.contains("/etc/videospool/models.d/seedance.json") == true)
        #expect(catalog.count == ModelCatalog.builtIn.count)
    }

    @Test func onlyListedModelsHaveTheirOwnMetricsLabel() throws {
        var catalog = ModelCatalog.builtIn
        try catalog.add(try schema(definition(#""prompt": {"type": "string"}"#)), source: .file("/x/acme.json"))
        #expect(catalog.isListed("acme/video-1"))
        #expect(catalog.metricsLabel(for: "acme/video-1") == "acme/video-1")
        #expect(catalog.metricsLabel(for: "bytedance/seedance-2-0") == "bytedance/seedance-2-0")
        #expect(!catalog.isListed("openai/sora-2"))
        #expect(catalog.metricsLabel(for: "openai/sora-2") == ModelCatalog.unlistedLabel)
        #expect(catalog.metricsLabel(for: "") == "unlisted")
    }
}
