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
        /// The models requests are checked against.
        public var models: ModelCatalog
        /// Lets a request for a model without a definition through, with only the generic checks
        /// (`models.allow_unlisted`).
        public var allowUnlistedModels: Bool

        public init(
            addressPolicy: AddressPolicy = AddressPolicy(),
            maximumMetadataBytes: Int = 16 * 1024,
            maximumCallbackURLs: Int = 10,
            models: ModelCatalog = .builtIn,
            allowUnlistedModels: Bool = false
        ) {
            self.addressPolicy = addressPolicy
            self.maximumMetadataBytes = maximumMetadataBytes
            self.maximumCallbackURLs = maximumCallbackURLs
            self.models = models
            self.allowUnlistedModels = allowUnlistedModels
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
        var unlisted = false
        switch object["model"] {
        case nil, .null?:
            issues.append(ValidationIssue(field: "model", code: .missingField, message: "'model' is required"))
        case .string(let name)?:
            model = name
            schema = options.models[name]
            if schema == nil {
                if options.allowUnlistedModels, !name.allSatisfy(\.isWhitespace) {
                    unlisted = true
                } else {
                    issues.append(unsupportedModel(name))
                }
            }
        case let other?:
            issues.append(FieldChecker(model: "").wrongType("model", expected: "a string", got: other))
        }

        var body = JSONObject()
        var parameters = GenerationParameters()
        if let schema {
            body = validateFields(object, schema: schema, parameters: &parameters, issues: &issues)
        } else if unlisted {
            body = validateUnlisted(object, parameters: &parameters, issues: &issues)
        } else {
            // Without a schema, still point out keys nobody knows.
            let known = options.models.fieldNames + Self.daemonKeys
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
                parameters: parameters,
                isListed: !unlisted
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
        let checker = FieldChecker(model: schema.model)
        let knownNames = schema.fields.map(\.name) + Self.daemonKeys
        for (key, value) in object {
            if Self.daemonKeys.contains(key) { continue }
            guard let field = schema.field(named: key) else {
                issues.append(unknownField(key, known: knownNames, model: schema.model))
                continue
            }
            if case .null = value {
                if schema.required.contains(key) {
                    issues.append(ValidationIssue(field: key, code: .missingField, message: "'\(key)' is required"))
                }
                continue
            }
            if let normalized = checker.check(value, kind: field.kind, path: key, issues: &issues) {
                body[key] = normalized
            }
        }
        for name in schema.required.sorted() where object[name] == nil {
            issues.append(ValidationIssue(field: name, code: .missingField, message: "'\(name)' is required"))
        }
        func present(_ name: String) -> Bool { object[name] != nil && object[name] != .null }
        for rule in schema.rules where rule.isBroken(present: present) {
            issues.append(ValidationIssue(field: rule.reportedField(present: present), code: rule.code, message: rule.message))
        }
        parameters = Self.parameters(body, fields: schema.parameterFields)
        return body
    }

    /// The values that group jobs for the learned poll schedule, from the body as it will be sent.
    static func parameters(_ body: JSONObject, fields: ModelSchema.ParameterFields) -> GenerationParameters {
        var parameters = GenerationParameters()
        if let name = fields.resolution {
            switch body[name] {
            case .string(let text)?: parameters.resolution = text
            case .number(let number)? where number.isInteger: parameters.resolution = number.text
            default: break
            }
        }
        if let name = fields.duration {
            switch body[name] {
            case .number(let number)?: parameters.durationSeconds = number.int64Value.flatMap { Int(exactly: $0) }
            case .string(let text)? where !text.isEmpty && text.utf8.count <= 18 && text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }):
                parameters.durationSeconds = Int(text)
            default: break
            }
        }
        return parameters
    }

    /// A model without a definition, let through by `models.allow_unlisted`: only what holds for
    /// every model is checked. Fields named `…_url` must be well-formed references (http(s), a
    /// base64 `data:` URI or `asset://`), fields named `…_urls` lists of them. The body is sent as
    /// written, without the daemon's keys and `null` members.
    private func validateUnlisted(
        _ object: JSONObject,
        parameters: inout GenerationParameters,
        issues: inout [ValidationIssue]
    ) -> JSONObject {
        var body = JSONObject()
        let checker = FieldChecker(model: object["model"]?.stringValue ?? "")
        for (key, value) in object where !Self.daemonKeys.contains(key) {
            if case .null = value { continue }
            let kind: ModelSchema.Kind
            if key.hasSuffix("_url") {
                kind = .media(.anyReference)
            } else if key.hasSuffix("_urls") {
                kind = .list(.media(.anyReference), count: 0...Int(Int32.max))
            } else {
                kind = .any
            }
            if checker.check(value, kind: kind, path: key, issues: &issues) != nil {
                body[key] = value
            }
        }
        parameters = Self.parameters(body, fields: ModelSchema.ParameterFields(resolution: "resolution", duration: "duration"))
        return body
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

    /// A key the model does not have; when other models have it, the message says this model
    /// does not take it (`watermark` for a model without watermarks) rather than suggesting a typo.
    private func unknownField(_ key: String, known: [String], model: String? = nil) -> ValidationIssue {
        if let model, options.models.fieldNames.contains(key) {
            return ValidationIssue(
                field: key,
                code: .unknownField,
                message: "unknown field '\(clip(key))' for \(model); other models take it, this one does not"
            )
        }
        var message = "unknown field '\(clip(key))'"
        if let suggestion = FieldSuggestion.nearest(to: key, among: known) {
            message += "; did you mean '\(suggestion)'?"
        }
        return ValidationIssue(field: key, code: .unknownField, message: message)
    }

    private func unsupportedModel(_ name: String) -> ValidationIssue {
        let ids = options.models.models.map(\.schema.model)
        let listed = ids.prefix(12).map { "'\($0)'" }.joined(separator: ", ")
        var message = "model '\(clip(name))' is not supported; supported: \(listed)"
        if ids.count > 12 { message += " and \(ids.count - 12) more (videospool models lists them)" }
        if let suggestion = FieldSuggestion.nearest(to: name, among: ids), suggestion != name {
            message += "; did you mean '\(suggestion)'?"
        }
        return ValidationIssue(field: "model", code: .unsupportedModel, message: message)
    }

    private func wrongType(_ field: String, expected: String, got value: JSONValue) -> ValidationIssue {
        FieldChecker(model: "").wrongType(field, expected: expected, got: value)
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
