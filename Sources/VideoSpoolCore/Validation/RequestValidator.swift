/// Checks a request file against the model's schema and the daemon's own keys.
///
/// Every problem is reported, not just the first, so one round trip fixes a file. A request that
/// passes is exactly what will be POSTed (after normalization); one that fails is never submitted.
public struct RequestValidator: Sendable {
    public struct Options: Sendable {
        /// Which callback hosts are acceptable when written as IP literals.
        public var addressPolicy: AddressPolicy
        public var maximumMetadataBytes: Int
        public var maximumCallbackURLs: Int
        public var schemas: [String: ModelSchema]

        public init(
            addressPolicy: AddressPolicy = AddressPolicy(),
            maximumMetadataBytes: Int = 16 * 1024,
            maximumCallbackURLs: Int = 10,
            schemas: [String: ModelSchema] = ModelSchema.supported
        ) {
            self.addressPolicy = addressPolicy
            self.maximumMetadataBytes = maximumMetadataBytes
            self.maximumCallbackURLs = maximumCallbackURLs
            self.schemas = schemas
        }
    }

    /// Keys the daemon reads and never sends upstream.
    public static let daemonKeys = ["callback_url", "callback_urls", "metadata", "job_id"]

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    public func validate(_ bytes: [UInt8]) -> ValidationOutcome {
        let document: JSONValue
        do {
            document = try JSONParser().parse(bytes)
        } catch {
            return .invalid(RejectedRequest(issues: [ValidationIssue(error)]))
        }
        guard case .object(let object) = document else {
            return .invalid(
                RejectedRequest(issues: [
                    ValidationIssue(
                        field: nil,
                        code: .notAnObject,
                        message: "the file must hold a JSON object, not \(article(document.typeName))"
                    )
                ])
            )
        }
        return validate(object)
    }

    public func validate(_ object: JSONObject) -> ValidationOutcome {
        var issues: [ValidationIssue] = []
        let daemon = validateDaemonKeys(object, issues: &issues)

        var model: String?
        var schema: ModelSchema?
        switch object["model"] {
        case nil, .null?:
            issues.append(ValidationIssue(field: "model", code: .missingField, message: "'model' is required"))
        case .string(let name)?:
            model = name
            schema = options.schemas[name]
            if schema == nil {
                let supported = options.schemas.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
                issues.append(
                    ValidationIssue(
                        field: "model",
                        code: .unsupportedModel,
                        message: "model '\(name)' is not supported; supported: \(supported)"
                    )
                )
            }
        case let other?:
            issues.append(wrongType("model", expected: "a string", got: other))
        }

        var body = JSONObject()
        var parameters = GenerationParameters()
        if let schema {
            body = validateFields(object, schema: schema, parameters: &parameters, issues: &issues)
        } else {
            // Without a schema, still point out keys nobody knows.
            let known = ModelSchema.supported.values.flatMap { $0.fields.map(\.name) } + Self.daemonKeys
            for key in object.keys where !known.contains(key) && !Self.daemonKeys.contains(key) {
                issues.append(unknownField(key, known: known))
            }
        }

        guard issues.isEmpty, let model else {
            return .invalid(
                RejectedRequest(
                    issues: issues,
                    callbackURLs: daemon.callbackURLs,
                    metadata: daemon.metadata,
                    requestedJobID: daemon.jobID,
                    model: model
                )
            )
        }
        return .valid(
            ValidatedRequest(
                model: model,
                upstreamBody: body,
                callbackURLs: daemon.callbackURLs,
                metadata: daemon.metadata,
                requestedJobID: daemon.jobID,
                parameters: parameters
            )
        )
    }

    // MARK: - Model fields

    private func validateFields(
        _ object: JSONObject,
        schema: ModelSchema,
        parameters: inout GenerationParameters,
        issues: inout [ValidationIssue]
    ) -> JSONObject {
        var body = JSONObject()
        let knownNames = schema.fields.map(\.name) + Self.daemonKeys
        for (key, value) in object {
            if Self.daemonKeys.contains(key) { continue }
            guard let field = schema.field(named: key) else {
                issues.append(unknownField(key, known: knownNames))
                continue
            }
            if case .null = value {
                if schema.required.contains(key) {
                    issues.append(ValidationIssue(field: key, code: .missingField, message: "'\(key)' is required"))
                }
                continue
            }
            if let normalized = validate(value, field: field, issues: &issues) {
                body[key] = normalized
            }
        }
        for name in schema.required.sorted() where object[name] == nil {
            issues.append(ValidationIssue(field: name, code: .missingField, message: "'\(name)' is required"))
        }
        for rule in schema.rules {
            switch rule {
            case .requiresReference(let field, let references, let message):
                func present(_ name: String) -> Bool { object[name] != nil && object[name] != .null }
                if present(field), !references.contains(where: present) {
                    issues.append(ValidationIssue(field: field, code: .audioWithoutReference, message: message))
                }
            }
        }
        parameters.resolution = body["resolution"]?.stringValue
        parameters.durationSeconds = body["duration"]?.numberValue?.int64Value.map(Int.init)
        return body
    }

    private func validate(_ value: JSONValue, field: ModelSchema.Field, issues: inout [ValidationIssue]) -> JSONValue? {
        let name = field.name
        switch field.kind {
        case .text(let nonEmpty):
            guard case .string(let text) = value else {
                issues.append(wrongType(name, expected: "a string", got: value))
                return nil
            }
            if nonEmpty, text.allSatisfy(\.isWhitespace) {
                issues.append(ValidationIssue(field: name, code: .emptyValue, message: "'\(name)' must not be empty"))
                return nil
            }
            return value

        case .choice(let choices, let caseInsensitive):
            guard case .string(let text) = value else {
                issues.append(wrongType(name, expected: "a string", got: value))
                return nil
            }
            let match = choices.first { caseInsensitive ? $0.lowercased() == text.lowercased() : $0 == text }
            guard let match else {
                var message = "'\(name)' must be one of \(choices.joined(separator: ", ")) (got '\(clip(text))')"
                if !caseInsensitive, let caseMatch = choices.first(where: { $0.lowercased() == text.lowercased() }) {
                    message += "; values are case-sensitive: write '\(caseMatch)'"
                }
                issues.append(ValidationIssue(field: name, code: .invalidValue, message: message))
                return nil
            }
            return .string(match)

        case .integer(let range, let acceptsDigitString):
            let integer: Int64
            switch value {
            case .number(let number):
                guard number.isInteger else {
                    issues.append(
                        ValidationIssue(
                            field: name,
                            code: .wrongType,
                            message: "'\(name)' must be a whole number (got \(number.text))"
                        )
                    )
                    return nil
                }
                guard let parsed = number.int64Value else {
                    issues.append(outOfRange(name, range: range, got: number.text))
                    return nil
                }
                integer = parsed
            case .string(let text) where acceptsDigitString:
                guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                    let parsed = Int64(text)
                else {
                    issues.append(
                        ValidationIssue(
                            field: name,
                            code: .wrongType,
                            message: "'\(name)' must be a whole number such as 5 or \"5\" (got \"\(clip(text))\")"
                        )
                    )
                    return nil
                }
                integer = parsed
            default:
                issues.append(wrongType(name, expected: "an integer", got: value))
                return nil
            }
            guard range.contains(integer) else {
                issues.append(outOfRange(name, range: range, got: String(integer)))
                return nil
            }
            return .int(integer)

        case .boolean:
            guard case .bool = value else {
                issues.append(wrongType(name, expected: "true or false", got: value))
                return nil
            }
            return value

        case .media(let rule):
            guard case .string(let text) = value else {
                issues.append(wrongType(name, expected: "a string (URL)", got: value))
                return nil
            }
            if let issue = MediaReference.check(text, rule: rule, field: name) {
                issues.append(issue)
                return nil
            }
            return value

        case .mediaList(let rule, let count):
            guard case .array(let items) = value else {
                issues.append(wrongType(name, expected: "an array of URLs", got: value))
                return nil
            }
            if items.count < count.lowerBound {
                issues.append(
                    ValidationIssue(
                        field: name,
                        code: .tooFewItems,
                        message: "'\(name)' must have at least \(count.lowerBound) item(s); leave it out instead"
                    )
                )
                return nil
            }
            if items.count > count.upperBound {
                issues.append(
                    ValidationIssue(
                        field: name,
                        code: .tooManyItems,
                        message: "'\(name)' has \(items.count) items; at most \(count.upperBound) are allowed"
                    )
                )
                return nil
            }
            var valid = true
            for (index, item) in items.enumerated() {
                let path = "\(name)[\(index)]"
                guard case .string(let text) = item else {
                    issues.append(wrongType(path, expected: "a string (URL)", got: item))
                    valid = false
                    continue
                }
                if let issue = MediaReference.check(text, rule: rule, field: path) {
                    issues.append(issue)
                    valid = false
                }
            }
            return valid ? value : nil
        }
    }

    // MARK: - Daemon keys

    private struct DaemonKeys {
        var callbackURLs: [String] = []
        var metadata: JSONObject?
        var jobID: JobID?
    }

    private func validateDaemonKeys(_ object: JSONObject, issues: inout [ValidationIssue]) -> DaemonKeys {
        var keys = DaemonKeys()
        let single = object["callback_url"].flatMap { $0 == .null ? nil : $0 }
        let multiple = object["callback_urls"].flatMap { $0 == .null ? nil : $0 }
        if single != nil, multiple != nil {
            issues.append(
                ValidationIssue(
                    field: "callback_urls",
                    code: .conflictingFields,
                    message: "give either 'callback_url' or 'callback_urls', not both"
                )
            )
        } else if let single {
            if case .string(let text) = single {
                if let url = checkCallback(text, field: "callback_url", issues: &issues) { keys.callbackURLs = [url] }
            } else {
                issues.append(wrongType("callback_url", expected: "a string (URL)", got: single))
            }
        } else if let multiple {
            if case .array(let items) = multiple {
                if items.isEmpty || items.count > options.maximumCallbackURLs {
                    issues.append(
                        ValidationIssue(
                            field: "callback_urls",
                            code: items.isEmpty ? .tooFewItems : .tooManyItems,
                            message: "'callback_urls' must have 1 to \(options.maximumCallbackURLs) URLs "
                                + "(got \(items.count))"
                        )
                    )
                } else {
                    for (index, item) in items.enumerated() {
                        let path = "callback_urls[\(index)]"
                        guard case .string(let text) = item else {
                            issues.append(wrongType(path, expected: "a string (URL)", got: item))
                            continue
                        }
                        if let url = checkCallback(text, field: path, issues: &issues),
                            !keys.callbackURLs.contains(url)
                        {
                            keys.callbackURLs.append(url)
                        }
                    }
                }
            } else {
                issues.append(wrongType("callback_urls", expected: "an array of URLs", got: multiple))
            }
        }

        switch object["metadata"] {
        case nil, .null?: break
        case .object(let metadata)?:
            let size = JSONWriter().bytes(.object(metadata)).count
            if size > options.maximumMetadataBytes {
                issues.append(
                    ValidationIssue(
                        field: "metadata",
                        code: .metadataTooLarge,
                        message: "'metadata' is \(size) bytes; at most \(options.maximumMetadataBytes) are allowed "
                            + "(it is echoed in every webhook)"
                    )
                )
            } else {
                keys.metadata = metadata
            }
        case let other?:
            issues.append(wrongType("metadata", expected: "a JSON object", got: other))
        }

        switch object["job_id"] {
        case nil, .null?: break
        case .string(let text)?:
            if let id = JobID(text) {
                keys.jobID = id
            } else {
                issues.append(
                    ValidationIssue(
                        field: "job_id",
                        code: .invalidJobID,
                        message: "'job_id' must be 1 to 128 characters from A-Z, a-z, 0-9, '.', '_' and '-' "
                            + "(got '\(clip(text))')"
                    )
                )
            }
        case let other?:
            issues.append(wrongType("job_id", expected: "a string", got: other))
        }
        return keys
    }

    private func checkCallback(_ text: String, field: String, issues: inout [ValidationIssue]) -> String? {
        let url: HTTPURL
        do {
            url = try HTTPURL(parsing: text)
        } catch {
            let code: ValidationIssue.Code = error.message.hasPrefix("uses the scheme") ? .unsupportedScheme : .invalidURL
            issues.append(ValidationIssue(field: field, code: code, message: "'\(field)' \(error.message)"))
            return nil
        }
        if let address = url.literalAddress, let refusal = options.addressPolicy.refusal(for: address) {
            issues.append(
                ValidationIssue(
                    field: field,
                    code: .callbackNotAllowed,
                    message: "'\(field)' points at \(refusal); callbacks go only to public addresses unless "
                        + "webhooks.allow_private_networks or webhooks.allowed_networks permits it"
                )
            )
            return nil
        }
        return text
    }

    // MARK: - Messages

    private func unknownField(_ key: String, known: [String]) -> ValidationIssue {
        var message = "unknown field '\(clip(key))'"
        if let suggestion = FieldSuggestion.nearest(to: key, among: known) {
            message += "; did you mean '\(suggestion)'?"
        }
        return ValidationIssue(field: key, code: .unknownField, message: message)
    }

    private func wrongType(_ field: String, expected: String, got value: JSONValue) -> ValidationIssue {
        ValidationIssue(
            field: field,
            code: .wrongType,
            message: "'\(field)' must be \(expected), not \(article(value.typeName))"
        )
    }

    private func outOfRange(_ field: String, range: ClosedRange<Int64>, got: String) -> ValidationIssue {
        ValidationIssue(
            field: field,
            code: .outOfRange,
            message: "'\(field)' must be between \(range.lowerBound) and \(range.upperBound) (got \(clip(got)))"
        )
    }
}

/// "an integer", "a string", "null".
func article(_ typeName: String) -> String {
    if typeName == "null" { return "null" }
    return (["a", "e", "i", "o", "u"].contains(typeName.prefix(1)) ? "an " : "a ") + typeName
}

/// Keeps echoed values short in messages, and base64 blobs out of them (messages reach logs).
func clip(_ text: String, limit: Int = 60) -> String {
    if text.count <= limit { return text }
    let base64ish = text.utf8.prefix(256).allSatisfy { byte in
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == 43 || byte == 47
            || byte == 61
    }
    if base64ish { return "<\(text.utf8.count) characters of base64-like data>" }
    return String(text.prefix(limit)) + "…"
}
