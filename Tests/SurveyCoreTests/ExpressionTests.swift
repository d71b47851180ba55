import SurveyCore
import Testing

/// The answers every expression case is evaluated against.
private let answers: JSONObject = {
    let document: JSONValue = [
        "a": 5, "b": 2, "zero": 0, "neg": -3, "half": 0.5, "s": "abc", "num_text": "12", "empty": "", "nothing": nil,
        "yes": "yes", "multi": ["x", "y"], "d": "2026-03-15", "cn": "东关村",
        "items": [["v": 1, "w": "p"], ["v": 2, "w": "q"], ["v": 3, "w": ""]],
    ]
    return document.objectValue!
}()

private let today = CivilDate.parse("2026-11-26")!

/// What an expression should give.
enum Expected: Sendable, CustomStringConvertible {
    case number(Double)
    case nan
    case text(String)
    case bool(Bool)
    case empty

    var description: String {
        switch self {
        case .number(let n): return "\(n)"
        case .nan: return "NaN"
        case .text(let t): return "'\(t)'"
        case .bool(let b): return "\(b)"
        case .empty: return "empty"
        }
    }

    func matches(_ value: Value) -> Bool {
        switch self {
        case .number(let n):
            if case .number(let v) = value { return v == n }
            if case .date(let days) = value { return Double(days) == n }
            return false
        case .nan:
            if case .number(let v) = value { return v.isNaN }
            return false
        case .text(let t):
            if case .string(let v) = value { return v == t }
            return false
        case .bool(let b):
            if case .bool(let v) = value { return v == b }
            return false
        case .empty:
            return value.isEmpty && !(value.number == 0)
        }
    }
}

struct Case: Sendable, CustomTestStringConvertible {
    let expression: String
    let expected: Expected
    init(_ expression: String, _ expected: Expected) {
        self.expression = expression
        self.expected = expected
    }
    var testDescription: String { "\(expression) → \(expected)" }
}

private let arithmetic: [Case] = [
    Case("1 + 2", .number(3)),
    Case("1 + 2 * 3", .number(7)),
    Case("(1 + 2) * 3", .number(9)),
    Case("10 div 4", .number(2.5)),
    Case("10 mod 4", .number(2)),
    Case("-10 mod 3", .number(-1)),
    Case("10 mod -3", .number(1)),
    Case("7 - 2 - 1", .number(4)),
    Case("2 * 3 div 4", .number(1.5)),
    Case("-2 * 3", .number(-6)),
    Case("- -2", .number(2)),
    Case("1 - -1", .number(2)),
    Case("2 + 3 * 4 - 5 div 5", .number(13)),
    Case("1 div 0", .number(.infinity)),
    Case("-1 div 0", .number(-.infinity)),
    Case("0 div 0", .nan),
    Case("${a} + ${b}", .number(7)),
    Case("${a} * ${half}", .number(2.5)),
    Case("${a} + ${empty}", .nan),
    Case("${a} + ${nothing}", .nan),
    Case("${num_text} + 1", .number(13)),
    Case("${s} + 1", .nan),
    Case(".5 + .5", .number(1)),
    Case("3.25 * 4", .number(13)),
    Case("${neg} * -1", .number(3)),
    Case("${a} div ${zero}", .number(.infinity)),
    Case("${a} mod ${b}", .number(1)),
    Case("(${a} + ${b}) * (${a} - ${b})", .number(21)),
    Case("${a}-${b}", .number(3)),
    Case("1+2*3-4", .number(3)),
]

private let comparisons: [Case] = [
    Case("1 < 2", .bool(true)),
    Case("2 <= 2", .bool(true)),
    Case("3 > 2", .bool(true)),
    Case("2 >= 3", .bool(false)),
    Case("1 = 1", .bool(true)),
    Case("1 != 1", .bool(false)),
    Case("'a' = 'a'", .bool(true)),
    Case("'a' != 'b'", .bool(true)),
    Case("\"a\" = 'a'", .bool(true)),
    Case("'10' = 10", .bool(true)),
    Case("'abc' = 0", .bool(false)),
    Case("${empty} = ''", .bool(true)),
    Case("${nothing} = ''", .bool(true)),
    Case("${empty} != ''", .bool(false)),
    Case("${a} = ''", .bool(false)),
    Case("${a} != ''", .bool(true)),
    Case("${empty} = 0", .bool(false)),
    Case("${empty} < 1", .bool(false)),
    Case("${empty} > -1", .bool(false)),
    Case("${empty} != 0", .bool(true)),
    Case("'2' < '10'", .bool(true)),
    Case("'b' < 'a'", .bool(false)),
    Case("'b' > 'a'", .bool(false)),
    Case("1 < 2 < 3", .bool(true)),
    Case("3 > 2 > 1", .bool(false)),
    Case("true() = 1", .bool(true)),
    Case("false() = 0", .bool(true)),
    Case("true() = 'x'", .bool(true)),
    Case("false() = ''", .bool(true)),
    Case("${s} = 'abc'", .bool(true)),
    Case("${num_text} = 12", .bool(true)),
    Case("${num_text} > 9", .bool(true)),
    Case("${cn} = '东关村'", .bool(true)),
    Case("1 + 1 = 2", .bool(true)),
    Case("${a} >= ${b} * 2 + 1", .bool(true)),
]

private let dates: [Case] = [
    Case("date('2026-03-15') < today()", .bool(true)),
    Case("today() = '2026-11-26'", .bool(true)),
    Case("today() > '2026-11-25'", .bool(true)),
    Case("today() < '2026-11-25'", .bool(false)),
    Case("date('2026-03-15') + 1 = date('2026-03-16')", .bool(true)),
    Case("format-date(date('2026-03-05'), '%Y/%m/%d')", .text("2026/03/05")),
    Case("format-date(date('2026-03-05'), '%n-%e')", .text("3-5")),
    Case("format-date(date('2026-03-05'), '%y %b')", .text("26 Mar")),
    Case("format-date(today(), '%Y')", .text("2026")),
    Case("int(format-date(${d}, '%Y')) - 1990", .number(36)),
    Case("format-date('not a date', '%Y')", .text("")),
    Case("format-date(${empty}, '%Y')", .text("")),
    Case("date('2026-02-30')", .empty),
    Case("today() - date('2026-11-01')", .number(25)),
    Case("date('2024-02-29') < date('2024-03-01')", .bool(true)),
    Case("date('1970-01-02')", .number(1)),
    Case("format-date(date('2026-11-26'), '%a')", .text("Thu")),
    Case("date(${d}) = ${d}", .bool(true)),
]

private let logic: [Case] = [
    Case("1 and 0", .bool(false)),
    Case("1 or 0", .bool(true)),
    Case("not(0)", .bool(true)),
    Case("not('')", .bool(true)),
    Case("not('a')", .bool(false)),
    Case("${empty} or ${a}", .bool(true)),
    Case("true() and false()", .bool(false)),
    Case("1 = 1 and 2 = 2", .bool(true)),
    Case("1 = 2 or 2 = 2", .bool(true)),
    Case("1 or 0 and 0", .bool(true)),
    Case("(1 or 0) and 0", .bool(false)),
    Case("not(${nothing})", .bool(true)),
    Case("boolean('false')", .bool(true)),
    Case("boolean(0)", .bool(false)),
    Case("boolean(${multi})", .bool(true)),
    Case("boolean(0 div 0)", .bool(false)),
    Case("not(${a} > 3 and ${b} > 3)", .bool(true)),
    Case("${a} > 3 or ${nothing} = 1", .bool(true)),
]

private let functions: [Case] = [
    Case("if(1 > 0, 'yes', 'no')", .text("yes")),
    Case("if(${empty}, 1, 2)", .number(2)),
    Case("if(${a} > 3, ${a} * 2, 0)", .number(10)),
    Case("selected(${multi}, 'x')", .bool(true)),
    Case("selected(${multi}, 'z')", .bool(false)),
    Case("selected(${yes}, 'yes')", .bool(true)),
    Case("selected(${empty}, 'x')", .bool(false)),
    Case("selected('a b c', 'b')", .bool(true)),
    Case("count-selected(${multi})", .number(2)),
    Case("count-selected(${empty})", .number(0)),
    Case("count-selected('a b  c')", .number(3)),
    Case("selected-at(${multi}, 1)", .text("y")),
    Case("selected-at(${multi}, 5)", .text("")),
    Case("string-length('中文abc')", .number(5)),
    Case("string-length(${empty})", .number(0)),
    Case("string-length(${a})", .number(1)),
    Case("concat('a', 'b', 1)", .text("ab1")),
    Case("concat()", .text("")),
    Case("concat(${s}, '-', ${a})", .text("abc-5")),
    Case("contains('abcdef', 'cd')", .bool(true)),
    Case("contains('abc', 'x')", .bool(false)),
    Case("starts-with('abc', 'ab')", .bool(true)),
    Case("starts-with('abc', 'bc')", .bool(false)),
    Case("ends-with('abc', 'bc')", .bool(true)),
    Case("substring-before('1999/04/01', '/')", .text("1999")),
    Case("substring-before('东关村-二组', '-')", .text("东关村")),
    Case("substring-before('abc', 'x')", .text("")),
    Case("substring-before('abc', '')", .text("")),
    Case("substring-after('1999/04/01', '/')", .text("04/01")),
    Case("substring-after('abc', 'x')", .text("")),
    Case("substring-after('abc', '')", .text("abc")),
    Case("substring-after(${cn}, '东')", .text("关村")),
    Case("translate('bar', 'abc', 'ABC')", .text("BAr")),
    Case("translate('--aaa--', 'abc-', 'ABC')", .text("AAA")),
    Case("translate('aba', 'aa', 'xy')", .text("xbx")),
    Case("translate('１２３', '１２３', '123')", .text("123")),
    Case("join(', ', ${v})", .text("1, 2, 3")),
    Case("join('-', ${w})", .text("p-q-")),
    Case("join('/', 'a', ${s}, 5)", .text("a/abc/5")),
    Case("join(',')", .text("")),
    Case("count-non-empty(${w})", .number(2)),
    Case("count-non-empty(${v})", .number(3)),
    Case("count-non-empty(${empty})", .number(0)),
    Case("count-non-empty(${a})", .number(1)),
    Case("substr('abcdef', 2)", .text("cdef")),
    Case("substr('abcdef', 1, 3)", .text("bc")),
    Case("normalize-space('  a   b ')", .text("a b")),
    Case("regex('13912345678', '^1[3-9][0-9]{9}$')", .bool(true)),
    Case("regex('abc', '^[0-9]+$')", .bool(false)),
    Case("regex(${num_text}, '[0-9]')", .bool(true)),
    Case("regex(${cn}, '村$')", .bool(true)),
    Case("string(1.50)", .text("1.5")),
    Case("string(1 div 0)", .text("Infinity")),
    Case("string(0 div 0)", .text("NaN")),
    Case("string(true())", .text("true")),
    Case("string(${multi})", .text("x y")),
    Case("string(10 div 4)", .text("2.5")),
    Case("coalesce(${empty}, 'x')", .text("x")),
    Case("coalesce(${s}, 'x')", .text("abc")),
    Case("coalesce(${nothing}, ${a})", .number(5)),
    Case("int(3.7)", .number(3)),
    Case("int(-3.7)", .number(-3)),
    Case("int('12')", .number(12)),
    Case("int('')", .nan),
    Case("number('12.5')", .number(12.5)),
    Case("number('1e3')", .nan),
    Case("number(' 42 ')", .number(42)),
    Case("number('-.5')", .number(-0.5)),
    Case("number(true())", .number(1)),
    Case("number('')", .nan),
    Case("round(2.5)", .number(3)),
    Case("round(-2.5)", .number(-3)),
    Case("round(3.14159, 2)", .number(3.14)),
    Case("round(1234, -2)", .number(1200)),
    Case("abs(-4)", .number(4)),
    Case("abs(${neg})", .number(3)),
    Case("floor(2.7)", .number(2)),
    Case("ceiling(2.1)", .number(3)),
    Case("pow(2, 10)", .number(1024)),
    Case("min(3, 1, 2)", .number(1)),
    Case("max(3, 1, 2)", .number(3)),
    Case("max(1, ${empty})", .nan),
    Case("true()", .bool(true)),
    Case("false()", .bool(false)),
]

private let repeats: [Case] = [
    Case("sum(${v})", .number(6)),
    Case("count(${items})", .number(3)),
    Case("count(${v})", .number(3)),
    Case("sum(${v}) div count(${items})", .number(2)),
    Case("sum(${w})", .nan),
    Case("${v} = 2", .bool(true)),
    Case("${v} > 5", .bool(false)),
    Case("${w} = ''", .bool(true)),
    Case("${w} = 'q'", .bool(true)),
    Case("min(${v})", .number(1)),
    Case("max(${v})", .number(3)),
    Case("count(${nothing})", .number(0)),
    Case("count(${a})", .number(1)),
    Case("sum(${a})", .number(5)),
    Case("max(${v}) - min(${v})", .number(2)),
    Case(".", .empty),
    Case(". = ''", .bool(true)),
]

@Suite("Expressions evaluate as XPath 1.0 and ODK do")
struct ExpressionTests {
    static let all = arithmetic + comparisons + dates + logic + functions + repeats

    @Test(arguments: ExpressionTests.all)
    func evaluates(_ item: Case) throws {
        let value = try ExpressionEvaluator.evaluate(item.expression, answers: answers, today: today)
        #expect(item.expected.matches(value), "\(item.expression) gave \(value) (\(value.typeName)), expected \(item.expected)")
    }

    @Test func tableIsLargeEnough() {
        #expect(Self.all.count + ExpressionErrorTests.cases.count >= 150)
    }

    @Test func parserKeepsPrecedence() throws {
        let tree = try ExpressionParser.parse("1 or 2 and 3 = 4 + 5 * 6")
        #expect(
            tree
                == .binary(
                    .or, .number(1), .binary(.and, .number(2), .binary(.equal, .number(3), .binary(.plus, .number(4), .binary(.times, .number(5), .number(6)))))
                ))
    }

    @Test func referencesAreListedInOrder() throws {
        #expect(try ExpressionParser.parse("${b} + sum(${a}) - ${b}").references == ["b", "a", "b"])
    }
}

struct ErrorCase: Sendable, CustomTestStringConvertible {
    let expression: String
    let column: Int
    let message: String
    init(_ expression: String, column: Int, _ message: String) {
        self.expression = expression
        self.column = column
        self.message = message
    }
    var testDescription: String { "\(expression) fails at \(column)" }
}

@Suite("Expression errors name the column and say what is wrong")
struct ExpressionErrorTests {
    static let cases: [ErrorCase] = [
        ErrorCase("", column: 1, "empty"),
        ErrorCase("   ", column: 1, "empty"),
        ErrorCase("1 +", column: 4, "ends too early"),
        ErrorCase("(1 + 2", column: 1, "lacks its closing ')'"),
        ErrorCase("1 + 2)", column: 6, "unmatched ')'"),
        ErrorCase("${a", column: 1, "lacks its closing }"),
        ErrorCase("$a", column: 1, "expected {name} after $"),
        ErrorCase("'abc", column: 1, "closing '"),
        ErrorCase("1 == 1", column: 3, "use = for equality"),
        ErrorCase("!x", column: 1, "use not(...)"),
        ErrorCase("1 && 2", column: 3, "use and"),
        ErrorCase("1 || 2", column: 3, "use or"),
        ErrorCase("4 / 2", column: 3, "use div"),
        ErrorCase("foo(1)", column: 1, "unknown function foo()"),
        ErrorCase("if(1, 2)", column: 1, "takes 3 arguments, not 2"),
        ErrorCase("not()", column: 1, "takes 1 argument, not 0"),
        ErrorCase("today(1)", column: 1, "takes 0 arguments"),
        ErrorCase("round(1, 2, 3)", column: 1, "takes 1 to 2 arguments"),
        ErrorCase("min()", column: 1, "at least 1 argument"),
        ErrorCase("${missing} + 1", column: 1, "${missing}, which does not exist"),
        ErrorCase("1 + ${missing}", column: 5, "${missing}, which does not exist"),
        ErrorCase("members_total > 0", column: 1, "write ${members_total}"),
        ErrorCase("1 2", column: 3, "operator is missing"),
        ErrorCase("and 1", column: 1, "needs an operand before it"),
        ErrorCase("1 + * 2", column: 5, "'*' needs an operand"),
        ErrorCase("regex('a', '[')", column: 1, "invalid regular expression"),
        ErrorCase("${1abc}", column: 1, "not a valid field name"),
        ErrorCase("1 # 2", column: 3, "unexpected character '#'"),
        ErrorCase("true", column: 1, "write true()"),
        ErrorCase("concat('a',)", column: 12, "unmatched ')'"),
        ErrorCase("max(1, 2", column: 4, "lacks its closing ')'"),
        ErrorCase("@x", column: 1, "unexpected character '@'"),
        ErrorCase("1 + 1 +", column: 8, "ends too early"),
        ErrorCase("${a} ${b}", column: 6, "operator is missing"),
        ErrorCase("(", column: 2, "ends too early"),
        ErrorCase("()", column: 2, "unmatched ')'"),
        ErrorCase("'中文' + ${缺}", column: 8, "does not exist"),
        ErrorCase("1.2.3", column: 1, "invalid number"),
    ]

    @Test(arguments: cases)
    func reportsColumn(_ item: ErrorCase) {
        do {
            let value = try ExpressionEvaluator.evaluate(item.expression, answers: answers, today: today)
            Issue.record("\(item.expression) should fail, gave \(value)")
        } catch {
            #expect(error.column == item.column, "\(item.expression): \(error)")
            #expect((error.message.en ?? "").contains(item.message), "\(item.expression): \(error.message.en ?? "")")
            #expect(!error.message.zh.isEmpty)
        }
    }
}
