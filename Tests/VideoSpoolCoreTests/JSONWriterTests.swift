import Testing
import VideoSpoolCore

struct JSONWriterTests {
    private let compact = JSONWriter()
    private let pretty = JSONWriter(pretty: true)

    @Test(arguments: [
        ("a\"b", #""a\"b""#),
        ("back\\slash", #""back\\slash""#),
        ("line\nfeed", #""line\nfeed""#),
        ("carriage\rreturn", #""carriage\rreturn""#),
        ("tab\there", #""tab\there""#),
        ("\u{1F}", #""\u001f""#),
        ("\u{01}\u{08}\u{0B}\u{0C}", #""\u0001\u0008\u000b\u000c""#),
        ("slash/is/not/escaped", #""slash/is/not/escaped""#),
        ("\u{7F}", "\"\u{7F}\""),
        ("", #""""#),
    ])
    func stringsAreEscaped(raw: String, expected: String) {
        #expect(compact.string(.string(raw)) == expected)
    }

    @Test func unicodeIsWrittenAsUTF8NotEscaped() {
        let text = "héllo 日本 😀 \u{2028}"
        let output = compact.bytes(.string(text))
        #expect(output == [UInt8(ascii: "\"")] + Array(text.utf8) + [UInt8(ascii: "\"")])
    }

    @Test func keysAreEscapedLikeValues() {
        let value = JSONValue.object(JSONObject(["we\"ird\n": .int(1)]))
        #expect(compact.string(value) == #"{"we\"ird\n":1}"#)
    }

    @Test func compactOutputHasNoWhitespace() {
        let value = JSONValue.object(
            JSONObject([
                "a": .array([.int(1), .bool(true), .null]),
                "b": .object(JSONObject(["c": .string("d")])),
                "e": .array([]),
                "f": .object(JSONObject()),
            ])
        )
        #expect(compact.string(value) == #"{"a":[1,true,null],"b":{"c":"d"},"e":[],"f":{}}"#)
    }

    @Test func prettyOutputIsIndentedWithTwoSpacesAndEndsWithANewline() {
        let value = JSONValue.object(
            JSONObject([
                "a": .int(1),
                "b": .array([.bool(true), .null]),
                "c": .object(JSONObject()),
                "d": .array([]),
            ])
        )
        let expected = """
            {
              "a": 1,
              "b": [
                true,
                null
              ],
              "c": {},
              "d": []
            }

            """
        #expect(pretty.string(value) == expected)
    }

    @Test func numbersAreWrittenAsTheirLiteral() throws {
        let parsed = try json("[5,5.0,1e3,-0.060]")
        #expect(compact.string(parsed) == "[5,5.0,1e3,-0.060]")
        #expect(compact.string(.int(-42)) == "-42")
        #expect(compact.string(.double(5)) == "5")
        #expect(compact.string(.double(0.25)) == "0.25")
        #expect(compact.string(.double(-3)) == "-3")
    }

    static let samples: [JSONValue] = [
        .null,
        .bool(false),
        .int(0),
        .string("every control character: \u{01}\u{02}\u{03}\u{04}\u{05}\u{06}\u{07}\u{08}\t\n\u{0B}\u{0C}\r"
            + "\u{0E}\u{0F}\u{10}\u{11}\u{12}\u{13}\u{14}\u{15}\u{16}\u{17}\u{18}\u{19}\u{1A}\u{1B}\u{1C}\u{1D}"
            + "\u{1E}\u{1F}, quotes \" and \\ and / and 😀 é"),
        .array([.int(1), .array([.array([])]), .object(JSONObject())]),
        .object(
            JSONObject([
                "type": .string("video.generation.completed"),
                "data": .object(
                    JSONObject([
                        "job_id": .string("job-1"),
                        "usage": .object(JSONObject(["credits_used": .int(25), "usd_spent": .double(0.06)])),
                        "errors": .array([.object(JSONObject(["field": .null, "message": .string("a\"b")]))]),
                        "metadata": .object(JSONObject(["nested": .object(JSONObject(["ok": .bool(true)]))])),
                    ])
                ),
            ])
        ),
    ]

    @Test(arguments: JSONWriterTests.samples)
    func prettyOutputParsesBackToTheSameValue(value: JSONValue) throws {
        #expect(try JSONParser().parse(pretty.bytes(value)) == value)
    }

    @Test(arguments: JSONWriterTests.samples)
    func compactOutputParsesBackToTheSameValue(value: JSONValue) throws {
        #expect(try JSONParser().parse(compact.bytes(value)) == value)
    }

    @Test func prettyAndCompactDifferOnlyInWhitespace() throws {
        let value = JSONWriterTests.samples.last!
        let prettyText = pretty.string(value)
        #expect(prettyText.contains("\n  \"data\": {"))
        #expect(try JSONParser().parse(prettyText) == JSONParser().parse(compact.string(value)))
    }
}
