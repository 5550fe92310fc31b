/// A setting that stops start-up: missing, malformed or unusable. The message names the key, and
/// the process exits with 78 (`EX_CONFIG`), which the unit does not restart on.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The dotted key (`api.poll.interval_seconds`), or `nil` for the file as a whole.
    public let key: String?
    public let message: String

    public init(key: String?, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String {
        key.map { "\($0): \(message)" } ?? message
    }

    /// `EX_CONFIG` from sysexits.h.
    public static let exitStatus: Int32 = 78
}
