/// One reason a request file was rejected: the field (a JSON path such as `image_urls[2]`, or `nil`
/// for the whole file), a stable code and a message written for the person who made the file.
public struct ValidationIssue: Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let description: String

        public init(stringLiteral value: String) {
            self.description = value
        }

        public init(_ value: String) {
            self.description = value
        }

        // The file itself.
        public static let notRegularFile: Code = "not_regular_file"
        public static let symlink: Code = "symlink"
        public static let hardLink: Code = "hard_link"
        public static let tooLarge: Code = "too_large"
        public static let unreadable: Code = "unreadable"
        // Its JSON (see ``JSONParseError/Code`` for the parse codes).
        public static let notAnObject: Code = "not_an_object"
        // Its fields.
        public static let missingField: Code = "missing_field"
        public static let unknownField: Code = "unknown_field"
        public static let wrongType: Code = "wrong_type"
        public static let invalidValue: Code = "invalid_value"
        public static let outOfRange: Code = "out_of_range"
        public static let emptyValue: Code = "empty_value"
        public static let tooFewItems: Code = "too_few_items"
        public static let tooManyItems: Code = "too_many_items"
        public static let invalidURL: Code = "invalid_url"
        public static let unsupportedScheme: Code = "unsupported_scheme"
        public static let invalidBase64: Code = "invalid_base64"
        public static let audioWithoutReference: Code = "audio_without_reference"
        public static let unsupportedModel: Code = "unsupported_model"
        public static let conflictingFields: Code = "conflicting_fields"
        public static let callbackNotAllowed: Code = "callback_not_allowed"
        public static let invalidJobID: Code = "invalid_job_id"
        public static let metadataTooLarge: Code = "metadata_too_large"
        public static let duplicateJobID: Code = "duplicate_job_id"
        public static let duplicateRequest: Code = "duplicate_request"
    }

    public var field: String?
    public var code: Code
    public var message: String

    public init(field: String?, code: Code, message: String) {
        self.field = field
        self.code = code
        self.message = message
    }

    public init(_ error: JSONParseError) {
        self.init(field: nil, code: Code(error.code.description), message: error.description)
    }

    public var description: String {
        field.map { "\($0): \(message)" } ?? message
    }

    public var json: JSONValue {
        .object(JSONObject(["field": .optional(field), "code": .string(code.description), "message": .string(message)]))
    }
}
