/// A job's identifier: the caller's `job_id` (`[A-Za-z0-9._-]{1,128}`), or one the daemon assigns.
public struct JobID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts a caller-supplied id if it matches `[A-Za-z0-9._-]{1,128}`.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// Wraps an id read back from the store.
    public init(trusted rawValue: String) {
        self.rawValue = rawValue
    }

    public static func isValid(_ value: String) -> Bool {
        let utf8 = value.utf8
        guard (1...128).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Generates ULIDs: 26 Crockford base32 characters, 48 bits of milliseconds then 80 random bits.
///
/// Ids from one generator sort in creation order even within one millisecond (the random part is
/// incremented, as the ULID spec's monotonic mode does), so the job table's order is arrival order.
public struct ULIDGenerator: Sendable {
    private var lastMilliseconds: Int64 = -1
    private var lastRandom: (high: UInt16, low: UInt64) = (0, 0)

    public init() {}

    public mutating func next(at now: Timestamp, using random: inout some RandomNumberGenerator) -> String {
        var milliseconds = max(now.millisecondsSinceEpoch, 0)
        if milliseconds <= lastMilliseconds {
            milliseconds = lastMilliseconds
            let (low, overflow) = lastRandom.low.addingReportingOverflow(1)
            lastRandom = (overflow ? lastRandom.high &+ 1 : lastRandom.high, low)
        } else {
            lastRandom = (UInt16.random(in: 0...UInt16.max, using: &random), random.next())
        }
        lastMilliseconds = milliseconds
        return Self.encode(milliseconds: UInt64(milliseconds), high: lastRandom.high, low: lastRandom.low)
    }

    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    static func encode(milliseconds: UInt64, high: UInt16, low: UInt64) -> String {
        var output = [UInt8](repeating: 0, count: 26)
        var time = milliseconds
        for index in stride(from: 9, through: 0, by: -1) {
            output[index] = alphabet[Int(time & 31)]
            time >>= 5
        }
        // 80 random bits as 16 characters: 16 bits of `high` then 64 of `low`.
        var lowBits = low
        var highBits = UInt64(high)
        for index in stride(from: 25, through: 10, by: -1) {
            output[index] = alphabet[Int(lowBits & 31)]
            lowBits = (lowBits >> 5) | ((highBits & 31) << 59)
            highBits >>= 5
        }
        return String(decoding: output, as: UTF8.self)
    }
}
