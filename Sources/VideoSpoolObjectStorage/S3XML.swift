/// Just enough XML for S3's answers: the text of the first element with a given name.
///
/// S3's answers are small, flat documents (`<Error><Code>…`, `<InitiateMultipartUploadResult>…
/// <UploadId>`), so a full parser (FoundationXML, which would also need libxml2 at run time) is not
/// needed. Text is unescaped (the five predefined entities and numeric references); CDATA is not used by S3.
struct S3XML {
    private let text: String

    init(_ bytes: [UInt8]) {
        self.text = String(decoding: bytes, as: UTF8.self)
    }

    /// Whether the document's first element is `name` (`Error` in a 200 answer to
    /// CompleteMultipartUpload means it failed).
    func rootIs(_ name: String) -> Bool {
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "<") {
            let after = rest[rest.index(after: open)...]
            if after.hasPrefix("?") || after.hasPrefix("!") {
                guard let close = after.firstIndex(of: ">") else { return false }
                rest = after[after.index(after: close)...]
                continue
            }
            return after.hasPrefix(name + ">") || after.hasPrefix(name + " ")
        }
        return false
    }

    /// The unescaped text of the first `<name>…</name>`, or nil.
    func text(of name: String) -> String? {
        var rest = Substring(text)
        while let start = rest.firstRange(of: "<" + name) {
            let afterName = rest[start.upperBound...]
            guard let next = afterName.first else { return nil }
            guard next == ">" || next == " " || next == "\n" || next == "\t" else {
                rest = afterName
                continue
            }
            guard let close = afterName.firstIndex(of: ">") else { return nil }
            if afterName[..<close].hasSuffix("/") { return "" }
            let content = afterName[afterName.index(after: close)...]
            guard let end = content.firstRange(of: "</" + name + ">") else { return nil }
            return Self.unescape(content[..<end.lowerBound])
        }
        return nil
    }

    static func unescape(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var output = ""
        var rest = text
        while let ampersand = rest.firstIndex(of: "&") {
            output += rest[..<ampersand]
            let entity = rest[ampersand...]
            guard let semicolon = entity.firstIndex(of: ";"), entity.distance(from: ampersand, to: semicolon) <= 10 else {
                output += "&"
                rest = rest[rest.index(after: ampersand)...]
                continue
            }
            let name = entity[entity.index(after: ampersand)..<semicolon]
            switch name {
            case "amp": output += "&"
            case "lt": output += "<"
            case "gt": output += ">"
            case "quot": output += "\""
            case "apos": output += "'"
            default:
                let scalar: Unicode.Scalar?
                if name.hasPrefix("#x") {
                    scalar = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if name.hasPrefix("#") {
                    scalar = UInt32(name.dropFirst(1)).flatMap(Unicode.Scalar.init)
                } else {
                    scalar = nil
                }
                output += scalar.map { String(Character($0)) } ?? String(entity[...semicolon])
            }
            rest = entity[entity.index(after: semicolon)...]
        }
        return output + rest
    }

    /// Escapes text for an element's content.
    static func escape(_ text: String) -> String {
        var output = ""
        for character in text {
            switch character {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&apos;"
            default: output.append(character)
            }
        }
        return output
    }
}
