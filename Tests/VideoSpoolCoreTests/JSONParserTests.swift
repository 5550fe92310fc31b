import Testing
import VideoSpoolCore

struct JSONParserTests {
    private let parser = JSONParser()

    /// The error the parser reports for `bytes`, or `nil` when they parse.
    private func parseError(_ bytes: [UInt8]) -> JSONParseError? {
        do {
            _ = try parser.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    private func parseError(_ text: String) -> JSONParseError? {
        parseError(Array(text.utf8))
    }

    // MARK: - Valid documents

    @Test(arguments: [
        #"{"b":1,"a":[true,false,null],"c":{"z":"x","y":""}}"#,
        #"[5,5.0,-0.5,0,-0,1e3,1E-7,2.5e+10,12345678901234567890123]"#,
        #""plain string""#,
        "true",
        "false",
        "null",
        "0",
        "-12",
        "[]",
        "{}",
        #"[[],{},[{}],{"a":[]}]"#,
        #"{"unicode":"héllo 😀 日本"}"#,
    ])
    func compactDocumentsRoundTripByteForByte(text: String) throws {
        let value = try parser.parse(text)
        #expect(JSONWriter().string(value) == text)
    }

    @Test func objectsKeepTheirKeysInDocumentOrder() throws {
        let value = try parser.parse(#"{"zeta":1,"alpha":2,"mid":3,"beta":4}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["zeta", "alpha", "mid", "beta"])
        #expect(object["alpha"] == .number(JSONNumber(2)))
    }

    @Test func numbersKeepTheirLiteralText() throws {
        let value = try parser.parse("[5, 5.0, 1e3, -0.060, 100000000000000000000]")
        let numbers = try #require(value.arrayValue).compactMap(\.numberValue)
        #expect(numbers.map(\.text) == ["5", "5.0", "1e3", "-0.060", "100000000000000000000"])
    }

    @Test func anIntegerLiteralIsAnIntegerAndADecimalOneIsNot() throws {
        let five = try #require(try parser.parse("5").numberValue)
        let fivePointZero = try #require(try parser.parse("5.0").numberValue)
        let exponent = try #require(try parser.parse("5e0").numberValue)
        #expect(five.isInteger)
        #expect(five.int64Value == 5)
        #expect(try parser.parse("5").typeName == "integer")
        #expect(!fivePointZero.isInteger)
        #expect(fivePointZero.int64Value == nil)
        #expect(fivePointZero.doubleValue == 5)
        #expect(try parser.parse("5.0").typeName == "number")
        #expect(!exponent.isInteger)
        #expect(five != fivePointZero)
    }

    @Test func integersTooLargeForInt64KeepTheirTextButHaveNoInt64Value() throws {
        let number = try #require(try parser.parse("9223372036854775808").numberValue)
        #expect(number.isInteger)
        #expect(number.int64Value == nil)
        #expect(number.text == "9223372036854775808")
    }

    @Test func whitespaceAroundTokensIsAllowed() throws {
        let value = try parser.parse(" \t\r\n{ \"a\" : [ 1 , 2 ] ,\n\"b\":null }\n ")
        #expect(value == .object(JSONObject(["a": .array([.int(1), .int(2)]), "b": .null])))
    }

    @Test func escapesDecode() throws {
        let value = try parser.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC""#)
        #expect(value == .string("\"\\/\u{08}\u{0C}\n\r\tAé€"))
    }

    @Test func aValidSurrogatePairDecodesToOneScalar() throws {
        let value = try parser.parse(#""\ud83d\ude00""#)
        #expect(value == .string("😀"))
        #expect(value.stringValue?.unicodeScalars.count == 1)
    }

    @Test func rawMultibyteUTF8IsKept() throws {
        let value = try parser.parse(Array(#"{"k":"日本語 😀 é"}"#.utf8))
        #expect(value["k"] == .string("日本語 😀 é"))
    }

    @Test func theSameKeyInSiblingObjectsIsNotADuplicate() throws {
        let value = try parser.parse(#"[{"a":1},{"a":2},{"b":{"a":3}}]"#)
        #expect(value.arrayValue?.count == 3)
    }

    @Test func nestingUpToMaximumDepthParses() throws {
        let depth = JSONParser().maximumDepth
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: Never.self) { try parser.parse(text) }
    }

    @Test func aCustomMaximumDepthIsHonoured() {
        let shallow = JSONParser(maximumDepth: 2)
        #expect((try? shallow.parse("[[]]")) != nil)
        #expect((try? shallow.parse(#"{"a":{}}"#)) != nil)
        #expect(throws: JSONParseError.self) { try shallow.parse("[[[]]]") }
        do {
            _ = try shallow.parse(#"{"a":[{}]}"#)
            Issue.record("expected too_deeply_nested")
        } catch {
            #expect(error.code == .tooDeep)
        }
    }

    // MARK: - Errors

    static let malformed: [(String, JSONParseError.Code)] = [
        // Empty.
        ("", .empty),
        ("   ", .empty),
        (" \n\t\r\n", .empty),
        // Truncated.
        (#"{"a":"#, .truncated),
        (#"{"a":1"#, .truncated),
        (#"{"a":1,"#, .truncated),
        (#"{"a""#, .truncated),
        ("{", .truncated),
        ("[1,2", .truncated),
        ("[", .truncated),
        (#""abc"#, .truncated),
        (#"{"a":"unterminated}"#, .truncated),
        ("tru", .truncated),
        ("-", .truncated),
        (#""\u12"#, .truncated),
        (#""\"#, .truncated),
        // Syntax.
        (#"{"a":1} x"#, .syntax),
        (#"{"a":1}}"#, .syntax),
        ("[1] [2]", .syntax),
        ("01", .syntax),
        ("[01]", .syntax),
        ("-01", .syntax),
        ("[1.]", .syntax),
        (#"{"n":1.}"#, .syntax),
        ("[.5]", .syntax),
        ("[1e]", .syntax),
        ("[+1]", .syntax),
        ("[-]", .syntax),
        ("NaN", .syntax),
        ("[Infinity]", .syntax),
        ("TRUE", .syntax),
        ("nul ", .syntax),
        ("[1,]", .syntax),
        (#"{"a":1,}"#, .syntax),
        ("[,1]", .syntax),
        (#"{'a':1}"#, .syntax),
        (#"{a:1}"#, .syntax),
        (#"{"a" 1}"#, .syntax),
        (#"{"a":1 "b":2}"#, .syntax),
        ("[1 2]", .syntax),
        (#""\x""#, .syntax),
        (#""\U0041""#, .syntax),
        (#""\u00G1""#, .syntax),
        (#""\'""#, .syntax),
        (#""\ud800""#, .syntax),
        (#""\udc00""#, .syntax),
        (#""\udfff""#, .syntax),
        (#""a\ude00b""#, .syntax),
        (#""\ud800x""#, .syntax),
        (#""\ud800\u0041""#, .syntax),
        (#""\ud800\ud800""#, .syntax),
        ("\"tab\there\"", .syntax),
        ("\"line\nbreak\"", .syntax),
        ("// comment\n{}", .syntax),
        ("\u{00A0}{}", .syntax),
        // Duplicates and depth.
        (#"{"a":1,"a":2}"#, .duplicateKey),
        (#"{"x":{"b":1,"b":2}}"#, .duplicateKey),
        (#"[{"ok":1},{"dup":1,"other":2,"dup":3}]"#, .duplicateKey),
        (#"{"a":1,"\u0061":2}"#, .duplicateKey),
        // NUL written as an escape.
        (#""\u0000""#, .nulByte),
        (#"{"k":"a\u0000b"}"#, .nulByte),
    ]

    @Test(arguments: JSONParserTests.malformed)
    func malformedDocumentsAreRejectedWithTheirCode(text: String, code: JSONParseError.Code) {
        let error = parseError(text)
        #expect(error?.code == code, "for \(text.debugDescription): \(String(describing: error))")
    }

    @Test func aUTF8ByteOrderMarkIsRejected() {
        let error = parseError([0xEF, 0xBB, 0xBF] + Array("{}".utf8))
        #expect(error?.code == .byteOrderMark)
        #expect(error?.offset == 0)
    }

    @Test(arguments: [
        [0xFF] as [UInt8],
        [0xC3, 0x28],  // a lead byte without its continuation
        [0xC0, 0xAF],  // overlong "/"
        [0xED, 0xA0, 0x80],  // a UTF-16 surrogate encoded as UTF-8
        [0xF4, 0x90, 0x80, 0x80],  // beyond U+10FFFF
        [0xE2, 0x82],  // a truncated sequence
        [0x80],  // a lone continuation byte
    ])
    func invalidUTF8InsideAStringIsRejected(badBytes: [UInt8]) {
        let document = Array(#"{"key":"ab"#.utf8) + badBytes + Array(#"cd"}"#.utf8)
        let error = parseError(document)
        #expect(error?.code == .invalidUTF8)
        #expect(error?.offset == 7, "the offset of the string's opening quote")
    }

    @Test func invalidUTF8InAStringWithEscapesIsRejected() {
        let document = Array(#"["\n"#.utf8) + [0xFF] + Array(#"\t"]"#.utf8)
        #expect(parseError(document)?.code == .invalidUTF8)
    }

    @Test func aNonASCIIByteOutsideAStringIsASyntaxError() {
        let error = parseError(Array("[1,".utf8) + [0xC3, 0xA9] + Array("]".utf8))
        #expect(error?.code == .syntax)
        #expect(error?.offset == 3)
    }

    @Test func aRawNULByteInsideAStringIsRejected() {
        let document = Array(#"{"a":"x"#.utf8) + [0x00] + Array(#"y"}"#.utf8)
        let error = parseError(document)
        #expect(error?.code == .nulByte)
        #expect(error?.offset == 7)
    }

    static let nulOutsideStrings: [(text: String, offset: Int)] = [
        ("\u{0}", 0),
        ("{}\u{0}", 2),
        (#"{"a":1}"# + "\u{0}", 7),
        ("[1,\u{0}]", 3),
        (#"{"a":"# + "\u{0}", 5),
        ("  \u{0}", 2),
        ("[1\u{0}]", 2),
    ]

    @Test(arguments: JSONParserTests.nulOutsideStrings)
    func aRawNULByteOutsideAStringIsRejected(text: String, offset: Int) {
        let error = parseError(Array(text.utf8))
        #expect(error?.code == .nulByte)
        #expect(error?.offset == offset)
    }

    @Test func hostileNestingIsRejectedWithoutOverflowingTheStack() {
        let arrays = parseError(String(repeating: "[", count: 100_000))
        #expect(arrays?.code == .tooDeep)
        #expect(arrays?.offset == 64, "the bracket that opens level 65")

        let objects = parseError(String(repeating: #"{"a":"#, count: 100_000))
        #expect(objects?.code == .tooDeep)

        let closed = parseError(String(repeating: "[", count: 65) + String(repeating: "]", count: 65))
        #expect(closed?.code == .tooDeep)
    }

    @Test(arguments: [
        (#"{"a":1} x"#, 8),
        ("[1,2,]", 5),
        (#"{"a":tru}"#, 8),
        (#"{"a":1,"a":2}"#, 7),
        (#"{"x":{"b":1,"b":2}}"#, 12),
        ("  01", 3),
        (#"["ok","\q"]"#, 7),
        (#"["\ud800"]"#, 2),
        (#"{"a":"open"#, 5),
    ])
    func errorsReportTheByteOffsetOfTheProblem(text: String, offset: Int) {
        #expect(parseError(text)?.offset == offset, "for \(text)")
    }

    @Test func theErrorDescriptionNamesTheOffset() {
        let error = parseError(#"{"a":1} x"#)
        #expect(error?.description.hasSuffix("(at byte 8)") == true)
    }

    @Test func theErrorCodesHaveTheirDocumentedSpellings() {
        #expect(JSONParseError.Code.empty.description == "empty_file")
        #expect(JSONParseError.Code.byteOrderMark.description == "byte_order_mark")
        #expect(JSONParseError.Code.invalidUTF8.description == "invalid_utf8")
        #expect(JSONParseError.Code.nulByte.description == "nul_byte")
        #expect(JSONParseError.Code.truncated.description == "truncated_json")
        #expect(JSONParseError.Code.syntax.description == "invalid_json")
        #expect(JSONParseError.Code.duplicateKey.description == "duplicate_key")
        #expect(JSONParseError.Code.tooDeep.description == "too_deeply_nested")
    }
}
