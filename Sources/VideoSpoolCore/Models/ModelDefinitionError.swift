/// A model definition that cannot be used: where in the document (a dotted path such as
/// `properties.duration.minimum`, empty for the document itself) and what is wrong.
public struct ModelDefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? message : "\(path): \(message)"
    }
}
