/// The request schema of one upstream model, as data: which fields exist, what each accepts, which
/// are required, and the rules that span fields.
///
/// Schemas are read from model definition files (``init(definition:)``, format in docs/models.md);
/// the built-in ones are the files in `models/`, embedded in the binary.
public struct ModelSchema: Sendable {
    /// The model id, exactly as sent upstream (`bytedance/seedance-2-0`).
    public let model: String
    public let title: String?
    public let summary: String?
    /// Every field, `model` first, in the definition's order (which unknown-field hints follow).
    public let fields: [Field]
    public let required: Set<String>
    public let rules: [Rule]
    /// Which fields group jobs for the learned poll schedule (see ``GenerationParameters``).
    public let parameterFields: ParameterFields
    /// The definition document as written, for `videospool models show --json`.
    public let definition: JSONObject

    public init(
        model: String,
        title: String? = nil,
        summary: String? = nil,
        fields: [Field],
        required: Set<String>,
        rules: [Rule],
        parameterFields: ParameterFields? = nil,
        definition: JSONObject = JSONObject()
    ) {
        self.model = model
        self.title = title
        self.summary = summary
        self.fields = fields
        self.required = required
        self.rules = rules
        self.parameterFields =
            parameterFields
            ?? ParameterFields(
                resolution: fields.contains { $0.name == "resolution" } ? "resolution" : nil,
                duration: fields.contains { $0.name == "duration" } ? "duration" : nil
            )
        self.definition = definition
    }

    public func field(named name: String) -> Field? {
        fields.first { $0.name == name }
    }

    public struct Field: Sendable, Hashable {
        public let name: String
        public let kind: Kind
        public let summary: String?
        /// What the API assumes when the field is absent: shown to people and editors, never sent.
        public let defaultValue: JSONValue?

        public init(_ name: String, _ kind: Kind, summary: String? = nil, defaultValue: JSONValue? = nil) {
            self.name = name
            self.kind = kind
            self.summary = summary
            self.defaultValue = defaultValue
        }
    }

    public indirect enum Kind: Sendable, Hashable {
        /// A string; `nonEmpty` refuses "" and whitespace-only text; lengths count Unicode scalars.
        case text(nonEmpty: Bool, minimumLength: Int?, maximumLength: Int?)
        /// One of fixed strings; the value sent upstream is the canonical spelling.
        case choice([String], caseInsensitive: Bool)
        /// An integer within the bounds (and among `values` when given); `acceptsDigitString` also
        /// takes "5" and sends 5.
        case integer(IntegerRule)
        /// Any JSON number within the bounds.
        case number(minimum: Double?, maximum: Double?)
        case boolean
        case media(MediaRule)
        case list(Kind, count: ClosedRange<Int>)
        /// A JSON object, passed on unchecked.
        case object
        /// Any JSON value, passed on unchecked (a field the definition names but does not type).
        case any
    }

    /// What an integer field accepts.
    public struct IntegerRule: Sendable, Hashable {
        public var minimum: Int64?
        public var maximum: Int64?
        /// The only values allowed, when the API lists them (`5|10`).
        public var values: [Int64]?
        public var acceptsDigitString: Bool

        public init(minimum: Int64? = nil, maximum: Int64? = nil, values: [Int64]? = nil, acceptsDigitString: Bool = false) {
            self.minimum = minimum
            self.maximum = maximum
            self.values = values
            self.acceptsDigitString = acceptsDigitString
        }

        public func contains(_ value: Int64) -> Bool {
            if let minimum, value < minimum { return false }
            if let maximum, value > maximum { return false }
            if let values, !values.contains(value) { return false }
            return true
        }
    }

    /// Which kinds of reference a media field accepts.
    public struct MediaRule: Sendable, Hashable {
        /// `http://` and `https://` URLs.
        public let acceptsHTTP: Bool
        /// Top-level MIME types accepted in a base64 `data:` URI (`image`, `audio`); `*` for any;
        /// empty for none.
        public let dataTypes: [String]
        /// Whether an upstream asset id (`asset://…`) is accepted.
        public let allowsAssetID: Bool

        public static let image = MediaRule(dataTypes: ["image"])
        public static let audio = MediaRule(dataTypes: ["audio"], allowsAssetID: true)
        public static let audioList = MediaRule(dataTypes: ["audio"])
        public static let urlOnly = MediaRule(dataTypes: [])
        /// What an unlisted model's `…_url` fields get: any well-formed reference.
        public static let anyReference = MediaRule(dataTypes: ["*"], allowsAssetID: true)

        public init(acceptsHTTP: Bool = true, dataTypes: [String], allowsAssetID: Bool = false) {
            self.acceptsHTTP = acceptsHTTP
            self.dataTypes = dataTypes
            self.allowsAssetID = allowsAssetID
        }

        /// The definition file's spelling: `http`, `data:image`, `data`, `asset`.
        public var tokens: [String] {
            var tokens: [String] = acceptsHTTP ? ["http"] : []
            tokens += dataTypes.map { $0 == "*" ? "data" : "data:\($0)" }
            if allowsAssetID { tokens.append("asset") }
            return tokens
        }
    }

    /// A rule that spans fields. A field counts as present when it is in the request and not `null`.
    public struct Rule: Sendable, Hashable {
        public enum Condition: Sendable, Hashable {
            /// If `field` is present, at least one of `fields` must be present too.
            case requiresAnyOf(field: String, fields: [String])
            /// At most one of `fields` may be present.
            case atMostOneOf([String])
            /// At least one of `fields` must be present.
            case atLeastOneOf([String])
        }

        public let condition: Condition
        public let code: ValidationIssue.Code
        public let message: String

        public init(_ condition: Condition, code: ValidationIssue.Code? = nil, message: String? = nil) {
            self.condition = condition
            self.code = code ?? Self.defaultCode(condition)
            self.message = message ?? Self.defaultMessage(condition)
        }

        static func defaultCode(_ condition: Condition) -> ValidationIssue.Code {
            switch condition {
            case .requiresAnyOf, .atLeastOneOf: .missingField
            case .atMostOneOf: .conflictingFields
            }
        }

        static func defaultMessage(_ condition: Condition) -> String {
            switch condition {
            case .requiresAnyOf(let field, let fields):
                "'\(field)' needs \(fields.count == 1 ? "" : "one of ")\(quotedList(fields, conjunction: "or"))"
            case .atMostOneOf(let fields):
                "give at most one of \(quotedList(fields, conjunction: "and"))"
            case .atLeastOneOf(let fields):
                "give at least one of \(quotedList(fields, conjunction: "or"))"
            }
        }

        /// The field a rejection is reported for, given which fields are present.
        func reportedField(present: (String) -> Bool) -> String? {
            switch condition {
            case .requiresAnyOf(let field, _): field
            case .atMostOneOf(let fields): fields.last(where: present)
            case .atLeastOneOf(let fields): fields.first
            }
        }

        /// Whether a request with these fields present breaks the rule.
        func isBroken(present: (String) -> Bool) -> Bool {
            switch condition {
            case .requiresAnyOf(let field, let fields): present(field) && !fields.contains(where: present)
            case .atMostOneOf(let fields): fields.filter(present).count > 1
            case .atLeastOneOf(let fields): !fields.contains(where: present)
            }
        }
    }

    /// The fields whose values stand for resolution and duration when jobs are grouped for the
    /// learned poll schedule. Any string (or integer) field can stand in for the resolution and any
    /// integer field for the duration: they only group jobs.
    public struct ParameterFields: Sendable, Hashable {
        public var resolution: String?
        public var duration: String?

        public init(resolution: String?, duration: String?) {
            self.resolution = resolution
            self.duration = duration
        }
    }
}

/// `'a', 'b' or 'c'`.
func quotedList(_ names: [String], conjunction: String) -> String {
    let quoted = names.map { "'\($0)'" }
    guard quoted.count > 1 else { return quoted.first ?? "" }
    return quoted.dropLast().joined(separator: ", ") + " \(conjunction) " + quoted.last!
}
