/// Checks one media reference: an http(s) URL, a base64 `data:` URI, or an upstream asset id.
enum MediaReference {
    static func check(_ text: String, rule: ModelSchema.MediaRule, field: String) -> ValidationIssue? {
        let lower = text.prefix(16).lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            do {
                _ = try HTTPURL(parsing: text)
                return nil
            } catch {
                return ValidationIssue(field: field, code: .invalidURL, message: "'\(field)' \(error.message)")
            }
        }
        if lower.hasPrefix("data:") {
            guard let dataType = rule.dataType else {
                return ValidationIssue(
                    field: field,
                    code: .unsupportedScheme,
                    message: "'\(field)' must be a public http(s) URL; base64 data is not accepted here"
                )
            }
            return checkDataURI(text, dataType: dataType, field: field)
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
                message: "'\(field)' uses the scheme '\(clip(scheme, limit: 20))'; \(accepted(rule))"
            )
        }
        if rule.dataType != nil, text.count >= 64, isBase64(text[...]) {
            return ValidationIssue(
                field: field,
                code: .invalidURL,
                message: "'\(field)' looks like bare base64; wrap it in a data URI "
                    + "(data:\(rule.dataType!)/<format>;base64,<data>)"
            )
        }
        return ValidationIssue(field: field, code: .invalidURL, message: "'\(field)' is not a valid reference; \(accepted(rule))")
    }

    private static func accepted(_ rule: ModelSchema.MediaRule) -> String {
        var forms = ["an http(s) URL"]
        if let type = rule.dataType { forms.append("a base64 data:\(type)/… URI") }
        if rule.allowsAssetID { forms.append("an asset:// id") }
        return "expected " + forms.joined(separator: " or ")
    }

    private static func checkDataURI(_ text: String, dataType: String, field: String) -> ValidationIssue? {
        guard let comma = text.firstIndex(of: ",") else {
            return ValidationIssue(field: field, code: .invalidBase64, message: "'\(field)' is a data URI without data")
        }
        let header = text[text.index(text.startIndex, offsetBy: 5)..<comma].lowercased()
        let parameters = header.split(separator: ";")
        guard let mediaType = parameters.first, mediaType.hasPrefix("\(dataType)/"), mediaType.count > dataType.count + 1
        else {
            return ValidationIssue(
                field: field,
                code: .invalidValue,
                message: "'\(field)' must be a data:\(dataType)/… URI (got data:\(clip(String(header), limit: 30)))"
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
