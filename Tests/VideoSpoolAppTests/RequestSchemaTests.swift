import Foundation
import Testing
import VideoSpoolCore

/// `etc/videospool/request.schema.json` is for editors; the validator is the authority. These tests
/// keep the two equal: the schema's fields, enums, ranges and counts are compared with
/// ``ModelSchema`` and ``RequestValidator``, and an independent implementation (Python
/// `jsonschema`) checks the bad-input corpus and valid examples against the schema.
@Suite(.timeLimit(.minutes(1)))
struct RequestSchemaTests {
    static let path = packageRoot + "/etc/videospool/request.schema.json"
    static let model = ModelSchema.seedance20Mini

    static func schema() throws -> JSONValue {
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

    @Test func theSchemaHasExactlyTheValidatorsFieldsRequiredKeysAndModels() throws {
        let schema = try Self.schema()
        let properties = try #require(schema["properties"]?.objectValue)
        #expect(Set(properties.keys) == Set(Self.model.fields.map(\.name) + RequestValidator.daemonKeys))
        let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        #expect(required == Self.model.required)
        #expect(schema["additionalProperties"] == .bool(false))
        let models = (properties["model"]?["enum"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(Set(models) == Set(ModelSchema.supported.keys))
        for name in required {
            #expect(properties[name]?["anyOf"] == nil, "'\(name)' is required, so null is not accepted")
        }
    }

    @Test func everyFieldHasTheValidatorsEnumsRangesAndCounts() throws {
        let schema = try Self.schema()
        for field in Self.model.fields where field.name != "model" {
            let property = schema["properties"]?[field.name]
            let accepted = try #require(Self.branch(property), "\(field.name)")
            switch field.kind {
            case .text:
                #expect(accepted["type"] == .string("string"), "\(field.name)")
            case .choice(let choices, let caseInsensitive):
                if caseInsensitive {
                    let pattern = try #require(accepted["pattern"]?.stringValue)
                    for choice in choices {
                        #expect(try Self.matches(pattern, choice) && Self.matches(pattern, choice.uppercased()))
                    }
                    #expect(try !Self.matches(pattern, "x" + choices[0]))
                } else {
                    #expect(accepted["enum"]?.arrayValue?.compactMap(\.stringValue) == choices, "\(field.name)")
                }
            case .integer(let range, let acceptsDigitString):
                #expect(accepted["type"] == .string("integer"))
                #expect(accepted["minimum"]?.numberValue?.int64Value == range.lowerBound, "\(field.name)")
                #expect(accepted["maximum"]?.numberValue?.int64Value == range.upperBound, "\(field.name)")
                let digitString = property?["anyOf"]?.arrayValue?.first { $0["type"] == .string("string") }
                #expect((digitString != nil) == acceptsDigitString, "\(field.name)")
                if let pattern = digitString?["pattern"]?.stringValue {
                    for value in (range.lowerBound - 20)...(range.upperBound + 20) {
                        #expect(try Self.matches(pattern, String(value)) == (value >= 0 && range.contains(value)), "\(value)")
                    }
                }
            case .boolean:
                #expect(accepted["type"] == .string("boolean"), "\(field.name)")
            case .media(let rule):
                #expect(accepted["$ref"] == .string(Self.reference(rule, single: true)), "\(field.name)")
            case .mediaList(let rule, let count):
                #expect(accepted["minItems"]?.numberValue?.int64Value == Int64(count.lowerBound), "\(field.name)")
                #expect(accepted["maxItems"]?.numberValue?.int64Value == Int64(count.upperBound), "\(field.name)")
                #expect(accepted["items"]?["$ref"] == .string(Self.reference(rule, single: false)), "\(field.name)")
            }
        }
        let callbacks = Self.branch(schema["properties"]?["callback_urls"])
        #expect(callbacks?["maxItems"]?.numberValue?.int64Value == Int64(RequestValidator.Options().maximumCallbackURLs))
        let jobID = try #require(Self.branch(schema["properties"]?["job_id"])?["pattern"]?.stringValue)
        for sample in ["order-17", "a", String(repeating: "x", count: 128), String(repeating: "x", count: 129), "", "../x", "a b", "é"] {
            #expect(try Self.matches(jobID, sample) == JobID.isValid(sample), "'\(sample)'")
        }
    }

    private static func reference(_ rule: ModelSchema.MediaRule, single: Bool) -> String {
        switch (rule.dataType, rule.allowsAssetID) {
        case ("image"?, _): "#/$defs/imageReference"
        case ("audio"?, true): "#/$defs/audioReference"
        case ("audio"?, false): "#/$defs/audioListReference"
        default: "#/$defs/httpURL"
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
