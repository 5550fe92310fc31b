import Crypto

/// Content hashes for spool files.
public enum ContentDigest {
    /// Lowercase hex SHA-256.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    fileprivate static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// SHA-256 of bytes that arrive in pieces (a file copied in chunks), never all in memory.
    public struct Running: Sendable {
        private var hasher = SHA256()

        public init() {}

        public mutating func update(_ bytes: [UInt8]) {
            hasher.update(data: bytes)
        }

        /// Lowercase hex of everything so far.
        public func finish() -> String {
            ContentDigest.hex(hasher.finalize())
        }
    }
}
