public import VideoSpoolCore

/// JSON Schemas (draft 2020-12) for editors, generated from model definitions: one per model, and
/// a combined one that selects by `model` (`etc/videospool/request.schema.json`).
///
/// The validator stays the authority. Beyond these schemas it also checks duplicate keys, base64
/// data, callback addresses and the metadata size; and JSON Schema's `integer` includes `5.0`.
public enum RequestJSONSchema {
    static let dialect = "https://json-schema.org/draft/2020-12/schema"

    /// The schema of one model's request files.
    public static func document(for schema: ModelSchema, options: RequestValidator.Options = .init()) -> JSONValue {
        var definitions = Definitions()
        let body = requestSchema(schema, options: options, definitions: &definitions)
        var document = JSONObject([
            "$schema": .string(dialect),
            "$id": .string("urn:videospool:model:\(schema.model)"),
            "title": .string("videospool request for \(schema.model)"),
            "description": .string(((schema.summary ?? schema.title).map { $0 + " " } ?? "") + generatedNote),
        ])
        for (key, value) in body { document[key] = value }
        document["$defs"] = definitions.json
        return .object(document)
    }

    /// One schema for every model in `catalog`: `model` picks the model's own rules.
    public static func combined(_ catalog: ModelCatalog, options: RequestValidator.Options = .init()) -> JSONValue {
        var definitions = Definitions()
        let models = catalog.models.map(\.schema)
        var branches: [JSONValue] = []
        for schema in models {
            let body = requestSchema(schema, options: options, definitions: &definitions)
            branches.append(
                .object(
                    JSONObject([
                        "if": .object(
                            JSONObject([
                                "properties": .object(JSONObject(["model": .object(JSONObject(["const": .string(schema.model)]))])),
                                "required": .array([.string("model")]),
                            ])
                        ),
                        "then": .object(body),
                    ])
                )
            )
        }
        return .object(
            JSONObject([
                "$schema": .string(dialect),
                "$id": .string("urn:videospool:request"),
                "title": .string("videospool request file"),
                "description": .string(
                    "A file dropped into the spool's incoming/ directory: the AI/ML API request body of one model plus "
                        + "the daemon's keys (callback_url, callback_urls, metadata, job_id). null counts as absent. "
                        + "'model' selects the rules. " + generatedNote
                ),
                "type": .string("object"),
                "required": .array([.string("model")]),
                "properties": .object(
                    JSONObject([
                        "model": .object(
                            JSONObject([
                                "description": .string("The upstream model; `videospool models` lists them."),
                                "enum": .array(models.map { .string($0.model) }),
                            ])
                        )
                    ])
                ),
                "allOf": .array(branches),
                "$defs": definitions.json,
            ])
        )
    }

    /// The files `videospool models schema --output DIR` writes, by path relative to `DIR`: the
    /// combined `request.schema.json` and `schemas/<model>.schema.json` for each model.
    public static func files(_ catalog: ModelCatalog, options: RequestValidator.Options = .init()) -> [(path: String, text: String)] {
        [("request.schema.json", text(combined(catalog, options: options)))]
            + catalog.models.map { entry in
                ("schemas/\(fileStem(for: entry.schema.model)).schema.json", text(document(for: entry.schema, options: options)))
            }
    }

    /// `bytedance/seedance-2-0` → `bytedance--seedance-2-0`: a model id as a file name.
    public static func fileStem(for model: String) -> String {
        model.split(separator: "/", omittingEmptySubsequences: false).joined(separator: "--")
    }

    /// The text written to a file: indented, with a final newline.
    public static func text(_ document: JSONValue) -> String {
        JSONWriter(pretty: true).string(document)
    }

    static let generatedNote =
        "Generated from the model definitions by `videospool models schema`; the daemon's validator is the "
        + "authority and also checks duplicate keys, base64 data, callback addresses and the metadata size."

    // MARK: - One model

    private static func requestSchema(
        _ schema: ModelSchema,
        options: RequestValidator.Options,
        definitions: inout Definitions
    ) -> JSONObject {
        var properties = JSONObject()
        properties["model"] = .object(JSONObject(["description": .string("The upstream model."), "const": .string(schema.model)]))
        for field in schema.fields where field.name != "model" {
            properties[field.name] = property(field, required: schema.required.contains(field.name), definitions: &definitions)
        }
        for (name, property) in daemonProperties(options, definitions: &definitions) { properties[name] = property }

        var rules: [JSONValue] = [
            .object(
                JSONObject([
                    "description": .string("Not both callback_url and callback_urls."),
                    "not": present(["callback_url", "callback_urls"]),
                ])
            )
        ]
        for rule in schema.rules { rules.append(ruleSchema(rule)) }
        let required = ["model"] + schema.fields.map(\.name).filter { $0 != "model" && schema.required.contains($0) }
        return JSONObject([
            "type": .string("object"),
            "required": .array(required.map(JSONValue.string)),
            "additionalProperties": .bool(false),
            "properties": .object(properties),
            "allOf": .array(rules),
        ])
    }

    private static func property(_ field: ModelSchema.Field, required: Bool, definitions: inout Definitions) -> JSONValue {
        var property = JSONObject()
        if let summary = field.summary { property["description"] = .string(summary) }
        if let value = field.defaultValue { property["default"] = value }
        let alternatives = self.alternatives(field.kind, definitions: &definitions)
        if case .any = field.kind {
            return .object(property)
        }
        if required, alternatives.count == 1, case .object(let only) = alternatives[0] {
            for (key, value) in only { property[key] = value }
        } else {
            property["anyOf"] = .array(alternatives + (required ? [] : [.object(JSONObject(["type": .string("null")]))]))
        }
        return .object(property)
    }

    /// The schemas a value of this kind may match (more than one for "5" and 5).
    private static func alternatives(_ kind: ModelSchema.Kind, definitions: inout Definitions) -> [JSONValue] {
        switch kind {
        case .text(let nonEmpty, let minimumLength, let maximumLength):
            var object = JSONObject(["type": .string("string")])
            if nonEmpty { object["pattern"] = .string("\\S") }
            if let minimumLength { object["minLength"] = .int(Int64(minimumLength)) }
            if let maximumLength { object["maxLength"] = .int(Int64(maximumLength)) }
            return [.object(object)]
        case .choice(let choices, let caseInsensitive):
            if caseInsensitive {
                let pattern = "^(" + choices.map(caseInsensitivePattern).joined(separator: "|") + ")$"
                return [.object(JSONObject(["type": .string("string"), "pattern": .string(pattern)]))]
            }
            return [.object(JSONObject(["enum": .array(choices.map(JSONValue.string))]))]
        case .integer(let rule):
            var object = JSONObject(["type": .string("integer")])
            if let values = rule.values {
                object["enum"] = .array(values.map(JSONValue.int))
            } else {
                if let minimum = rule.minimum { object["minimum"] = .int(minimum) }
                if let maximum = rule.maximum { object["maximum"] = .int(maximum) }
            }
            var result: [JSONValue] = [.object(object)]
            if rule.acceptsDigitString, let pattern = DigitPattern.pattern(for: rule) {
                result.append(.object(JSONObject(["type": .string("string"), "pattern": .string(pattern)])))
            }
            return result
        case .number(let minimum, let maximum):
            var object = JSONObject(["type": .string("number")])
            if let minimum { object["minimum"] = .double(minimum) }
            if let maximum { object["maximum"] = .double(maximum) }
            return [.object(object)]
        case .boolean:
            return [.object(JSONObject(["type": .string("boolean")]))]
        case .media(let rule):
            return [.object(JSONObject(["$ref": .string("#/$defs/" + definitions.media(rule))]))]
        case .list(let item, let count):
            var object = JSONObject(["type": .string("array")])
            if count.lowerBound > 0 { object["minItems"] = .int(Int64(count.lowerBound)) }
            if count.upperBound < Int(Int32.max) { object["maxItems"] = .int(Int64(count.upperBound)) }
            let items = alternatives(item, definitions: &definitions)
            if case .any = item {
                // No constraint on the items.
            } else {
                object["items"] = items.count == 1 ? items[0] : .object(JSONObject(["anyOf": .array(items)]))
            }
            return [.object(object)]
        case .object:
            return [.object(JSONObject(["type": .string("object")]))]
        case .any:
            return [.object(JSONObject())]
        }
    }

    private static func daemonProperties(_ options: RequestValidator.Options, definitions: inout Definitions) -> JSONObject {
        let url = JSONValue.object(JSONObject(["$ref": .string("#/$defs/" + definitions.media(.urlOnly))]))
        let null = JSONValue.object(JSONObject(["type": .string("null")]))
        return JSONObject([
            "callback_url": .object(
                JSONObject([
                    "description": .string("Where the completion webhook goes (or use callback_urls, not both)."),
                    "anyOf": .array([url, null]),
                ])
            ),
            "callback_urls": .object(
                JSONObject([
                    "description": .string("Up to \(options.maximumCallbackURLs) webhook URLs."),
                    "anyOf": .array([
                        .object(
                            JSONObject([
                                "type": .string("array"),
                                "minItems": .int(1),
                                "maxItems": .int(Int64(options.maximumCallbackURLs)),
                                "items": url,
                            ])
                        ),
                        null,
                    ]),
                ])
            ),
            "metadata": .object(
                JSONObject([
                    "description": .string(
                        "Any JSON object up to \(options.maximumMetadataBytes / 1024) KiB, echoed in every webhook."
                    ),
                    "anyOf": .array([.object(JSONObject(["type": .string("object")])), null]),
                ])
            ),
            "job_id": .object(
                JSONObject([
                    "description": .string(
                        "Your id for the job; without it the daemon assigns a ULID. A known job_id is rejected as a duplicate."
                    ),
                    "anyOf": .array([
                        .object(JSONObject(["type": .string("string"), "pattern": .string("^[A-Za-z0-9._-]{1,128}$")])),
                        null,
                    ]),
                ])
            ),
        ])
    }

    // MARK: - Rules

    /// The fields are all present and not null.
    private static func present(_ names: [String]) -> JSONValue {
        var properties = JSONObject()
        for name in names { properties[name] = .object(JSONObject(["not": .object(JSONObject(["type": .string("null")]))])) }
        return .object(JSONObject(["required": .array(names.map(JSONValue.string)), "properties": .object(properties)]))
    }

    private static func ruleSchema(_ rule: ModelSchema.Rule) -> JSONValue {
        var object = JSONObject(["description": .string(rule.message)])
        switch rule.condition {
        case .requiresAnyOf(let field, let fields):
            object["if"] = present([field])
            object["then"] = .object(JSONObject(["anyOf": .array(fields.map { present([$0]) })]))
        case .atMostOneOf(let fields):
            var pairs: [JSONValue] = []
            for (index, first) in fields.enumerated() {
                for second in fields[(index + 1)...] { pairs.append(present([first, second])) }
            }
            object["not"] = .object(JSONObject(["anyOf": .array(pairs)]))
        case .atLeastOneOf(let fields):
            object["anyOf"] = .array(fields.map { present([$0]) })
        }
        return .object(object)
    }

    private static func caseInsensitivePattern(_ text: String) -> String {
        var pattern = ""
        for character in text {
            let lower = character.lowercased()
            let upper = character.uppercased()
            if lower != upper, lower.count == 1, upper.count == 1 {
                pattern += "[\(upper)\(lower)]"
            } else {
                pattern += DigitPattern.escaped(String(character))
            }
        }
        return pattern
    }

    // MARK: - Shared definitions

    /// `$defs` for media references, named after what they accept.
    struct Definitions {
        private var entries: [String: JSONValue] = [:]

        static let httpPattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+([/?#]\\S*)?$"
        static let assetPattern = "^[Aa][Ss][Ss][Ee][Tt]://[A-Za-z0-9._-]{1,256}$"

        var json: JSONValue {
            var object = JSONObject()
            for name in entries.keys.sorted() { object[name] = entries[name] }
            return .object(object)
        }

        /// The name of the definition for `rule`, adding it if needed.
        mutating func media(_ rule: ModelSchema.MediaRule) -> String {
            if rule.acceptsHTTP, rule.dataTypes.isEmpty, !rule.allowsAssetID {
                entries["httpURL"] = .object(JSONObject(["type": .string("string"), "pattern": .string(Self.httpPattern)]))
                return "httpURL"
            }
            var name = "media"
            var alternatives: [JSONValue] = []
            if rule.acceptsHTTP {
                name += "HTTP"
                alternatives.append(.object(JSONObject(["$ref": .string("#/$defs/" + media(.urlOnly))])))
            }
            for type in rule.dataTypes {
                name += type == "*" ? "Data" : "Data" + type.prefix(1).uppercased() + type.dropFirst()
                let mediaType = type == "*" ? "[^,;/]+" : RequestJSONSchema.caseInsensitivePattern(type)
                let pattern = "^[Dd][Aa][Tt][Aa]:" + mediaType + "/[^,;]+(;[^,;]*)*;[Bb][Aa][Ss][Ee]64,[A-Za-z0-9+/=\\s]+$"
                alternatives.append(.object(JSONObject(["type": .string("string"), "pattern": .string(pattern)])))
            }
            if rule.allowsAssetID {
                name += "Asset"
                alternatives.append(.object(JSONObject(["type": .string("string"), "pattern": .string(Self.assetPattern)])))
            }
            entries[name] = alternatives.count == 1 ? alternatives[0] : .object(JSONObject(["anyOf": .array(alternatives)]))
            return name
        }
    }
}

/// Regular expressions for integers written as digit strings ("5"), as the validator reads them:
/// decimal digits only, leading zeros allowed, at most 18 of them.
enum DigitPattern {
    static let largest: UInt64 = 999_999_999_999_999_999

    /// `^0*([4-9]|1[0-5])$` for 4…15; `nil` when no digit string can be valid.
    static func pattern(for rule: ModelSchema.IntegerRule) -> String? {
        let low = UInt64(max(rule.minimum ?? 0, 0))
        let high = rule.maximum.map { $0 < 0 ? nil : min(UInt64($0), largest) } ?? largest
        guard let high, low <= high else { return nil }
        var alternatives: [String]
        if let values = rule.values {
            alternatives = values.filter { $0 >= 0 && UInt64($0) <= largest && rule.contains($0) }.map { String($0) }
            guard !alternatives.isEmpty else { return nil }
        } else {
            alternatives = range(low, high)
        }
        return "^0*(" + alternatives.joined(separator: "|") + ")$"
    }

    /// Alternatives that together match exactly the numbers `low…high` (without leading zeros).
    static func range(_ low: UInt64, _ high: UInt64) -> [String] {
        var result: [String] = []
        var start = low
        while start <= high {
            let digits = String(start).count
            let top = digits >= 19 ? UInt64.max : power(digits) - 1
            let end = min(high, top)
            result += sameLength(Array(String(start)), Array(String(end)))
            if end == high { break }
            start = end + 1
        }
        return result
    }

    /// Alternatives for the digit strings of one length between `low` and `high`.
    private static func sameLength(_ low: [Character], _ high: [Character]) -> [String] {
        guard let first = low.first, let last = high.first else { return [""] }
        if low.count == 1 { return [digitClass(first, last)] }
        let restLow = Array(low.dropFirst())
        let restHigh = Array(high.dropFirst())
        if first == last { return sameLength(restLow, restHigh).map { String(first) + $0 } }
        let remaining = restLow.count
        let lowIsZeros = restLow.allSatisfy { $0 == "0" }
        let highIsNines = restHigh.allSatisfy { $0 == "9" }
        var result: [String] = []
        var from = first
        var to = last
        if !lowIsZeros {
            result += sameLength(restLow, Array(repeating: "9", count: remaining)).map { String(first) + $0 }
            from = Character(UnicodeScalar(first.asciiValue! + 1))
        }
        if !highIsNines { to = Character(UnicodeScalar(last.asciiValue! - 1)) }
        if from <= to { result.append(digitClass(from, to) + anyDigits(remaining)) }
        if !highIsNines {
            result += sameLength(Array(repeating: "0", count: remaining), restHigh).map { String(last) + $0 }
        }
        return result
    }

    private static func digitClass(_ from: Character, _ to: Character) -> String {
        from == to ? String(from) : "[\(from)-\(to)]"
    }

    private static func anyDigits(_ count: Int) -> String {
        count == 1 ? "[0-9]" : "[0-9]{\(count)}"
    }

    private static func power(_ exponent: Int) -> UInt64 {
        (0..<exponent).reduce(1) { product, _ in product * 10 }
    }

    /// `text` with regular-expression metacharacters escaped.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }
}
