public import VideoSpoolCore

/// Makes a request body fit to show a person: inline media (`data:` URLs, long raw base64) becomes
/// `<base64, 48 KB>`, and URLs lose their query strings (they often carry tokens), as in outcome
/// files. Secrets are never in a request body (the API key is a header), so nothing else is hidden.
public enum RequestElision {
    /// Strings at least this long that are all base64 characters are taken for inline media.
    static let base64Threshold = 256

    public static func elide(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var result = JSONObject()
            for (key, member) in object { result[key] = elide(member) }
            return .object(result)
        case .array(let items):
            return .array(items.map(elide))
        case .string(let text):
            return .string(elide(text))
        default:
            return value
        }
    }

    public static func elide(_ text: String) -> String {
        let lower = text.prefix(5).lowercased()
        if lower == "data:", let comma = text.firstIndex(of: ",") {
            return placeholder(bytes: text.utf8.count - text.utf8.distance(from: text.startIndex, to: comma) - 1)
        }
        if text.utf8.count >= base64Threshold, text.utf8.allSatisfy(isBase64) {
            return placeholder(bytes: text.utf8.count)
        }
        if lower.hasPrefix("http"), text.contains("://") { return HTTPURL.redacting(text) }
        return text
    }

    /// `<base64, 48 KB>`: the size of the decoded bytes.
    static func placeholder(bytes encodedLength: Int) -> String {
        let decoded = encodedLength * 3 / 4
        let size = decoded >= 1024 * 1024 ? "\(decoded / (1024 * 1024)) MB" : decoded >= 1024 ? "\(decoded / 1024) KB" : "\(decoded) B"
        return "<base64, \(size)>"
    }

    private static func isBase64(_ byte: UInt8) -> Bool {
        switch byte {
        case 65...90, 97...122, 48...57, 43, 47, 61, 45, 95, 10, 13: true
        default: false
        }
    }
}
