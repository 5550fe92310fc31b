import Testing
import VideoSpoolCore

struct JSONValueTests {
    @Test func typeNamesAreTheOnesUsedInMessages() throws {
        #expect(JSONValue.null.typeName == "null")
        #expect(JSONValue.bool(true).typeName == "boolean")
        #expect(try json("5").typeName == "integer")
        #expect(try json("5.5").typeName == "number")
        #expect(JSONValue.string("").typeName == "string")
        #expect(JSONValue.array([]).typeName == "array")
        #expect(JSONValue.object(JSONObject()).typeName == "object")
    }

    @Test func accessorsReturnNilForOtherKinds() {
        let value = JSONValue.string("x")
        #expect(value.stringValue == "x")
        #expect(value.objectValue == nil)
        #expect(value.arrayValue == nil)
        #expect(value.boolValue == nil)
        #expect(value.numberValue == nil)
        #expect(value["key"] == nil)
        #expect(JSONValue.optional(nil) == .null)
        #expect(JSONValue.optional("a") == .string("a"))
    }

    @Test func aLaterPairReplacesAnEarlierOneInPlace() {
        let object = JSONObject(["a": .int(1), "b": .int(2), "a": .int(3)])
        #expect(object.keys == ["a", "b"])
        #expect(object["a"] == .int(3))
    }

    @Test func settingAMemberToNilRemovesIt() {
        var object = JSONObject(["a": .int(1), "b": .int(2), "c": .int(3)])
        object["b"] = nil
        object["d"] = .null
        object["a"] = .string("x")
        #expect(object.keys == ["a", "c", "d"])
        #expect(object["a"] == .string("x"))
        #expect(object["d"] == .null, "null is a value, not a removal")
        #expect(object.count == 3)
    }

    @Test func objectEqualityDependsOnKeyOrder() {
        let ab = JSONObject(["a": .int(1), "b": .int(2)])
        let ba = JSONObject(["b": .int(2), "a": .int(1)])
        #expect(ab != ba)
        #expect(ab == JSONObject(["a": .int(1), "b": .int(2)]))
    }

    @Test(arguments: [
        (0.0, "0"),
        (5.0, "5"),
        (-7.0, "-7"),
        (0.06, "0.06"),
        (1.5, "1.5"),
        (Double.infinity, "0"),
        (Double.nan, "0"),
    ])
    func doublesBecomeValidLiterals(value: Double, text: String) throws {
        let number = JSONNumber(value)
        #expect(number.text == text)
        #expect(throws: Never.self) { try JSONParser().parse(number.text) }
    }

    @Test func largeDoublesStillProduceValidJSON() throws {
        let number = JSONNumber(1e20)
        #expect(!number.text.isEmpty)
        #expect(try JSONParser().parse(number.text).numberValue?.doubleValue == 1e20)
    }
}
