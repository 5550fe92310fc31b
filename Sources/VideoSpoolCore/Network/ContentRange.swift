/// A `Content-Range` header of a byte range (RFC 9110 §14.4): `bytes 100-199/1000`,
/// `bytes 100-199/*`, or, on a 416, `bytes */1000`.
public struct ContentRange: Sendable, Hashable {
    /// The first and last byte positions sent (inclusive), or `nil` for an unsatisfied range.
    public var range: ClosedRange<Int64>?
    /// The length of the whole representation, if the server knows it.
    public var completeLength: Int64?

    public init(range: ClosedRange<Int64>?, completeLength: Int64?) {
        self.range = range
        self.completeLength = completeLength
    }

    public init?(headerValue: String) {
        let value = headerValue.trimmingWhitespace
        guard value.lowercased().hasPrefix("bytes ") else { return nil }
        let parts = value.dropFirst("bytes ".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let rangeText = String(parts[0]).trimmingWhitespace
        let lengthText = String(parts[1]).trimmingWhitespace
        if lengthText == "*" {
            completeLength = nil
        } else {
            guard let length = Self.number(lengthText) else { return nil }
            completeLength = length
        }
        if rangeText == "*" {
            guard completeLength != nil else { return nil }
            range = nil
            return
        }
        let bounds = rangeText.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Self.number(bounds[0]), let last = Self.number(bounds[1]), first <= last
        else { return nil }
        if let completeLength, last >= completeLength { return nil }
        range = first...last
    }

    private static func number(_ text: some StringProtocol) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(text)
    }
}
