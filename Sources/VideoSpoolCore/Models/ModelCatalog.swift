/// The models the daemon knows: the built-in definitions plus any the operator added
/// (`models.directory`), each with where it came from.
///
/// Reading files is the caller's business; the catalog only holds parsed definitions.
public struct ModelCatalog: Sendable {
    /// Where a definition came from.
    public enum Source: Sendable, Hashable, CustomStringConvertible {
        case builtIn
        /// A definition file, by path.
        case file(String)

        public var description: String {
            switch self {
            case .builtIn: "built-in"
            case .file(let path): path
            }
        }
    }

    public struct Entry: Sendable {
        public let schema: ModelSchema
        public let source: Source
        /// A file that redefines a built-in model (the file wins).
        public let replacesBuiltIn: Bool
    }

    /// The metrics label of every model that is not listed: one label, however many names
    /// requests invent, so that a metric's label set stays bounded.
    public static let unlistedLabel = "unlisted"

    private var entries: [String: Entry] = [:]

    /// An empty catalog.
    public init() {}

    /// Every model, sorted by id.
    public var models: [Entry] {
        entries.values.sorted { $0.schema.model < $1.schema.model }
    }

    public var count: Int { entries.count }

    public subscript(model: String) -> ModelSchema? {
        entries[model]?.schema
    }

    public func entry(for model: String) -> Entry? {
        entries[model]
    }

    /// Whether requests for `model` are validated against a definition (rather than rejected, or
    /// let through with the generic checks under `models.allow_unlisted`).
    public func isListed(_ model: String) -> Bool {
        entries[model] != nil
    }

    /// The label a metric about `model` carries: the model id when it is listed, else `unlisted`.
    public func metricsLabel(for model: String) -> String {
        isListed(model) ? model : Self.unlistedLabel
    }

    /// Every field name any model has, for hints about unknown fields.
    public var fieldNames: [String] {
        var seen: Set<String> = []
        var names: [String] = []
        for entry in models {
            for field in entry.schema.fields where seen.insert(field.name).inserted { names.append(field.name) }
        }
        return names
    }

    /// Adds a definition. A file may redefine a built-in model; two files may not define the same one.
    ///
    /// - Throws: ``ModelDefinitionError`` when another file already defines the model.
    public mutating func add(_ schema: ModelSchema, source: Source) throws(ModelDefinitionError) {
        var replacesBuiltIn = false
        if let existing = entries[schema.model] {
            guard existing.source == .builtIn, source != .builtIn else {
                throw ModelDefinitionError(
                    path: "model",
                    "'\(schema.model)' is already defined by \(existing.source); one definition per model"
                )
            }
            replacesBuiltIn = true
        }
        entries[schema.model] = Entry(schema: schema, source: source, replacesBuiltIn: replacesBuiltIn)
    }
}

extension ModelCatalog {
    /// The models built into the binary: the files in `models/`, embedded by
    /// `scripts/embed-builtin-models.py`.
    public static let builtIn: ModelCatalog = {
        var catalog = ModelCatalog()
        for file in BuiltInModelDefinitions.files {
            do {
                try catalog.add(try ModelSchema(definition: Array(file.text.utf8)), source: .builtIn)
            } catch {
                // A test loads every built-in file, so this cannot ship.
                preconditionFailure("Invalid state: built-in model definition \(file.name) does not load: \(error)")
            }
        }
        return catalog
    }()
}

extension ModelSchema {
    /// `bytedance/dreamina-seedance-2-0-mini`, the model the daemon first supported.
    public static var seedance20Mini: ModelSchema {
        ModelCatalog.builtIn["bytedance/dreamina-seedance-2-0-mini"]!
    }

    /// Every built-in model, by model id.
    public static var supported: [String: ModelSchema] {
        Dictionary(uniqueKeysWithValues: ModelCatalog.builtIn.models.map { ($0.schema.model, $0.schema) })
    }
}
