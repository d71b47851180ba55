import Foundation

/// The answers of one survey while it is being checked: values of the
/// top-level fields by slot, and of each repeat's entries by slot. A
/// repeat's entries share one flat array, `entry * width + slot`.
public final class AnswerSheet {
    public var top: [Value]
    private var entries: [[Value]]
    /// Slots per entry, for each repeat.
    public let widths: [Int]
    public private(set) var entryCounts: [Int]

    public init(topSlots: Int, repeatWidths: [Int]) {
        top = Array(repeating: .empty, count: topSlots)
        widths = repeatWidths
        entries = Array(repeating: [], count: repeatWidths.count)
        entryCounts = Array(repeating: 0, count: repeatWidths.count)
    }

    /// Makes `count` empty entries for a repeat, dropping any it had.
    public func resetEntries(_ repeatIndex: Int, count: Int) {
        entries[repeatIndex] = Array(repeating: .empty, count: count * widths[repeatIndex])
        entryCounts[repeatIndex] = count
    }

    public subscript(repeatIndex: Int, entry: Int, slot: Int) -> Value {
        get { entries[repeatIndex][entry * widths[repeatIndex] + slot] }
        set { entries[repeatIndex][entry * widths[repeatIndex] + slot] = newValue }
    }

    /// One field's values across a repeat's entries.
    public func column(_ repeatIndex: Int, slot: Int) -> [Value] {
        let width = widths[repeatIndex]
        return (0..<entryCounts[repeatIndex]).map { entries[repeatIndex][$0 * width + slot] }
    }
}

/// Where an expression is evaluated: which survey, which repeat entry (if
/// any), what `.` means, and what day `today()` is.
public struct EvaluationContext {
    public var sheet: AnswerSheet
    public var repeatIndex: Int
    public var entry: Int
    public var current: Value
    public var today: Int
    /// The same unit's settled answers of the previous period, which
    /// `previous(…)` reads; nil when there are none.
    public var previous: AnswerSheet?
    /// The columns of the choice a `choice_filter` is testing.
    public var choice: [Value] = []

    public init(sheet: AnswerSheet, repeatIndex: Int = -1, entry: Int = 0, current: Value = .empty, today: Int, previous: AnswerSheet? = nil) {
        self.sheet = sheet
        self.repeatIndex = repeatIndex
        self.entry = entry
        self.current = current
        self.today = today
        self.previous = previous
    }
}

extension BoundExpression {
    /// Evaluates the expression. Evaluation never fails: as in XPath, a
    /// meaningless operation yields NaN or an empty string.
    public func evaluate(_ context: EvaluationContext) -> Value {
        switch self {
        case .constant(let value): return value
        case .top(let slot): return context.sheet.top[slot]
        case .sameEntry(let slot): return context.sheet[context.repeatIndex, context.entry, slot]
        case .acrossEntries(let repeatIndex, let slot):
            return .nodeset(context.sheet.column(repeatIndex, slot: slot))
        case .entries(let repeatIndex):
            return .nodeset(Array(repeating: .bool(true), count: context.sheet.entryCounts[repeatIndex]))
        case .current: return context.current
        case .negate(let operand): return .number(-operand.evaluate(context).number)
        case .binary(let op, let lhs, let rhs):
            return Self.apply(op, lhs, rhs, context)
        case .call(let function, let arguments):
            return Self.call(function, arguments, context)
        case .literalRegex(let subject, let regex):
            return .bool(regex.matches(subject.evaluate(context).string))
        case .previous(let slot):
            return context.previous?.top[slot] ?? .empty
        case .choiceColumn(let index):
            return index < context.choice.count ? context.choice[index] : .empty
        case .position:
            return context.repeatIndex >= 0 ? .number(Double(context.entry + 1)) : .number(.nan)
        case .indexedRepeat(let repeatIndex, let slot, let index):
            let number = index.evaluate(context).number
            guard number.isFinite, number >= 1, number == number.rounded(), Int(number) <= context.sheet.entryCounts[repeatIndex] else { return .empty }
            return context.sheet[repeatIndex, Int(number) - 1, slot]
        case .once(let inner):
            return context.current.isEmpty ? inner.evaluate(context) : context.current
        case .uuid(let length):
            guard let length else { return .string(UUID().uuidString.lowercased()) }
            let count = length.evaluate(context).number
            guard count.isFinite, count >= 1, count <= 1_000 else { return .empty }
            let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            return .string(String((0..<Int(count)).map { _ in alphabet.randomElement()! }))
        case .choiceName(let value, let list):
            let name = value.evaluate(context).string
            return list.label(of: name).map { .string($0.zh) } ?? .empty
        }
    }

    private static func apply(_ op: BinaryOperator, _ lhs: BoundExpression, _ rhs: BoundExpression, _ context: EvaluationContext) -> Value {
        switch op {
        case .and:
            return .bool(lhs.evaluate(context).bool && rhs.evaluate(context).bool)
        case .or:
            return .bool(lhs.evaluate(context).bool || rhs.evaluate(context).bool)
        default:
            break
        }
        let a = lhs.evaluate(context)
        let b = rhs.evaluate(context)
        // Two numbers, the common case in constraints, compare directly.
        if case .number(let x) = a, case .number(let y) = b {
            switch op {
            case .plus: return .number(x + y)
            case .minus: return .number(x - y)
            case .times: return .number(x * y)
            case .div: return .number(x / y)
            case .mod: return .number(fmod(x, y))
            case .equal: return .bool(x == y)
            case .notEqual: return .bool(x != y)
            case .less: return .bool(x < y)
            case .lessOrEqual: return .bool(x <= y)
            case .greater: return .bool(x > y)
            case .greaterOrEqual: return .bool(x >= y)
            case .and, .or: break
            }
        }
        switch op {
        case .plus: return .number(a.number + b.number)
        case .minus: return .number(a.number - b.number)
        case .times: return .number(a.number * b.number)
        case .div: return .number(a.number / b.number)
        case .mod: return .number(fmod(a.number, b.number))
        default: return .bool(Comparison.compare(op, a, b))
        }
    }
}

/// XPath 1.0 comparisons (§3.4), with ODK's treatment of dates.
enum Comparison {
    static func compare(_ op: BinaryOperator, _ a: Value, _ b: Value) -> Bool {
        // A node-set compares true when any of its entries does.
        if case .nodeset(let values) = a {
            if case .bool = b { return compareScalars(op, .bool(!values.isEmpty), b) }
            return values.contains { compare(op, $0, b) }
        }
        if case .nodeset(let values) = b {
            if case .bool = a { return compareScalars(op, a, .bool(!values.isEmpty)) }
            return values.contains { compare(op, a, $0) }
        }
        return compareScalars(op, a, b)
    }

    private static func compareScalars(_ op: BinaryOperator, _ a: Value, _ b: Value) -> Bool {
        switch op {
        case .equal, .notEqual:
            let equal: Bool
            if case .bool = a {
                equal = a.bool == b.bool
            } else if case .bool = b {
                equal = a.bool == b.bool
            } else if let (x, y) = dates(a, b) {
                equal = x == y
            } else if isNumber(a) || isNumber(b) {
                equal = a.number == b.number
            } else {
                equal = a.string == b.string
            }
            return op == .equal ? equal : !equal
        default:
            let x: Double
            let y: Double
            if let (dx, dy) = dates(a, b) {
                x = dx
                y = dy
            } else {
                x = a.number
                y = b.number
            }
            switch op {
            case .less: return x < y
            case .lessOrEqual: return x <= y
            case .greater: return x > y
            default: return x >= y
            }
        }
    }

    @inline(__always) private static func isNumber(_ value: Value) -> Bool {
        if case .number = value { return true }
        return false
    }

    /// When one side is a date, both sides as day numbers: a string side is
    /// read as `YYYY-MM-DD`, a number side is taken as a day number.
    private static func dates(_ a: Value, _ b: Value) -> (Double, Double)? {
        switch (a, b) {
        case (.date(let x), .date(let y)): return (Double(x), Double(y))
        case (.date(let x), _): return (Double(x), dayNumber(b))
        case (_, .date(let y)): return (dayNumber(a), Double(y))
        default: return nil
        }
    }

    private static func dayNumber(_ value: Value) -> Double {
        switch value {
        case .string(let text): return CivilDate.parse(text).map(Double.init) ?? .nan
        case .empty: return .nan
        default: return value.number
        }
    }
}
