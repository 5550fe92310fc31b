extension ModelSchema {
    /// Reads a model definition file (JSON; the format is described in docs/models.md).
    ///
    /// - Throws: ``ModelDefinitionError`` naming the first problem and where it is.
    public init(definition bytes: [UInt8]) throws(ModelDefinitionError) {
        let document: JSONValue
        do {
            document = try JSONParser().parse(bytes)
        } catch {
            throw ModelDefinitionError(path: "", "is not valid JSON: \(error.description)")
        }
        guard case .object(let object) = document else {
            throw ModelDefinitionError(path: "", "must be a JSON object, not \(article(document.typeName))")
        }
        try self.init(definition: object)
    }

    /// Reads a model definition that has already been parsed.
    public init(definition object: JSONObject) throws(ModelDefinitionError) {
        try DefinitionReader.checkKeywords(object, allowed: DefinitionReader.documentKeywords, path: "")
        guard let modelValue = object["model"] else {
            throw ModelDefinitionError(path: "model", "is required: the model id, as sent upstream")
        }
        guard case .string(let model) = modelValue, DefinitionReader.isModelID(model) else {
            throw ModelDefinitionError(
                path: "model",
                "must be a model id such as \"bytedance/seedance-2-0\" (1 to 200 printable characters, no spaces)"
            )
        }
        let title = try DefinitionReader.optionalString(object["title"], path: "title")
        let summary = try DefinitionReader.optionalString(object["description"], path: "description")

        guard let propertiesValue = object["properties"] else {
            throw ModelDefinitionError(path: "properties", "is required: an object of the request's fields")
        }
        guard case .object(let properties) = propertiesValue else {
            throw ModelDefinitionError(path: "properties", "must be an object of field definitions")
        }
        var fields = [Field("model", .text(nonEmpty: true, minimumLength: nil, maximumLength: nil))]
        let checker = FieldChecker(model: model)
        for (name, value) in properties {
            let path = "properties.\(name)"
            guard DefinitionReader.isFieldName(name) else {
                throw ModelDefinitionError(path: path, "is not a usable field name (letters, digits, '_', '-', '.')")
            }
            if name == "model" {
                throw ModelDefinitionError(path: path, "is implied: the top-level 'model' key defines it")
            }
            if RequestValidator.daemonKeys.contains(name) {
                throw ModelDefinitionError(path: path, "is one of the daemon's own keys and is never sent upstream")
            }
            guard case .object(let definition) = value else {
                throw ModelDefinitionError(path: path, "must be an object such as {\"type\": \"string\"}")
            }
            let kind = try DefinitionReader.kind(definition, path: path)
            let defaultValue = definition["default"]
            if let defaultValue {
                var issues: [ValidationIssue] = []
                if checker.check(defaultValue, kind: kind, path: name, issues: &issues) == nil {
                    let reason = issues.first?.message ?? "does not fit the field"
                    throw ModelDefinitionError(path: path + ".default", "does not fit the field: \(reason)")
                }
            }
            fields.append(
                Field(
                    name,
                    kind,
                    summary: try DefinitionReader.optionalString(definition["description"], path: path + ".description"),
                    defaultValue: defaultValue
                )
            )
        }
        let names = Set(fields.map(\.name))

        var required: Set<String> = ["model"]
        switch object["required"] {
        case nil: break
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                guard case .string(let name) = item else {
                    throw ModelDefinitionError(path: "required[\(index)]", "must be a field name")
                }
                guard names.contains(name) else {
                    throw DefinitionReader.unknownField(name, path: "required[\(index)]", names: fields.map(\.name))
                }
                required.insert(name)
            }
        case let other?:
            throw ModelDefinitionError(path: "required", "must be an array of field names, not \(article(other.typeName))")
        }

        var rules: [Rule] = []
        switch object["rules"] {
        case nil: break
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                rules.append(try DefinitionReader.rule(item, path: "rules[\(index)]", fields: fields.map(\.name)))
            }
        case let other?:
            throw ModelDefinitionError(path: "rules", "must be an array of rules, not \(article(other.typeName))")
        }

        let parameterFields = try DefinitionReader.parameterFields(object["generationParameters"], fields: fields)
        self.init(
            model: model,
            title: title,
            summary: summary,
            fields: fields,
            required: required,
            rules: rules,
            parameterFields: parameterFields,
            definition: object
        )
    }
}

/// The definition format's keywords and the checks on each.
enum DefinitionReader {
    static let documentKeywords = [
        "model", "title", "description", "required", "properties", "rules", "generationParameters", "$comment",
    ]
    static let types = ["string", "integer", "number", "boolean", "media", "array", "object"]
    /// Keywords every field may have, and those each type adds.
    static let commonKeywords = ["type", "description", "default", "$comment"]
    static let typeKeywords: [String: [String]] = [
        "string": ["enum", "caseInsensitive", "nonEmpty", "minLength", "maxLength"],
        "integer": ["enum", "minimum", "maximum", "acceptsString"],
        "number": ["minimum", "maximum"],
        "boolean": [],
        "media": ["accepts"],
        "array": ["items", "minItems", "maxItems"],
        "object": [],
    ]
    static let allFieldKeywords = commonKeywords + typeKeywords.values.flatMap { $0 }
    static let ruleKeywords = ["when", "requiresAnyOf", "atMostOneOf", "atLeastOneOf", "code", "message", "$comment"]

    static func isModelID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 200 && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    static func isFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0))
            }
    }

    static func checkKeywords(_ object: JSONObject, allowed: [String], path: String) throws(ModelDefinitionError) {
        for key in object.keys where !allowed.contains(key) {
            var message = "unknown keyword '\(clip(key, limit: 40))'"
            if let suggestion = FieldSuggestion.nearest(to: key, among: allowed) {
                message += "; did you mean '\(suggestion)'?"
            } else {
                message += "; expected one of \(allowed.filter { $0 != "$comment" }.joined(separator: ", "))"
            }
            throw ModelDefinitionError(path: path, message)
        }
    }

    static func unknownField(_ name: String, path: String, names: [String]) -> ModelDefinitionError {
        var message = "'\(clip(name, limit: 40))' is not one of the fields in 'properties'"
        if let suggestion = FieldSuggestion.nearest(to: name, among: names) { message += "; did you mean '\(suggestion)'?" }
        return ModelDefinitionError(path: path, message)
    }

    static func optionalString(_ value: JSONValue?, path: String) throws(ModelDefinitionError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw ModelDefinitionError(path: path, "must be a string, not \(article(other.typeName))")
        }
    }

    static func bool(_ value: JSONValue?, path: String) throws(ModelDefinitionError) -> Bool {
        switch value {
        case nil: return false
        case .bool(let flag)?: return flag
        case let other?: throw ModelDefinitionError(path: path, "must be true or false, not \(article(other.typeName))")
        }
    }

    static func integer(_ value: JSONValue?, path: String) throws(ModelDefinitionError) -> Int64? {
        guard let value else { return nil }
        guard case .number(let number) = value, let integer = number.int64Value else {
            throw ModelDefinitionError(path: path, "must be a whole number")
        }
        return integer
    }

    static func count(_ value: JSONValue?, path: String) throws(ModelDefinitionError) -> Int? {
        guard let integer = try integer(value, path: path) else { return nil }
        guard integer >= 0, integer <= Int64(Int32.max) else {
            throw ModelDefinitionError(path: path, "must be a whole number from 0 to \(Int32.max)")
        }
        return Int(integer)
    }

    static func number(_ value: JSONValue?, path: String) throws(ModelDefinitionError) -> Double? {
        guard let value else { return nil }
        guard case .number(let number) = value, let double = number.doubleValue, double.isFinite else {
            throw ModelDefinitionError(path: path, "must be a number")
        }
        return double
    }

    /// One field's definition.
    static func kind(_ definition: JSONObject, path: String) throws(ModelDefinitionError) -> ModelSchema.Kind {
        try checkKeywords(definition, allowed: allFieldKeywords, path: path)
        guard let typeValue = definition["type"] else {
            // No type: any value, passed on unchecked. Keywords that need a type are an error.
            if let keyword = definition.keys.first(where: { !commonKeywords.contains($0) }) {
                throw ModelDefinitionError(path: path, "'\(keyword)' needs a 'type'")
            }
            return .any
        }
        guard case .string(let type) = typeValue, let allowed = typeKeywords[type] else {
            throw ModelDefinitionError(path: path + ".type", "must be one of \(types.joined(separator: ", "))")
        }
        if let keyword = definition.keys.first(where: { !commonKeywords.contains($0) && !allowed.contains($0) }) {
            throw ModelDefinitionError(path: path, "'\(keyword)' does not apply to type \(type)")
        }
        switch type {
        case "string":
            return try stringKind(definition, path: path)
        case "integer":
            return try integerKind(definition, path: path)
        case "number":
            let minimum = try number(definition["minimum"], path: path + ".minimum")
            let maximum = try number(definition["maximum"], path: path + ".maximum")
            if let minimum, let maximum, minimum > maximum {
                throw ModelDefinitionError(path: path, "'minimum' is greater than 'maximum'")
            }
            return .number(minimum: minimum, maximum: maximum)
        case "boolean":
            return .boolean
        case "media":
            return .media(try mediaRule(definition["accepts"], path: path + ".accepts"))
        case "array":
            let items: ModelSchema.Kind
            switch definition["items"] {
            case nil: items = .any
            case .object(let itemDefinition)?:
                if itemDefinition["default"] != nil {
                    throw ModelDefinitionError(path: path + ".items.default", "belongs on the array, not on its items")
                }
                items = try kind(itemDefinition, path: path + ".items")
            case .some:
                throw ModelDefinitionError(path: path + ".items", "must be a field definition object")
            }
            let minimum = try count(definition["minItems"], path: path + ".minItems") ?? 0
            let maximum = try count(definition["maxItems"], path: path + ".maxItems") ?? Int(Int32.max)
            guard minimum <= maximum else {
                throw ModelDefinitionError(path: path, "'minItems' is greater than 'maxItems'")
            }
            return .list(items, count: minimum...maximum)
        default:
            return .object
        }
    }

    private static func stringKind(_ definition: JSONObject, path: String) throws(ModelDefinitionError) -> ModelSchema.Kind {
        let caseInsensitive = try bool(definition["caseInsensitive"], path: path + ".caseInsensitive")
        if let enumValue = definition["enum"] {
            if let keyword = ["nonEmpty", "minLength", "maxLength"].first(where: { definition[$0] != nil }) {
                throw ModelDefinitionError(path: path, "'\(keyword)' cannot be combined with 'enum', which already limits the values")
            }
            guard case .array(let items) = enumValue, !items.isEmpty else {
                throw ModelDefinitionError(path: path + ".enum", "must be a non-empty array of strings")
            }
            var choices: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let choice) = item else {
                    throw ModelDefinitionError(path: path + ".enum[\(index)]", "must be a string, since the type is string")
                }
                if choices.contains(where: { caseInsensitive ? $0.lowercased() == choice.lowercased() : $0 == choice }) {
                    throw ModelDefinitionError(path: path + ".enum[\(index)]", "'\(choice)' is listed twice")
                }
                choices.append(choice)
            }
            return .choice(choices, caseInsensitive: caseInsensitive)
        }
        if caseInsensitive {
            throw ModelDefinitionError(path: path + ".caseInsensitive", "applies only to an 'enum'")
        }
        let minimum = try count(definition["minLength"], path: path + ".minLength")
        let maximum = try count(definition["maxLength"], path: path + ".maxLength")
        if let minimum, let maximum, minimum > maximum {
            throw ModelDefinitionError(path: path, "'minLength' is greater than 'maxLength'")
        }
        return .text(
            nonEmpty: try bool(definition["nonEmpty"], path: path + ".nonEmpty"),
            minimumLength: minimum,
            maximumLength: maximum
        )
    }

    private static func integerKind(_ definition: JSONObject, path: String) throws(ModelDefinitionError) -> ModelSchema.Kind {
        var rule = ModelSchema.IntegerRule(
            minimum: try integer(definition["minimum"], path: path + ".minimum"),
            maximum: try integer(definition["maximum"], path: path + ".maximum"),
            acceptsDigitString: try bool(definition["acceptsString"], path: path + ".acceptsString")
        )
        if let minimum = rule.minimum, let maximum = rule.maximum, minimum > maximum {
            throw ModelDefinitionError(path: path, "'minimum' is greater than 'maximum'")
        }
        if let enumValue = definition["enum"] {
            guard case .array(let items) = enumValue, !items.isEmpty else {
                throw ModelDefinitionError(path: path + ".enum", "must be a non-empty array of whole numbers")
            }
            var values: [Int64] = []
            for (index, item) in items.enumerated() {
                guard case .number(let number) = item, let value = number.int64Value else {
                    throw ModelDefinitionError(path: path + ".enum[\(index)]", "must be a whole number, since the type is integer")
                }
                if values.contains(value) {
                    throw ModelDefinitionError(path: path + ".enum[\(index)]", "\(value) is listed twice")
                }
                values.append(value)
            }
            rule.values = values
            if let outside = values.first(where: { !rule.contains($0) }) {
                throw ModelDefinitionError(path: path + ".enum", "\(outside) is outside 'minimum'…'maximum'")
            }
        }
        return .integer(rule)
    }

    /// `accepts`: which references a media field takes; http(s) URLs only when absent.
    static func mediaRule(_ value: JSONValue?, path: String) throws(ModelDefinitionError) -> ModelSchema.MediaRule {
        guard let value else { return .urlOnly }
        guard case .array(let items) = value, !items.isEmpty else {
            throw ModelDefinitionError(path: path, "must be a non-empty array such as [\"http\", \"data:image\", \"asset\"]")
        }
        var http = false
        var asset = false
        var dataTypes: [String] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard case .string(let token) = item else {
                throw ModelDefinitionError(path: itemPath, "must be \"http\", \"data\", \"data:TYPE\" or \"asset\"")
            }
            switch token {
            case "http": http = true
            case "asset": asset = true
            case "data": dataTypes.append("*")
            default:
                let type = token.dropFirst("data:".count)
                guard token.hasPrefix("data:"), !type.isEmpty, type.utf8.allSatisfy({ (97...122).contains($0) }) else {
                    throw ModelDefinitionError(
                        path: itemPath,
                        "'\(clip(token, limit: 40))' is not \"http\", \"data\", \"data:TYPE\" (a lowercase media type such as image) or \"asset\""
                    )
                }
                dataTypes.append(String(type))
            }
        }
        if dataTypes.contains("*") { dataTypes = ["*"] }
        return ModelSchema.MediaRule(acceptsHTTP: http, dataTypes: dataTypes, allowsAssetID: asset)
    }

    static func rule(_ value: JSONValue, path: String, fields: [String]) throws(ModelDefinitionError) -> ModelSchema.Rule {
        guard case .object(let object) = value else {
            throw ModelDefinitionError(path: path, "must be an object such as {\"atMostOneOf\": [\"a\", \"b\"]}")
        }
        try checkKeywords(object, allowed: ruleKeywords, path: path)
        func names(_ key: String, minimum: Int) throws(ModelDefinitionError) -> [String] {
            guard case .array(let items)? = object[key], items.count >= minimum else {
                throw ModelDefinitionError(path: "\(path).\(key)", "must be an array of at least \(minimum) field names")
            }
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let name) = item else {
                    throw ModelDefinitionError(path: "\(path).\(key)[\(index)]", "must be a field name")
                }
                guard fields.contains(name) else {
                    throw unknownField(name, path: "\(path).\(key)[\(index)]", names: fields)
                }
                result.append(name)
            }
            return result
        }
        let kinds = ["requiresAnyOf", "atMostOneOf", "atLeastOneOf"].filter { object[$0] != nil }
        guard kinds.count == 1 else {
            throw ModelDefinitionError(path: path, "must have exactly one of requiresAnyOf (with when), atMostOneOf, atLeastOneOf")
        }
        let condition: ModelSchema.Rule.Condition
        switch kinds[0] {
        case "requiresAnyOf":
            guard case .string(let field)? = object["when"] else {
                throw ModelDefinitionError(path: path + ".when", "is required with requiresAnyOf: the field that needs the others")
            }
            guard fields.contains(field) else { throw unknownField(field, path: path + ".when", names: fields) }
            condition = .requiresAnyOf(field: field, fields: try names("requiresAnyOf", minimum: 1))
        case "atMostOneOf":
            condition = .atMostOneOf(try names("atMostOneOf", minimum: 2))
        default:
            condition = .atLeastOneOf(try names("atLeastOneOf", minimum: 1))
        }
        if object["when"] != nil, kinds[0] != "requiresAnyOf" {
            throw ModelDefinitionError(path: path + ".when", "applies only to requiresAnyOf")
        }
        var code: ValidationIssue.Code?
        if let codeValue = object["code"] {
            guard case .string(let text) = codeValue, !text.isEmpty, text.utf8.count <= 64,
                text.utf8.allSatisfy({ (97...122).contains($0) || $0 == UInt8(ascii: "_") })
            else {
                throw ModelDefinitionError(path: path + ".code", "must be a snake_case code such as audio_without_reference")
            }
            code = ValidationIssue.Code(text)
        }
        let message = try optionalString(object["message"], path: path + ".message")
        return ModelSchema.Rule(condition, code: code, message: message)
    }

    static func parameterFields(
        _ value: JSONValue?,
        fields: [ModelSchema.Field]
    ) throws(ModelDefinitionError) -> ModelSchema.ParameterFields? {
        guard let value else { return nil }
        let path = "generationParameters"
        guard case .object(let object) = value else {
            throw ModelDefinitionError(path: path, "must be an object such as {\"resolution\": \"resolution\", \"duration\": \"duration\"}")
        }
        try checkKeywords(object, allowed: ["resolution", "duration", "$comment"], path: path)
        func field(_ key: String, fits: (ModelSchema.Kind) -> Bool, expected: String) throws(ModelDefinitionError) -> String? {
            switch object[key] {
            case nil:
                return fields.contains { $0.name == key } ? key : nil
            case .null?:
                return nil
            case .string(let name)?:
                guard let field = fields.first(where: { $0.name == name }) else {
                    throw unknownField(name, path: "\(path).\(key)", names: fields.map(\.name))
                }
                guard fits(field.kind) else {
                    throw ModelDefinitionError(path: "\(path).\(key)", "'\(name)' must be \(expected)")
                }
                return name
            case let other?:
                throw ModelDefinitionError(path: "\(path).\(key)", "must be a field name or null, not \(article(other.typeName))")
            }
        }
        let resolution = try field(
            "resolution",
            fits: {
                switch $0 {
                case .text, .choice, .integer: true
                default: false
                }
            },
            expected: "a string or integer field"
        )
        let duration = try field(
            "duration",
            fits: {
                if case .integer = $0 { return true }
                return false
            },
            expected: "an integer field"
        )
        return ModelSchema.ParameterFields(resolution: resolution, duration: duration)
    }
}
