import Foundation

/// The symmetric signing key, given in the Standard Webhooks form `whsec_<base64>`.
public struct WebhookSecret: Sendable, Hashable, CustomStringConvertible {
    /// The decoded key bytes (24 to 64, as the spec requires).
    public let key: [UInt8]

    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws(FormatError) {
        let trimmed = text.trimmingWhitespace
        guard trimmed.hasPrefix("whsec_") else {
            throw FormatError(description: "must start with 'whsec_' (the Standard Webhooks secret format)")
        }
        let encoded = String(trimmed.dropFirst("whsec_".count))
        guard let data = Data(base64Encoded: encoded) else {
            throw FormatError(description: "is not valid base64 after 'whsec_'")
        }
        guard (24...64).contains(data.count) else {
            throw FormatError(description: "decodes to \(data.count) bytes; use 24 to 64 random bytes (32 is typical)")
        }
        self.key = Array(data)
    }

    /// Never prints the key.
    public var description: String { "whsec_<redacted>" }
}
