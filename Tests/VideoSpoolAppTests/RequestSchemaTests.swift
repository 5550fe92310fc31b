import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore

/// The JSON Schemas in `etc/videospool/` are for editors; the validator is the authority. These
/// tests keep the two equal: each model's schema (`schemas/<model>.schema.json`) has its
/// definition's fields, enums, ranges and counts, the combined `request.schema.json` selects them
/// by `model`, and an independent implementation (Python `jsonschema`) checks the bad-input corpus,
/// valid examples and the built-in models' table against them.
@Suite(.timeLimit(.minutes(1)))
struct RequestSchemaTests {
    static let path = packageRoot + "/etc/videospool/request.schema.json"
    static let models = ModelCatalog.builtIn.models.map(\.schema)

    static func schemaPath(_ model: String) -> String {
        packageRoot + "/etc/videospool/schemas/" + RequestJSONSchema.fileStem(for: model) + ".schema.json"
    }

    static func schema(at path: String = path) throws -> JSONValue {
        try JSONParser().parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    /// The first `anyOf` branch that is not `{"type": "null"}`, or the property itself.
    static func branch(_ property: JSONValue?) -> JSONValue? {
        property?["anyOf"]?.arrayValue?.first { $0["type"] != .string("null") } ?? property
    }

    static func matches(_ pattern: String, _ text: String) throws -> Bool {
        let regex = try NSRegularExpression(pattern: pattern)
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// Whether `sample` (a string) matches `schema`, for the subset the media definitions use:
    /// `$ref` into `$defs`, `anyOf`, and string patterns.
    static func accepts(_ schema: JSONValue, _ sample: String, root: JSONValue) throws -> Bool {
        if let reference = schema["$ref"]?.stringValue {
            let name = String(reference.dropFirst("#/$defs/".count))
            let target = try #require(root["$defs"]?[name], "\(reference) is not defined")
            return try accepts(target, sample, root: root)
        }
        if let alternatives = schema["anyOf"]?.arrayValue {
            return try alternatives.contains { try accepts($0, sample, root: root) }
        }
        guard schema["type"] == .string("string"), let pattern = schema["pattern"]?.stringValue else { return false }
        return try matches(pattern, sample)
    }

    @Test(arguments: RequestSchemaTests.models.map(\.model))
    func eachModelsSchemaHasExactlyItsFieldsRequiredKeysAndModel(model: String) throws {
        let definition = try #require(ModelCatalog.builtIn[model])
        let schema = try Self.schema(at: Self.schemaPath(model))
        let properties = try #require(schema["properties"]?.objectValue)
        #expect(Set(properties.keys) == Set(definition.fields.map(\.name) + RequestValidator.daemonKeys))
        let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        #expect(required == definition.required)
        #expect(schema["additionalProperties"] == .bool(false))
        #expect(properties["model"]?["const"] == .string(model))
        for name in required {
            #expect(properties[name]?["anyOf"] == nil, "'\(name)' is required, so null is not accepted")
        }
    }

    @Test func theCombinedSchemaSelectsEachModelsOwnSchemaByModel() throws {
        let schema = try Self.schema()
        let models = (schema["properties"]?["model"]?["enum"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(Set(models) == Set(ModelSchema.supported.keys))
        #expect(schema["required"] == .array([.string("model")]))
        let branches = try #require(schema["allOf"]?.arrayValue)
        #expect(branches.count == models.count)
        for branch in branches {
            let model = try #require(branch["if"]?["properties"]?["model"]?["const"]?.stringValue)
            let own = try Self.schema(at: Self.schemaPath(model))
            for key in ["type", "required", "additionalProperties", "properties", "allOf"] {
                #expect(branch["then"]?[key] == own[key], "\(model): '\(key)' differs from its own schema")
            }
        }
    }

    @Test(arguments: RequestSchemaTests.models.map(\.model))
    func everyFieldHasTheValidatorsEnumsRangesAndCounts(model: String) throws {
        let definition = try #require(ModelCatalog.builtIn[model])
        let schema = try Self.schema(at: Self.schemaPath(model))
        for field in definition.fields where field.name != "model" {
            let property = schema["properties"]?[field.name]
            let accepted = try #require(Self.branch(property), "\(field.name)")
            #expect(property?["default"] == field.defaultValue, "\(field.name)")
            switch field.kind {
            case .text(let nonEmpty, _, _):
                #expect(accepted["type"] == .string("string"), "\(field.name)")
                #expect((accepted["pattern"] == .string("\\S")) == nonEmpty, "\(field.name)")
            case .choice(let choices, let caseInsensitive):
                if caseInsensitive {
                    let pattern = try #require(accepted["pattern"]?.stringValue)
                    for choice in choices {
                        #expect(try Self.matches(pattern, choice) && Self.matches(pattern, choice.uppercased()))
                    }
                    #expect(try !Self.matches(pattern, "x" + choices[0]))
                    for other in ["bytedance", "fal", "auto"] where !choices.contains(other) {
                        #expect(try !Self.matches(pattern, other), "\(model): \(field.name) accepts \(other)")
                    }
                } else {
                    #expect(accepted["enum"]?.arrayValue?.compactMap(\.stringValue) == choices, "\(field.name)")
                }
            case .integer(let rule):
                let range = try #require(rule.minimum.flatMap { low in rule.maximum.map { low...$0 } }, "\(field.name)")
                #expect(accepted["type"] == .string("integer"))
                #expect(accepted["minimum"]?.numberValue?.int64Value == range.lowerBound, "\(field.name)")
                #expect(accepted["maximum"]?.numberValue?.int64Value == range.upperBound, "\(field.name)")
                let digitString = property?["anyOf"]?.arrayValue?.first { $0["type"] == .string("string") }
                #expect((digitString != nil) == rule.acceptsDigitString, "\(field.name)")
                if let pattern = digitString?["pattern"]?.stringValue {
                    for value in (range.lowerBound - 20)...(range.upperBound + 20) {
                        #expect(try Self.matches(pattern, String(value)) == (value >= 0 && range.contains(value)), "\(value)")
                    }
                }
            case .boolean:
                #expect(accepted["type"] == .string("boolean"), "\(field.name)")
            case .media(let rule):
                try Self.expectMediaSchema(accepted, accepts: rule, root: schema, field: field.name)
            case .list(.media(let rule), let count):
                #expect(accepted["minItems"]?.numberValue?.int64Value == Int64(count.lowerBound), "\(field.name)")
                #expect(accepted["maxItems"]?.numberValue?.int64Value == Int64(count.upperBound), "\(field.name)")
                try Self.expectMediaSchema(try #require(accepted["items"]), accepts: rule, root: schema, field: field.name)
            default:
                Issue.record("\(model): \(field.name) is of a kind the built-in models do not use")
            }
        }
        let callbacks = Self.branch(schema["properties"]?["callback_urls"])
        #expect(callbacks?["maxItems"]?.numberValue?.int64Value == Int64(RequestValidator.Options().maximumCallbackURLs))
        let jobID = try #require(Self.branch(schema["properties"]?["job_id"])?["pattern"]?.stringValue)
        for sample in ["order-17", "a", String(repeating: "x", count: 128), String(repeating: "x", count: 129), "", "../x", "a b", "é"] {
            #expect(try Self.matches(jobID, sample) == JobID.isValid(sample), "'\(sample)'")
        }
    }

    /// The reference kinds a media property's schema matches are the ones its rule accepts.
    static func expectMediaSchema(_ schema: JSONValue, accepts rule: ModelSchema.MediaRule, root: JSONValue, field: String) throws {
        let samples: [(String, Bool)] = [
            ("https://e.com/a.png", rule.acceptsHTTP),
            ("data:image/png;base64,iVBORw0KGgo=", rule.dataTypes.contains("image")),
            ("data:audio/mpeg;base64,SUQzBAAA", rule.dataTypes.contains("audio")),
            ("data:video/mp4;base64,AAAAIGZ0eXA=", rule.dataTypes.contains("video")),
            ("asset://voice-1", rule.allowsAssetID),
            ("ftp://e.com/a.png", false),
        ]
        for (sample, expected) in samples {
            #expect(try accepts(schema, sample, root: root) == expected, "\(field): \(sample)")
        }
    }

    /// Codes the schema cannot express: the JSON text itself, data the schema does not decode, and
    /// policy from the configuration.
    static let beyondTheSchema: Set<String> = [
        "duplicate_key", "too_deeply_nested", "invalid_base64", "callback_not_allowed", "metadata_too_large",
    ]

    /// Fixtures the schema accepts for a reason other than their code.
    static let beyondTheSchemaFiles: Set<String> = [
        // JSON Schema's "integer" includes 5.0; the validator wants a whole number written as one.
        "duration-float-whole.json",
        // Rules on the JSON text: NUL is refused anywhere, even escaped; Python's json module
        // accepts a lone surrogate escape, which is not Unicode text.
        "nul-escape-in-string.json", "invalid-json-lone-surrogate-escape.json",
    ]

    /// Python's `jsonschema` (installed by `make deps`), not our code, applies the schema.
    @Test func anIndependentValidatorAcceptsValidRequestsAndRejectsTheCorpus() async throws {
        try await withTemporaryDirectory { root in
            let valid = [
                #"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "A hedgehog", "image_url": "https://example.com/a.jpg", "duration": 5, "resolution": "720p", "aspect_ratio": "16:9", "callback_url": "https://hooks.example.com/v", "metadata": {"order": 17}, "job_id": "order-17"}"#,
                #"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "p", "duration": "15", "provider": "FAL", "seed": -1, "watermark": false, "generate_audio": true, "job_id": null}"#,
                #"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "p", "audio_url": "asset://abc", "video_url": "http://example.com/v.mp4"}"#,
                #"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "p", "image_urls": ["data:image/png;base64,iVBORw0KGgo="], "audio_urls": ["https://example.com/a.mp3"], "callback_urls": ["https://a.example/x"]}"#,
            ]
            var paths: [String] = []
            for (index, text) in valid.enumerated() {
                let path = root + "/valid-\(index).json"
                try write(text, to: path)
                #expect(RequestValidator().validate(Array(text.utf8)).isValid, "the validator agrees: \(text)")
                paths.append(path)
            }
            let script = """
                import json, sys
                from jsonschema import Draft202012Validator
                schema = json.load(open(sys.argv[1]))
                Draft202012Validator.check_schema(schema)
                validator = Draft202012Validator(schema)
                verdicts = {}
                for path in sys.argv[2:]:
                    try:
                        document = json.loads(open(path, 'rb').read().decode('utf-8'), parse_constant=lambda c: 1 / 0)
                    except Exception:
                        verdicts[path] = False
                        continue
                    verdicts[path] = validator.is_valid(document)
                print(json.dumps(verdicts))
                """
            let expectations = try BadInputCorpusTests.corpus()
            let corpus = expectations.map { BadInputCorpusTests.fixtures + "/" + $0.file }
            let output = try Self.python(script, arguments: [Self.path] + paths + corpus, directory: root)
            let verdicts = try #require(try JSONParser().parse(output).objectValue, "\(output)")
            for path in paths { #expect(verdicts[path] == .bool(true), "schema rejects a valid request: \(path)") }
            for (expectation, path) in zip(expectations, corpus) where verdicts[path] == .bool(true) {
                #expect(
                    Self.beyondTheSchema.contains(expectation.code) || Self.beyondTheSchemaFiles.contains(expectation.file),
                    "the schema accepts \(expectation)"
                )
            }
        }
    }

    /// The built-in models' table (ModelCase: valid and invalid requests at each limit) through each
    /// model's own schema and through the combined one: Python's verdicts must be the table's.
    @Test func anIndependentValidatorAgreesWithTheBuiltInModelsTable() async throws {
        try await withTemporaryDirectory { root in
            var checks: [JSONValue] = []
            for (index, modelCase) in ModelCase.all.enumerated() {
                let file = root + "/case-\(index).json"
                try write(modelCase.request, to: file)
                for schema in [Self.schemaPath(modelCase.model), Self.path] {
                    checks.append(.object(JSONObject(["schema": .string(schema), "file": .string(file)])))
                }
            }
            try write(JSONWriter().string(.array(checks)), to: root + "/checks.json")
            let script = """
                import json, sys
                from jsonschema import Draft202012Validator
                validators = {}
                verdicts = []
                for check in json.load(open(sys.argv[1])):
                    if check["schema"] not in validators:
                        schema = json.load(open(check["schema"]))
                        Draft202012Validator.check_schema(schema)
                        validators[check["schema"]] = Draft202012Validator(schema)
                    verdicts.append(validators[check["schema"]].is_valid(json.load(open(check["file"]))))
                print(json.dumps(verdicts))
                """
            let output = try Self.python(script, arguments: [root + "/checks.json"], directory: root)
            let verdicts = try #require(try JSONParser().parse(output).arrayValue, "\(output)")
            try #require(verdicts.count == checks.count)
            for (index, modelCase) in ModelCase.all.enumerated() {
                #expect(verdicts[2 * index] == .bool(modelCase.isValid), "\(modelCase.model) schema: \(modelCase.name)")
                #expect(verdicts[2 * index + 1] == .bool(modelCase.isValid), "request.schema.json: \(modelCase.testDescription)")
            }
        }
    }

    static func python(_ script: String, arguments: [String], directory: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        var environment = ProcessInfo.processInfo.environment
        let pythonPath = environment["VIDEOSPOOL_PYTHONPATH"] ?? packageRoot + "/.cache/python"
        environment["PYTHONPATH"] = pythonPath
        process.environment = environment
        let outPath = directory + "/python.out"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "python3 jsonschema failed (run `make deps`?): \(errorText)")
        return try String(contentsOfFile: outPath, encoding: .utf8)
    }
}

extension ValidationOutcome {
    var isValid: Bool {
        if case .valid = self { return true }
        return false
    }
}
