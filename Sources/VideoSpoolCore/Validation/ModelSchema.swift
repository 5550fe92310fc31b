/// The request schema of one upstream model, as data: which fields exist, what each accepts, which
/// are required, and the rules that span fields.
public struct ModelSchema: Sendable {
    public let model: String
    public let fields: [Field]
    public let required: Set<String>
    public let rules: [Rule]

    public init(model: String, fields: [Field], required: Set<String>, rules: [Rule]) {
        self.model = model
        self.fields = fields
        self.required = required
        self.rules = rules
    }

    public func field(named name: String) -> Field? {
        fields.first { $0.name == name }
    }

    public struct Field: Sendable {
        public let name: String
        public let kind: Kind

        public init(_ name: String, _ kind: Kind) {
            self.name = name
            self.kind = kind
        }
    }

    public enum Kind: Sendable {
        /// A string; `nonEmpty` refuses "" and whitespace-only text.
        case text(nonEmpty: Bool)
        /// One of fixed strings; the value sent upstream is the canonical spelling.
        case choice([String], caseInsensitive: Bool)
        /// An integer in range; `acceptsDigitString` also takes "5" (and sends 5).
        case integer(ClosedRange<Int64>, acceptsDigitString: Bool)
        case boolean
        case media(MediaRule)
        case mediaList(MediaRule, count: ClosedRange<Int>)
    }

    /// What a media reference field accepts besides http(s) URLs.
    public struct MediaRule: Sendable {
        /// Top-level MIME type accepted in a base64 `data:` URI (`image`, `audio`), or `nil` for none.
        public let dataType: String?
        /// Whether an upstream asset id (`asset://…`) is accepted.
        public let allowsAssetID: Bool

        public static let image = MediaRule(dataType: "image", allowsAssetID: false)
        public static let audio = MediaRule(dataType: "audio", allowsAssetID: true)
        public static let audioList = MediaRule(dataType: "audio", allowsAssetID: false)
        public static let urlOnly = MediaRule(dataType: nil, allowsAssetID: false)

        public init(dataType: String?, allowsAssetID: Bool) {
            self.dataType = dataType
            self.allowsAssetID = allowsAssetID
        }
    }

    public enum Rule: Sendable {
        /// If `field` is present, at least one of `references` must be present too.
        case requiresReference(field: String, references: [String], message: String)
    }
}
