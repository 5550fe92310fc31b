/// Checks one value against a field's kind and normalizes it, naming the model's own limits in its
/// messages ("'resolution' must be one of 480p, 720p for bytedance/dreamina-seedance-2-0-mini").
struct FieldChecker {
    /// The model whose limits these are, for messages.
    let model: String

    private var forModel: String { " for \(model)" }

    /// The value to send upstream, or `nil` (with the reason appended to `issues`).
    func check(_ value: JSONValue, kind: ModelSchema.Kind, path name: String, issues: inout [ValidationIssue]) -> JSONValue? {
        switch kind {
        case .text(let nonEmpty, let minimumLength, let maximumLength):
            guard case .string(let text) = value else {
                issues.append(wrongType(name, expected: "a string", got: value))
                return nil
            }
            if nonEmpty, text.allSatisfy(\.isWhitespace) {
                issues.append(ValidationIssue(field: name, code: .emptyValue, message: "'\(name)' must not be empty"))
                return nil
            }
            // JSON Schema counts Unicode code points, and so do we, so that editors agree.
            let length = text.unicodeScalars.count
            if let minimumLength, length < minimumLength {
                issues.append(
                    ValidationIssue(
                        field: name,
                        code: .outOfRange,
                        message: "'\(name)' must be at least \(minimumLength) characters\(forModel) (got \(length))"
                    )
                )
                return nil
            }
            if let maximumLength, length > maximumLength {
                issues.append(
                    ValidationIssue(
                        field: name,
                        code: .outOfRange,
                        message: "'\(name)' must be at most \(maximumLength) characters\(forModel) (got \(length))"
                    )
                )
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
                var message = "'\(name)' must be one of \(choices.joined(separator: ", "))\(forModel) (got '\(clip(text))')"
                if !caseInsensitive, let caseMatch = choices.first(where: { $0.lowercased() == text.lowercased() }) {
                    message += "; values are case-sensitive: write '\(caseMatch)'"
                }
                issues.append(ValidationIssue(field: name, code: .invalidValue, message: message))
                return nil
            }
            return .string(match)

        case .integer(let rule):
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
                    issues.append(outOfRange(name, rule: rule, got: number.text))
                    return nil
                }
                integer = parsed
            case .string(let text) where rule.acceptsDigitString:
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
            guard rule.contains(integer) else {
                issues.append(outOfRange(name, rule: rule, got: String(integer)))
                return nil
            }
            return .int(integer)

        case .number(let minimum, let maximum):
            guard case .number(let number) = value, let double = number.doubleValue, double.isFinite else {
                issues.append(wrongType(name, expected: "a number", got: value))
                return nil
            }
            let below = minimum.map { double < $0 } ?? false
            let above = maximum.map { double > $0 } ?? false
            if below || above {
                issues.append(rangeIssue(name, minimum: minimum.map(format), maximum: maximum.map(format), got: number.text))
                return nil
            }
            return value

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
            if let issue = MediaReference.check(text, rule: rule, field: name, model: model) {
                issues.append(issue)
                return nil
            }
            return value

        case .list(let item, let count):
            let ofURLs: Bool
            if case .media = item { ofURLs = true } else { ofURLs = false }
            guard case .array(let items) = value else {
                issues.append(wrongType(name, expected: ofURLs ? "an array of URLs" : "an array", got: value))
                return nil
            }
            if items.count < count.lowerBound {
                issues.append(
                    ValidationIssue(
                        field: name,
                        code: .tooFewItems,
                        message: "'\(name)' must have at least \(count.lowerBound) item(s)\(forModel); leave it out instead"
                    )
                )
                return nil
            }
            if items.count > count.upperBound {
                issues.append(
                    ValidationIssue(
                        field: name,
                        code: .tooManyItems,
                        message: "'\(name)' has \(items.count) items; at most \(count.upperBound) are allowed\(forModel)"
                    )
                )
                return nil
            }
            var normalized: [JSONValue] = []
            for (index, element) in items.enumerated() {
                if let checked = check(element, kind: item, path: "\(name)[\(index)]", issues: &issues) {
                    normalized.append(checked)
                }
            }
            return normalized.count == items.count ? .array(normalized) : nil

        case .object:
            guard case .object = value else {
                issues.append(wrongType(name, expected: "a JSON object", got: value))
                return nil
            }
            return value

        case .any:
            return value
        }
    }

    // MARK: - Messages

    func wrongType(_ field: String, expected: String, got value: JSONValue) -> ValidationIssue {
        ValidationIssue(
            field: field,
            code: .wrongType,
            message: "'\(field)' must be \(expected), not \(article(value.typeName))"
        )
    }

    private func outOfRange(_ field: String, rule: ModelSchema.IntegerRule, got: String) -> ValidationIssue {
        if let values = rule.values {
            return ValidationIssue(
                field: field,
                code: .invalidValue,
                message: "'\(field)' must be one of \(values.map(String.init).joined(separator: ", "))\(forModel) "
                    + "(got \(clip(got)))"
            )
        }
        return rangeIssue(field, minimum: rule.minimum.map(String.init), maximum: rule.maximum.map(String.init), got: got)
    }

    private func rangeIssue(_ field: String, minimum: String?, maximum: String?, got: String) -> ValidationIssue {
        let bounds =
            switch (minimum, maximum) {
            case (let minimum?, let maximum?): "between \(minimum) and \(maximum)"
            case (let minimum?, nil): "at least \(minimum)"
            case (nil, let maximum?): "at most \(maximum)"
            case (nil, nil): "a number"
            }
        return ValidationIssue(field: field, code: .outOfRange, message: "'\(field)' must be \(bounds)\(forModel) (got \(clip(got)))")
    }

    private func format(_ value: Double) -> String {
        JSONNumber(value).text
    }
}
