import Testing
import VideoSpoolCore

/// `truncated_json` means "the input ended while a value was open", the one parse error a writer
/// still at work can cause; the intake waits only for that (and an empty file). Everything else is
/// a problem no continuation can remove, so it must be reported as itself even at the end of input.
struct JSONTruncationTests {
    private func code(_ bytes: [UInt8]) -> JSONParseError.Code? {
        do {
            _ = try JSONParser().parse(bytes)
            return nil
        } catch {
            return error.code
        }
    }

    static let prefix = Array(#"{"model": "m", "prompt": "#.utf8)

    @Test(arguments: [
        (#""caf"#, [0xC3] as [UInt8]),  // cut inside a two-byte character
        (#""clap "#, [0xF0, 0x9F, 0x8E]),  // cut inside a four-byte character
        (#""a \ud83c"#, []),  // cut after the high half of a surrogate pair
        (#""a \ud83c\"#, []),  // ... and after the backslash of the low half
        (#""a \ud83c\u"#, []),
        (#""a \ud83c\udf"#, []),
        (#""caf"#, [0xC3, 0xA9]),  // complete character, string still open
        (#""caf"#, [0xE9]),  // Latin-1 "é" at the very end: also the start of a three-byte character
        ("tr", []),
        ("-", []),
        ("12.", []),
        (#"[{"a": [1, {"b""#, []),
    ])
    func contentCutShortIsTruncated(text: String, tail: [UInt8]) {
        #expect(code(Self.prefix + Array(text.utf8) + tail) == .truncated, "\(text)")
    }

    static let neverJSON: [(tail: [UInt8], code: JSONParseError.Code)] = [
        (Array(#"NaN"#.utf8), .syntax),
        (Array(#"-Infinity"#.utf8), .syntax),
        (Array(#"nul "#.utf8), .syntax),
        (Array(#""caf"#.utf8) + [0xE9, 0x20], .invalidUTF8),  // Latin-1 "é", string still open
        (Array(#""x"#.utf8) + [0xC0], .invalidUTF8),  // 0xC0 never starts a character
        (Array(#""x"#.utf8) + [0xED, 0xA0], .invalidUTF8),  // a surrogate, encoded: never valid
        (Array(#""x"#.utf8) + [0xF4, 0x90], .invalidUTF8),  // beyond U+10FFFF
        (Array(#""x"#.utf8) + [0x80], .invalidUTF8),  // a lone continuation byte
        (Array(#""a \ud83cx"#.utf8), .syntax),  // a lone surrogate followed by more
        (Array("\"a\u{1}".utf8), .syntax),  // a control character in a string
        (Array("\"a".utf8) + [0], .nulByte),
    ]

    @Test(arguments: JSONTruncationTests.neverJSON)
    func contentThatCanNeverBecomeJSONIsNotTruncatedEvenAtTheEnd(tail: [UInt8], expected: JSONParseError.Code) {
        #expect(code(Self.prefix + tail) == expected, "\(tail)")
    }

    @Test(arguments: [[0xFF, 0xFE] as [UInt8], [0xFE, 0xFF]])
    func aUTF16ByteOrderMarkIsNeverJSONAndSaysSo(bom: [UInt8]) throws {
        let bodies: [[UInt8]] = [
            [],
            Array(#"{"#.utf8).flatMap { byte -> [UInt8] in [byte, 0] },
            Array(#"{"model": "m"}"#.utf8).flatMap { byte -> [UInt8] in [0, byte] },
        ]
        for body in bodies {
            let error = #expect(throws: JSONParseError.self) { try JSONParser().parse(bom + body) }
            #expect(error?.code == .syntax)
            #expect(error?.message.contains("UTF-16 byte order mark") == true)
        }
    }
}
