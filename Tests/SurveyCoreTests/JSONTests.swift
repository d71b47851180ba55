import Foundation
import SurveyCore
import SurveyFixtures
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

    @Test func picksTopLevelMembersAndReadsOverTheRest() throws {
        let text = #"{"skip": [{"a": "x\"}", "b": [1, {"c": null}]}], "want": 12, "w\u0061nt2": "是", "deep": {"want": 1}, "want": 13, "n": -1.5e3}"#
        let picked = try JSONParser().members(of: text, keys: ["want", "want2", "absent"])
        #expect(JSONValue.object(picked) == ["want": 12, "want2": "是"])
        #expect(try JSONParser().members(of: "{}", keys: ["a"]).isEmpty)
        // What is read over is still checked.
        for (bad, message) in [
            (#"{"a": [1, 2}"#, "expected ',' or ']'"), (#"{"a": "x"#, "unterminated string"), (#"{"a": tru}"#, "unrecognised value"),
            (#"[1]"#, "expected a JSON object"), (#"{"a": 1} x"#, "unexpected content"), (#"{"a": {"b" 1}}"#, "expected ':'"),
        ] {
            #expect(throws: JSONParseError.self) { try JSONParser().members(of: bad, keys: ["z"]) }
            do {
                _ = try JSONParser().members(of: bad, keys: ["z"])
            } catch {
                #expect(error.message.text(.en).contains(message), "\(bad): \(error.message.text(.en))")
            }
        }
    }

    @Test func writesAnObjectWholeAndWithoutSomeMembersInOnePass() {
        let object: JSONObject = ["a": 1, "b": ["x", nil], "c": ["d": 2.5], "e": "中"]
        for leftOut in [Set<String>(), ["a"], ["b", "e"], ["a", "b", "c", "e"]] {
            let (whole, without) = JSONValue.serializedBytes(object, andWithout: leftOut.contains)
            #expect(whole == JSONValue.object(object).serializedBytes())
            var rest = JSONObject()
            for (key, value) in object where !leftOut.contains(key) { rest.appendUnique(key, value) }
            #expect(without == JSONValue.object(rest).serializedBytes(), "\(leftOut)")
        }
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
        Bad(text: "[0, 1e-400]", line: 1, column: 5, message: "number out of range (too small to keep)"),
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

    @Test("a key repeated in a large object is refused, by the hashed check as by the scan; only the reader of its own stored JSON may skip it")
    func duplicateKeysInLargeObjects() throws {
        let keys = (0..<40).map { "\"k\($0)\": \($0)" }
        let repeated = "{" + (keys + ["\"k3\": 9"]).joined(separator: ", ") + "}"
        #expect(throws: JSONParseError.self) { try JSONParser().parse(repeated) }
        let plain = "{" + keys.joined(separator: ", ") + "}"
        #expect(try JSONParser().parse(plain).objectValue?.count == 40)
        #expect(try JSONParser(refusesDuplicateKeys: false).parse(plain) == (try JSONParser().parse(plain)))
        #expect(try JSONParser(refusesDuplicateKeys: false).parse(repeated).objectValue?.count == 41)
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

    @Test("zero written any way is zero; a tiny number that a double keeps is kept")
    func zerosAndTinyNumbers() throws {
        #expect(try JSONParser().parse(Array("[0e-400, 0.000e5, -0.0, 1e-300]".utf8)) == .array([.number(0), .number(0), .number(-0.0), .number(1e-300)]))
    }

    @Test("escapes decode to the same text as the characters they stand for, and invalid UTF-8 beside an escape is refused where it starts")
    func escapesBesideText() throws {
        let value = try JSONParser().parse(Array(#"["a\u00e9b\n\ud83d\ude00é\"中", "\u4e2d\u6587", "x\\"]"#.utf8))
        #expect(value == .array(["aéb\n😀é\"中", "中文", "x\\"]))
        do {
            _ = try JSONParser().parse([0x22, 0x5C, 0x6E, 0x61, 0xFF, 0x22])
            Issue.record("should fail")
        } catch {
            #expect(error.message.text(.en) == "invalid UTF-8")
            #expect(error.column == 5)
        }
    }

    /// Seconds to parse `bytes`, the best of five.
    static func parseTime(_ bytes: [UInt8]) throws -> Double {
        var best = Double.infinity
        for _ in 0..<5 {
            let start = ContinuousClock.now
            _ = try JSONParser().parse(bytes)
            let elapsed = (ContinuousClock.now - start).components
            best = min(best, Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
        return best
    }

    @Test("reading escapes takes time linear in their number: eight times the escapes, about eight times the time, for every kind of escape")
    func escapesAreLinear() throws {
        for escape in [#"\u00e9"#, #"\n"#, #"\ud83d\ude00"#] {
            func body(_ count: Int) -> [UInt8] { Array(("[\"" + String(repeating: escape, count: count) + "\"]").utf8) }
            let small = try Self.parseTime(body(50_000))
            let large = try Self.parseTime(body(400_000))
            // Linear gives about 8, quadratic about 64: the bound leaves room for a busy machine.
            #expect(large / small < 24, "\(escape): \(small) s for 50,000, \(large) s for 400,000")
        }
    }

    @Test func utf8CheckAgreesWithTheStandardLibrary() {
        // Valid text in several scripts, and each kind of malformed sequence.
        let cases: [[UInt8]] = [
            Array("东关村 ü € 𝄞".utf8), [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],
            [0xE4, 0xB8], [0x80], [0xF5, 0x80, 0x80, 0x80], [0xE4, 0xB8, 0xAD, 0xFF], [0xF0, 0x9F, 0x98, 0x80],
        ]
        var random = SeededGenerator(seed: 3)
        var all = cases
        for _ in 0..<2000 { all.append((0..<Int.random(in: 1...6, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }) }
        for bytes in all {
            let json = [0x22] + bytes + [0x22]
            let standard = String(validating: bytes, as: UTF8.self)
            let parsed = try? JSONParser().parse(json)
            if bytes.contains(0x22) || bytes.contains(0x5C) || bytes.contains(where: { $0 < 0x20 }) { continue }
            #expect(parsed == standard.map(JSONValue.string), "\(bytes)")
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
        #expect(Digests.sha256Hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digests.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array(String(repeating: "a", count: 1000).utf8)
        #expect(Digests.sha256Hex(long) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        // Lengths around the block and padding boundaries.
        let expected = [
            55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
            56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
            63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
            64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            119: "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb",
        ]
        for (length, hash) in expected {
            #expect(Digests.sha256Hex([UInt8](repeating: UInt8(ascii: "a"), count: length)) == hash, "length \(length)")
        }
    }

    @Test func writerEscapes() throws {
        let text = "引号\"反斜杠\\换行\n回车\r制表\t响铃\u{07}结束"
        let written = JSONValue.string(text).serialized()
        #expect(written == #""引号\"反斜杠\\换行\n回车\r制表\t响铃\u0007结束""#)
        #expect(try JSONParser().parse(written) == .string(text))
        let value: JSONValue = ["a": [1, 2], "b": ["c": nil]]
        let pretty = value.serialized(pretty: true)
        #expect(pretty == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {\n    \"c\": null\n  }\n}")
    }

    @Test func contentHash() throws {
        let form = try Fixtures.form("village-branch")
        var generator = VillageBranchGenerator(seed: 9)
        let answers = generator.next()
        let reordered = JSONObject(answers.pairs.reversed().map { ($0.key, $0.value) })
        func hash(_ answers: JSONObject, unit: String = "130102001203") -> String {
            let kept = JSONValue.object(form.validate(answers, today: Fixtures.sampleToday).answers).serializedBytes()
            return WireSurvey.contentHash(formID: form.id, formVersion: form.version, unit: unit, period: "2026", kept: kept)
        }
        #expect(hash(answers) == hash(reordered))
        #expect(hash(answers) != hash(answers, unit: "130102001204"))
        var changed = answers
        changed["members_away"] = .integer((answers["members_away"].flatMap { if case .integer(let n) = $0 { n } else { nil } } ?? 0) + 1)
        #expect(hash(answers) != hash(changed))
        #expect(hash(answers).count == 64)
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
