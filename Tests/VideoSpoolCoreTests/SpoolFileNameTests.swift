import Testing
import VideoSpoolCore

/// Spool names are bytes; the daemon carries them as ``SpoolFileName``'s escaped text, which must
/// decode to exactly the bytes it came from, and shortens names it makes to fit `NAME_MAX`.
struct SpoolFileNameTests {
    // MARK: - Escaping

    static let documented: [(bytes: [UInt8], escaped: String)] = [
        (Array("order-17.json".utf8), "order-17.json"),
        (Array("café – 東京 🎬.json".utf8), "café – 東京 🎬.json"),
        ([0x63, 0x61, 0x66, 0xE9, 0x2D, 0xFF, 0xFE] + Array(".json".utf8), #"caf\xE9-\xFF\xFE.json"#),
        (Array(#"a\b.json"#.utf8), #"a\\b.json"#),
        (Array(#"\xE9.json"#.utf8), #"\\xE9.json"#),
        ([0xC3, 0x28] + Array(".json".utf8), #"\xC3(.json"#),  // a lead byte without its continuation
        ([0xC0, 0xAF], #"\xC0\xAF"#),  // overlong "/"
        ([0xED, 0xA0, 0x80], #"\xED\xA0\x80"#),  // a UTF-16 surrogate encoded as UTF-8
        ([0xF4, 0x90, 0x80, 0x80], #"\xF4\x90\x80\x80"#),  // beyond U+10FFFF
        ([0xE2, 0x82], #"\xE2\x82"#),  // a sequence cut short at the end
        ([0x0A, 0x09] + Array("x.json".utf8), "\n\tx.json"),  // control characters are valid UTF-8
        ([], ""),
    ]

    @Test(arguments: SpoolFileNameTests.documented)
    func namesAreEscapedAsDocumented(bytes: [UInt8], escaped: String) {
        #expect(SpoolFileName.escape(bytes) == escaped)
        #expect(SpoolFileName.unescape(escaped) == bytes)
    }

    @Test func unescapingTextThatWasNeverEscapedKeepsLoneBackslashes() {
        #expect(SpoolFileName.unescape(#"a\b\x\xZ9\"#) == Array(#"a\b\x\xZ9\"#.utf8))
        #expect(SpoolFileName.unescape(#"\xe9"#) == [0xE9], "lower-case hex decodes too")
    }

    /// Random names biased towards the interesting bytes: backslashes, `x`, hex digits, UTF-8 lead
    /// and continuation bytes and bytes that never occur in UTF-8.
    private static func randomName(using random: inout SplitMix64) -> [UInt8] {
        let interesting: [UInt8] = Array(#"\x0AaFf9."#.utf8) + [0x80, 0xBF, 0xC2, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, 0xFE]
        let length = Int(random.next() % 64)
        return (0..<length).map { _ in
            random.next() % 3 == 0 ? UInt8(truncatingIfNeeded: random.next()) : interesting[Int(random.next() % UInt64(interesting.count))]
        }
    }

    @Test func everyByteSequenceRoundTrips() {
        var random = SplitMix64(seed: 0x5EED)
        for _ in 0..<20_000 {
            let name = Self.randomName(using: &random)
            let escaped = SpoolFileName.escape(name)
            #expect(SpoolFileName.unescape(escaped) == name, "\(name) → \(escaped)")
        }
    }

    @Test func escapedTextRoundTripsToItself() {
        var random = SplitMix64(seed: 0xF00D)
        for _ in 0..<5_000 {
            let escaped = SpoolFileName.escape(Self.randomName(using: &random))
            #expect(SpoolFileName.escape(SpoolFileName.unescape(escaped)) == escaped)
        }
    }

    @Test func differentNamesNeverShareAnEscapedForm() {
        var random = SplitMix64(seed: 0xD1FF)
        var seen: [String: [UInt8]] = [:]
        for _ in 0..<20_000 {
            let name = Self.randomName(using: &random)
            let escaped = SpoolFileName.escape(name)
            if let earlier = seen[escaped] {
                #expect(earlier == name, "\(earlier) and \(name) both escape to \(escaped)")
            }
            seen[escaped] = name
        }
    }

    @Test func validUTF8WithoutABackslashIsLeftAsItIs() {
        var random = SplitMix64(seed: 0xAB)
        let pool: [Character] = ["a", "Z", "0", ".", "-", "_", " ", "é", "ß", "東", "🎬", "\u{301}", "\u{FFFE}", "%"]
        for _ in 0..<2_000 {
            let text = String((0..<Int(random.next() % 40)).map { _ in pool[Int(random.next() % UInt64(pool.count))] })
            #expect(SpoolFileName.escape(Array(text.utf8)) == text)
            #expect(Array(SpoolFileName.escape(Array(text.utf8)).utf8) == Array(text.utf8), "byte for byte, not just equal")
        }
    }

    @Test func everyByteValueAloneRoundTrips() {
        for value in 1...255 {
            let name = [UInt8(value)]
            #expect(SpoolFileName.unescape(SpoolFileName.escape(name)) == name, "byte \(value)")
        }
    }

    // MARK: - Fitting NAME_MAX

    @Test func aNameThatFitsIsKeptWithItsSuffix() {
        let name = Array("order-17.json".utf8)
        #expect(SpoolFileName.fitting(name, suffix: Array(".error.json".utf8)) == Array("order-17.json.error.json".utf8))
        let exact = [UInt8](repeating: UInt8(ascii: "a"), count: 244)
        #expect(SpoolFileName.fitting(exact, suffix: Array(".error.json".utf8)).count == 255)
        #expect(SpoolFileName.fitting(exact, suffix: Array(".error.json".utf8)) == exact + Array(".error.json".utf8))
    }

    @Test(arguments: 245...255)
    func aLongNameIsCutToTheLimitWithADigestOfTheWholeName(length: Int) {
        let name = [UInt8](repeating: UInt8(ascii: "n"), count: length - 5) + Array(".json".utf8)
        let suffix = Array(".error.json".utf8)
        let fitted = SpoolFileName.fitting(name, suffix: suffix)
        #expect(fitted.count == 255)
        #expect(fitted.suffix(suffix.count).elementsEqual(suffix))
        let digest = Array(ContentDigest.sha256Hex(name).prefix(8).utf8)
        let marker = [UInt8(ascii: "~")] + digest
        #expect(Array(fitted.dropLast(suffix.count).suffix(marker.count)) == marker)
        #expect(fitted.starts(with: name.prefix(255 - suffix.count - marker.count)))
    }

    @Test func theDocumentedExampleIsWhatTheCodeDoes() {
        // docs/requests.md, File names: a 250-byte `nnn…n.json` has the report `nnn…n~aa5581f1.error.json`.
        let name = [UInt8](repeating: UInt8(ascii: "n"), count: 245) + Array(".json".utf8)
        let report = SpoolFileName.fitting(name, suffix: Array(".error.json".utf8))
        #expect(report == [UInt8](repeating: UInt8(ascii: "n"), count: 235) + Array("~aa5581f1.error.json".utf8))
        #expect(report.count == 255)
    }

    @Test func longNamesThatShareTheirStartStayApart() {
        let start = [UInt8](repeating: UInt8(ascii: "s"), count: 250)
        let first = SpoolFileName.fitting(start + Array("1.json".utf8), suffix: Array(".error.json".utf8))
        let second = SpoolFileName.fitting(start + Array("2.json".utf8), suffix: Array(".error.json".utf8))
        #expect(first != second)
        #expect(first.count == 255 && second.count == 255)
    }

    @Test func aCutNeverSplitsAUTF8Character() {
        // 122 two-byte characters and ".json": 249 bytes; with ".error.json" the cut lands mid-character
        // for some prefix lengths, and must back up to a character boundary.
        for padding in 0..<4 {
            let name = [UInt8](repeating: UInt8(ascii: "p"), count: padding) + Array(String(repeating: "é", count: 122).utf8)
                + Array(".json".utf8)
            let fitted = SpoolFileName.fitting(name, suffix: Array(".error.json".utf8))
            #expect(fitted.count <= 255)
            #expect(String(validating: fitted, as: UTF8.self) != nil, "padding \(padding): the result is still UTF-8")
        }
    }

    @Test func aTemporaryNameFitsToo() {
        let name = [UInt8](repeating: UInt8(ascii: "t"), count: 255)
        let temporary = [UInt8(ascii: ".")] + SpoolFileName.fitting(name, suffix: Array(".tmp".utf8), limit: 254)
        #expect(temporary.count == 255)
        #expect(temporary.suffix(4).elementsEqual(Array(".tmp".utf8)))
    }
}
