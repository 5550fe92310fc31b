/// Removes known secrets from text that came from outside (API error bodies may echo a key).
public struct SecretScrubber: Sendable {
    private let secrets: [[UInt8]]

    public init(secrets: [String]) {
        self.secrets = secrets.filter { $0.utf8.count >= 8 }.map { Array($0.utf8) }
    }

    public func scrub(_ bytes: [UInt8]) -> [UInt8] {
        var output = bytes
        for secret in secrets { output = Self.replace(secret, in: output) }
        return output
    }

    public func scrub(_ text: String) -> String {
        String(decoding: scrub(Array(text.utf8)), as: UTF8.self)
    }

    private static let replacement = Array("[redacted]".utf8)

    private static func replace(_ needle: [UInt8], in haystack: [UInt8]) -> [UInt8] {
        guard haystack.count >= needle.count, let first = needle.first else { return haystack }
        var output: [UInt8] = []
        output.reserveCapacity(haystack.count)
        var index = 0
        while index < haystack.count {
            if haystack[index] == first, index + needle.count <= haystack.count,
                haystack[index..<(index + needle.count)].elementsEqual(needle)
            {
                output.append(contentsOf: replacement)
                index += needle.count
            } else {
                output.append(haystack[index])
                index += 1
            }
        }
        return output
    }
}
