/// Checks one media reference: an http(s) URL, a base64 `data:` URI, or an upstream asset id.
enum MediaReference {
    /// - Parameter model: names the model whose limits these are in messages about what is accepted.
    static func check(_ text: String, rule: ModelSchema.MediaRule, field: String, model: String? = nil) -> ValidationIssue? {
        let lower = text.prefix(16).lowercased()
        let forModel = model.map { " for \($0)" } ?? ""
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            guard rule.acceptsHTTP else {
                return ValidationIssue(
                    field: field,
                    code: .unsupportedScheme,
                    message: "'\(field)' does not take http(s) URLs\(forModel); \(accepted(rule))"
                )
            }
            do {
                _ = try HTTPURL(parsing: text)
                return nil
            } catch {
                return ValidationIssue(field: field, code: .invalidURL, message: "'\(field)' \(error.message)")
            }
        }
        if lower.hasPrefix("data:") {
            guard !rule.dataTypes.isEmpty else {
                return ValidationIssue(
                    field: field,
                    code: .unsupportedScheme,
                    message: rule.acceptsHTTP && !rule.allowsAssetID
                        ? "'\(field)' must be a public http(s) URL; base64 data is not accepted here\(forModel)"
                        : "'\(field)' does not take base64 data\(forModel); \(accepted(rule))"
                )
            }
            return checkDataURI(text, dataTypes: rule.dataTypes, field: field, forModel: forModel)
        }
        if rule.allowsAssetID, lower.hasPrefix("asset://") {
            let id = text.dropFirst("asset://".count)
            let valid = !id.isEmpty && id.utf8.count <= 256
                && id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
            return valid
                ? nil
                : ValidationIssue(field: field, code: .invalidValue, message: "'\(field)' is not a valid asset id")
        }
        if let colon = text.firstIndex(of: ":"), text[..<colon].allSatisfy({ $0.isLetter || $0 == "+" || $0 == "-" || $0 == "." }),
            !text[..<colon].isEmpty
        {
            let scheme = text[..<colon].lowercased()
            return ValidationIssue(
                field: field,
                code: .unsupportedScheme,
                message: "'\(field)' uses the scheme '\(clip(scheme, limit: 20))'; \(accepted(rule))\(forModel)"
            )
        }
        if let dataType = rule.dataTypes.first, text.count >= 64, isBase64(text[...]) {
            return ValidationIssue(
                field: field,
                code: .invalidURL,
                message: "'\(field)' looks like bare base64; wrap it in a data URI "
                    + "(data:\(dataType == "*" ? "<type>" : dataType)/<format>;base64,<data>)"
            )
        }
        return ValidationIssue(
            field: field,
            code: .invalidURL,
            message: "'\(field)' is not a valid reference; \(accepted(rule))\(forModel)"
        )
    }

    private static func accepted(_ rule: ModelSchema.MediaRule) -> String {
        var forms: [String] = []
        if rule.acceptsHTTP { forms.append("an http(s) URL") }
        if !rule.dataTypes.isEmpty { forms.append("a base64 \(dataForms(rule.dataTypes)) URI") }
        if rule.allowsAssetID { forms.append("an asset:// id") }
        return "expected " + forms.joined(separator: " or ")
    }

    /// `data:image/…`, `data:image/… or data:video/…`, `data:…`.
    private static func dataForms(_ types: [String]) -> String {
        types.map { $0 == "*" ? "data:…" : "data:\($0)/…" }.joined(separator: " or ")
    }

    private static func checkDataURI(_ text: String, dataTypes: [String], field: String, forModel: String) -> ValidationIssue? {
        guard let comma = text.firstIndex(of: ",") else {
            return ValidationIssue(field: field, code: .invalidBase64, message: "'\(field)' is a data URI without data")
        }
        let header = text[text.index(text.startIndex, offsetBy: 5)..<comma].lowercased()
        let parameters = header.split(separator: ";")
        let accepted = parameters.first.map { mediaType in
            dataTypes.contains { type in
                if type == "*" {
                    // Any type, but a type/subtype it must be.
                    guard let slash = mediaType.firstIndex(of: "/") else { return false }
                    return slash != mediaType.startIndex && mediaType.index(after: slash) != mediaType.endIndex
                }
                return mediaType.hasPrefix("\(type)/") && mediaType.count > type.count + 1
            }
        }
        guard accepted == true else {
            return ValidationIssue(
                field: field,
                code: .invalidValue,
                message: "'\(field)' must be a \(dataForms(dataTypes)) URI\(forModel) "
                    + "(got data:\(clip(String(header), limit: 30)))"
            )
        }
        guard parameters.last == "base64" else {
            return ValidationIssue(field: field, code: .invalidBase64, message: "'\(field)' data URI must be base64 (;base64,)")
        }
        let payload = text[text.index(after: comma)...]
        guard !payload.isEmpty, isBase64(payload) else {
            return ValidationIssue(field: field, code: .invalidBase64, message: "'\(field)' does not hold valid base64 data")
        }
        return nil
    }

    /// Standard base64 alphabet, padding only at the end, and a length a decoder accepts.
    static func isBase64(_ text: Substring) -> Bool {
        var padding = 0
        var count = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                if padding > 0 { return false }
            case UInt8(ascii: "="):
                padding += 1
                if padding > 2 { return false }
            default:
                return false
            }
            count += 1
        }
        return padding == 0 ? count % 4 != 1 : count % 4 == 0
    }
}
