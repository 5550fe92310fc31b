/// A strict RFC 8259 parser for request files.
///
/// Stricter than Foundation's decoders on purpose: it rejects duplicate keys, a byte order mark,
/// invalid UTF-8, lone surrogates and nesting deeper than `maximumDepth` (iteratively bounded, so
/// hostile input cannot overflow the stack), and it reports the byte offset of every error.
public struct JSONParser: Sendable {
    public var maximumDepth: Int

    public init(maximumDepth: Int = 64) {
        self.maximumDepth = maximumDepth
    }

    public func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in
            var reader = Reader(bytes: buffer, maximumDepth: maximumDepth)
            return try reader.parseDocument()
        }
    }

    public func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    let maximumDepth: Int
    var position = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if bytes.isEmpty {
            throw JSONParseError(code: .empty, offset: 0, message: "the file is empty")
        }
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw JSONParseError(
                code: .byteOrderMark,
                offset: 0,
                message: "the file starts with a UTF-8 byte order mark; save it as UTF-8 without BOM"
            )
        }
        if bytes.count >= 2, (bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF) {
            // Not JSON at all (RFC 8259 requires UTF-8), however much more of it is written.
            throw JSONParseError(
                code: .syntax,
                offset: 0,
                message: "the file starts with a UTF-16 byte order mark; save it as UTF-8 without BOM"
            )
        }
        skipWhitespace()
        if position == bytes.count {
            throw JSONParseError(code: .empty, offset: position, message: "the file contains only whitespace")
        }
        let value = try parseValue()
        skipWhitespace()
        if position != bytes.count {
            throw unexpected("after the end of the JSON document")
        }
        return value
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    func unexpected(_ context: String) -> JSONParseError {
        guard position < bytes.count else {
            return JSONParseError(code: .truncated, offset: position, message: "the JSON ends too early (truncated?)")
        }
        let byte = bytes[position]
        if byte == 0 {
            return JSONParseError(code: .nulByte, offset: position, message: "NUL byte \(context)")
        }
        if byte >= 0x80 {
            return JSONParseError(code: .syntax, offset: position, message: "unexpected non-ASCII byte \(context)")
        }
        let character = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "control byte"
        return JSONParseError(code: .syntax, offset: position, message: "unexpected \(character) \(context)")
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard position < bytes.count else { throw unexpected("where a value was expected") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw unexpected("where a value was expected")
        }
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maximumDepth {
            throw JSONParseError(
                code: .tooDeep,
                offset: position,
                message: "JSON is nested deeper than \(maximumDepth) levels"
            )
        }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        position += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object(JSONObject(uniqueMembers: members))
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw unexpected("where an object key was expected")
            }
            let keyOffset = position
            let key = try parseString()
            if !seen.insert(key).inserted {
                throw JSONParseError(code: .duplicateKey, offset: keyOffset, message: "duplicate key '\(key)'")
            }
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw unexpected("where ':' was expected after key '\(key)'")
            }
            position += 1
            skipWhitespace()
            let value = try parseValue()
            members.append((key, value))
            skipWhitespace()
            guard position < bytes.count else { throw unexpected("inside an object") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            if bytes[position] == UInt8(ascii: "}") {
                position += 1
                depth -= 1
                return .object(JSONObject(uniqueMembers: members))
            }
            throw unexpected("where ',' or '}' was expected")
        }
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw unexpected("inside an array") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            if bytes[position] == UInt8(ascii: "]") {
                position += 1
                depth -= 1
                return .array(elements)
            }
            throw unexpected("where ',' or ']' was expected")
        }
    }

    mutating func parseLiteral(_ word: StaticString, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let count = word.utf8CodeUnitCount
        for index in 0..<count {
            guard position + index < bytes.count else {
                position += index
                throw unexpected("inside a literal")
            }
            if bytes[position + index] != word.utf8Start[index] {
                position += index
                throw unexpected("inside a literal")
            }
        }
        position += count
        return value
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, isDigit(bytes[position]) else { throw unexpected("in a number") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) { throw unexpected("(leading zero) in a number") }
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else { throw unexpected("after '.' in a number") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else { throw unexpected("in a number's exponent") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        return JSONNumber(validatedLiteral: text)
    }

    func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    mutating func parseString() throws(JSONParseError) -> String {
        let open = position
        position += 1
        var runStart = position
        var scalars: [UInt8] = []
        var hasEscapes = false
        while true {
            guard position < bytes.count else {
                // Bytes that can never become UTF-8, however the string goes on, are the first
                // problem; only an incomplete last character may still be being written.
                scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                if !Self.isUTF8Prefix(scalars) {
                    throw JSONParseError(code: .invalidUTF8, offset: open, message: "a string is not valid UTF-8")
                }
                throw JSONParseError(code: .truncated, offset: open, message: "a string is never closed (truncated?)")
            }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                break
            }
            if byte < 0x20 {
                if byte == 0 {
                    throw JSONParseError(code: .nulByte, offset: position, message: "NUL byte inside a string")
                }
                throw JSONParseError(
                    code: .syntax,
                    offset: position,
                    message: "unescaped control character inside a string"
                )
            }
            if byte == UInt8(ascii: "\\") {
                if !hasEscapes { hasEscapes = true }
                scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                try parseEscape(into: &scalars)
                runStart = position
                continue
            }
            position += 1
        }
        let raw: UnsafeBufferPointer<UInt8>
        if hasEscapes {
            scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
            position += 1
            return try decodeUTF8(scalars[...], offset: open)
        }
        raw = UnsafeBufferPointer(rebasing: bytes[runStart..<position])
        position += 1
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw JSONParseError(code: .invalidUTF8, offset: open, message: "a string is not valid UTF-8")
        }
        return string
    }

    /// Whether `bytes` is valid UTF-8, or becomes it when more bytes follow (only its last
    /// character is incomplete).
    static func isUTF8Prefix(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var position = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                position += encoded.count
            case .error(let length):
                // An error that reaches the end may be a character cut short; any other is not.
                guard position + length == bytes.count else { return false }
                return isIncompleteSequence(bytes[position...])
            case .emptyInput:
                return true
            }
        }
    }

    /// Whether `tail` (1 to 3 bytes) is the start of a well-formed UTF-8 sequence (Unicode
    /// Table 3-7), missing only its last bytes.
    static func isIncompleteSequence(_ tail: ArraySlice<UInt8>) -> Bool {
        guard let lead = tail.first else { return false }
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            second = 0x80...0x9F
        case 0xF0:
            length = 4
            second = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            second = 0x80...0x8F
        default: return false
        }
        guard tail.count < length else { return false }
        for (index, byte) in tail.dropFirst().enumerated() {
            guard (index == 0 ? second : 0x80...0xBF).contains(byte) else { return false }
        }
        return true
    }

    func decodeUTF8(_ bytes: ArraySlice<UInt8>, offset: Int) throws(JSONParseError) -> String {
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw JSONParseError(code: .invalidUTF8, offset: offset, message: "a string is not valid UTF-8")
        }
        return string
    }

    mutating func parseEscape(into output: inout [UInt8]) throws(JSONParseError) {
        let escapeOffset = position
        position += 1
        guard position < bytes.count else { throw unexpected("in an escape sequence") }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""): output.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): output.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): output.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if (0xD800...0xDBFF).contains(scalar) {
                // The file ends inside the pair: it may still be being written.
                if position == bytes.count || (position + 1 == bytes.count && bytes[position] == UInt8(ascii: "\\")) {
                    position = bytes.count
                    throw unexpected("in a \\u escape")
                }
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else {
                    throw JSONParseError(code: .syntax, offset: escapeOffset, message: "lone surrogate in \\u escape")
                }
                position += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONParseError(code: .syntax, offset: escapeOffset, message: "invalid surrogate pair")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw JSONParseError(code: .syntax, offset: escapeOffset, message: "lone surrogate in \\u escape")
            }
            if scalar == 0 {
                throw JSONParseError(code: .nulByte, offset: escapeOffset, message: "NUL character (\\u0000) in a string")
            }
            guard let unicode = Unicode.Scalar(scalar) else {
                throw JSONParseError(code: .syntax, offset: escapeOffset, message: "invalid \\u escape")
            }
            output.append(contentsOf: Array(String(Character(unicode)).utf8))
        default:
            position = escapeOffset
            throw JSONParseError(code: .syntax, offset: escapeOffset, message: "invalid escape sequence in a string")
        }
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard position < bytes.count else { throw unexpected("in a \\u escape") }
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw unexpected("in a \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }
}
