import Foundation
import SurveyCore
import Testing

@Suite("Reading and writing JSON")
struct JSONTests {
    @Test func parsesDocuments() throws {
        let value = try JSONParser().parse(#"{"a": [1, -2.5, "x\u00e9\n", true, null], "b": {"c": 1e2}, "中": "文"}"#)
        #expect(value["a"] == [1, -2.5, "xé\n", true, nil])
        #expect(value["b"]?["c"] == .number(100))
        #expect(value["中"] == "文")
        #expect(value.objectValue?.keys == ["a", "b", "中"])
    }

    @Test func surrogatePairs() throws {
        #expect(try JSONParser().parse(#""\ud83d\ude00""#) == "😀")
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let text: String
        let line: Int
        let column: Int
        let message: String
        var testDescription: String { message }
    }

    @Test(arguments: [
        Bad(text: "{\"a\": 1,}", line: 1, column: 9, message: "expected a key in double quotes"),
        Bad(text: "{\n  \"a\": 1\n  \"b\": 2\n}", line: 3, column: 3, message: "expected ',' or '}'"),
        Bad(text: "{\"a\": 1, \"a\": 2}", line: 1, column: 10, message: "duplicate key \"a\""),
        Bad(text: "[1, 2", line: 1, column: 6, message: "the array lacks ']'"),
        Bad(text: "{\"名\": 01}", line: 1, column: 7, message: "leading zeros"),
        Bad(text: "\"abc", line: 1, column: 1, message: "unterminated string"),
        Bad(text: "tru", line: 1, column: 1, message: "unrecognised value"),
        Bad(text: "1e999", line: 1, column: 1, message: "number out of range"),
        Bad(text: "{} {}", line: 1, column: 4, message: "unexpected content after the JSON value"),
        Bad(text: "\"\\x\"", line: 1, column: 3, message: "invalid escape"),
        Bad(text: "\"\\ud800\"", line: 1, column: 8, message: "unpaired UTF-16 surrogate"),
        Bad(text: "", line: 1, column: 1, message: "unexpected end of JSON"),
    ])
    func reportsWhereItBroke(_ bad: Bad) {
        do {
            _ = try JSONParser().parse(bad.text)
            Issue.record("should fail")
        } catch {
            #expect(error.line == bad.line, "\(error)")
            #expect(error.column == bad.column, "\(error)")
            #expect(error.message.text(.en).contains(bad.message), "\(error)")
        }
    }

    @Test func refusesInvalidUTF8() {
        do {
            _ = try JSONParser().parse([0x22, 0x61, 0xFF, 0x22])
            Issue.record("should fail")
        } catch {
            #expect(error.message.text(.en) == "invalid UTF-8")
            #expect(error.column == 3)
        }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONParser(maxDepth: 64).parse(deep) }
        #expect(throws: Never.self) { try JSONParser(maxDepth: 128).parse(deep) }
    }

    @Test func roundTrips() throws {
        let value: JSONValue = ["n": 42, "x": 0.1, "s": "引号\"与\\反斜杠\u{01}", "l": [true, nil], "o": [:]]
        let text = value.serialized()
        #expect(text == #"{"n":42,"x":0.1,"s":"引号\"与\\反斜杠\u0001","l":[true,null],"o":{}}"#)
        #expect(try JSONParser().parse(text) == value)
        #expect(try JSONParser().parse(value.serialized(pretty: true)) == value)
    }

    @Test func objectsCompareWithoutOrder() {
        let a: JSONValue = ["x": 1, "y": 2]
        let b: JSONValue = ["y": 2, "x": 1]
        #expect(a == b)
        #expect(a != ["x": 1, "y": 3])
    }

    @Test func sha256() {
        #expect(SHA256.hex(of: Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array(String(repeating: "a", count: 1000).utf8)
        #expect(SHA256.hex(of: long) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func displayWidth() {
        #expect(DisplayWidth.of("abc") == 3)
        #expect(DisplayWidth.of("东关村") == 6)
        #expect(DisplayWidth.of("第 12/48 题") == 11)
        #expect(DisplayWidth.pad("村", to: 4) == "村  ")
    }

    @Test func languageFromLocale() {
        #expect(Language.resolve(explicit: nil, environment: [:]) == .zh)
        #expect(Language.resolve(explicit: nil, environment: ["LANG": "en_US.UTF-8"]) == .en)
        #expect(Language.resolve(explicit: nil, environment: ["LANG": "zh_CN.UTF-8"]) == .zh)
        #expect(Language.resolve(explicit: nil, environment: ["LC_ALL": "en_GB", "LANG": "zh_CN"]) == .en)
        #expect(Language.resolve(explicit: "zh", environment: ["LANG": "en_US"]) == .zh)
    }
}
