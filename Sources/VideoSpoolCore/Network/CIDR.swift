/// An address range such as `10.0.0.0/8` or `fc00::/7`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let base: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard let address = IPAddress(strict: String(parts[0])) else { return nil }
        let maximum = if case .v4 = address { 32 } else { 128 }
        var length = maximum
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maximum).contains(value) else { return nil }
            length = value
        } else if parts.count > 2 {
            return nil
        }
        self.base = address
        self.prefixLength = length
    }

    public var description: String { "\(base)/\(prefixLength)" }

    public func contains(_ address: IPAddress) -> Bool {
        switch (base, address) {
        case (.v4(let network), .v4(let candidate)):
            guard prefixLength > 0 else { return true }
            let mask: UInt32 = prefixLength == 32 ? .max : ~(UInt32.max >> UInt32(prefixLength))
            return network & mask == candidate & mask
        case (.v6(let networkHigh, let networkLow), .v6(let high, let low)):
            let highBits = min(prefixLength, 64)
            let lowBits = max(prefixLength - 64, 0)
            let highMask: UInt64 = highBits == 0 ? 0 : (highBits == 64 ? .max : ~(UInt64.max >> UInt64(highBits)))
            let lowMask: UInt64 = lowBits == 0 ? 0 : (lowBits == 64 ? .max : ~(UInt64.max >> UInt64(lowBits)))
            return networkHigh & highMask == high & highMask && networkLow & lowMask == low & lowMask
        default:
            return false
        }
    }
}
