/// Why a byte sequence is not an acceptable JSON document, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong; stable strings used as rejection codes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let description: String

        public static let empty = Code(description: "empty_file")
        public static let byteOrderMark = Code(description: "byte_order_mark")
        public static let invalidUTF8 = Code(description: "invalid_utf8")
        public static let nulByte = Code(description: "nul_byte")
        public static let truncated = Code(description: "truncated_json")
        public static let syntax = Code(description: "invalid_json")
        public static let duplicateKey = Code(description: "duplicate_key")
        public static let tooDeep = Code(description: "too_deeply_nested")
    }

    public let code: Code
    /// Offset of the offending byte from the start of the document.
    public let offset: Int
    public let message: String

    public var description: String { "\(message) (at byte \(offset))" }
}
