import Foundation

/// An IPv4 or IPv6 address, parsed strictly or in the lenient spellings resolvers accept.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    /// Parses a literal the way `inet_aton` and `getaddrinfo` would, so that `127.1`, `0x7f000001`,
    /// `2130706433` and `0177.0.0.1` are all recognised as 127.0.0.1, and IPv6 with or without
    /// brackets and zone id (`[fe80::1%eth0]`).
    public init?(lenient text: String) {
        var literal = Substring(text)
        if literal.hasPrefix("["), literal.hasSuffix("]") {
            literal = literal.dropFirst().dropLast()
        }
        if let percent = literal.firstIndex(of: "%") {
            literal = literal[..<percent]
        }
        if literal.contains(":") {
            guard let value = Self.parseIPv6(literal) else { return nil }
            self = value
        } else if let value = Self.parseInetAton(literal) {
            self = .v4(value)
        } else {
            return nil
        }
    }

    /// Parses only the canonical spellings: dotted-quad IPv4 or RFC 4291 IPv6 (no zone).
    public init?(strict text: String) {
        if text.contains(":") {
            guard let value = Self.parseIPv6(Substring(text)) else { return nil }
            self = value
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var value: UInt32 = 0
            for part in parts {
                guard (1...3).contains(part.count), part.allSatisfy(\.isASCIIDigit),
                    !(part.count > 1 && part.first == "0"), let octet = UInt32(part), octet <= 255
                else { return nil }
                value = value << 8 | octet
            }
            self = .v4(value)
        }
    }

    /// The IPv4 address embedded in an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), if any.
    public var ipv4Mapped: IPAddress? {
        guard case .v6(let high, let low) = self, high == 0, low >> 32 == 0xFFFF else { return nil }
        return .v4(UInt32(truncatingIfNeeded: low))
    }

    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
        case .v6(let high, let low):
            let groups = (0..<8).map { index -> UInt16 in
                let word = index < 4 ? high : low
                return UInt16(truncatingIfNeeded: word >> (UInt64(3 - index % 4) * 16))
            }
            // Compress the longest run of zero groups (RFC 5952).
            var bestStart = -1
            var bestLength = 0
            var index = 0
            while index < 8 {
                if groups[index] == 0 {
                    var end = index
                    while end < 8, groups[end] == 0 { end += 1 }
                    if end - index > bestLength, end - index >= 2 {
                        bestStart = index
                        bestLength = end - index
                    }
                    index = end
                } else {
                    index += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    /// `inet_aton` semantics: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last
    /// part fills the remaining bytes.
    static func parseInetAton(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        for part in parts {
            guard let value = parseInetAtonNumber(part) else { return nil }
            values.append(value)
        }
        var result: UInt64 = 0
        for (index, value) in values.enumerated() {
            if index < values.count - 1 {
                guard value <= 255 else { return nil }
                result |= value << (8 * UInt64(3 - index))
            } else {
                let remainingBytes = 4 - index
                guard value < (1 << (8 * UInt64(remainingBytes))) else { return nil }
                result |= value
            }
        }
        return UInt32(result)
    }

    private static func parseInetAtonNumber(_ part: Substring) -> UInt64? {
        guard !part.isEmpty, part.count <= 12 else { return nil }
        let lower = part.lowercased()
        if lower.hasPrefix("0x") {
            let digits = lower.dropFirst(2)
            if digits.isEmpty { return 0 }
            guard digits.allSatisfy(\.isHexDigit) else { return nil }
            return UInt64(digits, radix: 16)
        }
        if lower.count > 1, lower.hasPrefix("0") {
            guard lower.allSatisfy(\.isASCIIDigit) else { return nil }
            return UInt64(lower.dropFirst(), radix: 8)
        }
        guard lower.allSatisfy(\.isASCIIDigit) else { return nil }
        return UInt64(lower)
    }

    static func parseIPv6(_ text: Substring) -> IPAddress? {
        guard !text.isEmpty, text.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        let pieces = text.components(separatedBy: "::")
        guard pieces.count <= 2 else { return nil }
        sawDoubleColon = pieces.count == 2
        func parseGroups(_ piece: String, allowIPv4Tail: Bool) -> [UInt16]? {
            if piece.isEmpty { return [] }
            var groups: [UInt16] = []
            let parts = piece.split(separator: ":", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() {
                if index == parts.count - 1, allowIPv4Tail, part.contains(".") {
                    guard case .v4(let v4)? = IPAddress(strict: String(part)) else { return nil }
                    groups.append(UInt16(v4 >> 16))
                    groups.append(UInt16(v4 & 0xFFFF))
                    continue
                }
                // `UInt16(_:radix:)` alone would also take a sign ("+1", "-0").
                guard (1...4).contains(part.count), part.allSatisfy(\.isHexDigit),
                    let group = UInt16(part, radix: 16)
                else { return nil }
                groups.append(group)
            }
            return groups
        }
        if sawDoubleColon {
            guard let first = parseGroups(pieces[0], allowIPv4Tail: false),
                let second = parseGroups(pieces[1], allowIPv4Tail: true)
            else { return nil }
            head = first
            tail = second
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard let groups = parseGroups(pieces[0], allowIPv4Tail: true), groups.count == 8 else { return nil }
            head = groups
        }
        let groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, group) in groups.enumerated() {
            if index < 4 {
                high = high << 16 | UInt64(group)
            } else {
                low = low << 16 | UInt64(group)
            }
        }
        return .v6(high, low)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
