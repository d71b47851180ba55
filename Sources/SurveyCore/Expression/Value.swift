import Foundation

/// The value of an expression or of an answer while a survey is checked.
///
/// XPath 1.0 has numbers, strings, booleans and node-sets. Answers keep
/// their form type here so that the engine need not re-read text: a date
/// answer is a day number, a `select_multiple` answer a list of choice
/// names. Conversions follow XPath 1.0 and ODK (see docs/FORMS.md).
public enum Value: Sendable, Equatable {
    /// An unanswered or non-relevant question: the string `''`, the number
    /// NaN, the boolean false.
    case empty
    case number(Double)
    case string(String)
    case bool(Bool)
    /// A date, as days since 1970-01-01.
    case date(Int)
    /// The choices of a `select_multiple` answer, in the order given.
    case choices([String])
    /// A field inside a repeat seen from outside it: one value per entry.
    case nodeset([Value])

    /// XPath `number()`.
    public var number: Double {
        switch self {
        case .empty: return .nan
        case .number(let value): return value
        case .string(let text): return Value.parseNumber(text)
        case .bool(let value): return value ? 1 : 0
        case .date(let days): return Double(days)
        case .choices(let list): return list.count == 1 ? Value.parseNumber(list[0]) : .nan
        case .nodeset(let values): return values.first?.number ?? .nan
        }
    }

    /// XPath `string()`.
    public var string: String {
        switch self {
        case .empty: return ""
        case .number(let value): return Value.format(value)
        case .string(let text): return text
        case .bool(let value): return value ? "true" : "false"
        case .date(let days): return CivilDate.format(days: days)
        case .choices(let list): return list.joined(separator: " ")
        case .nodeset(let values): return values.first?.string ?? ""
        }
    }

    /// XPath `boolean()`: a node-set is true when it has any entry.
    public var bool: Bool {
        switch self {
        case .empty: return false
        case .number(let value): return value != 0 && !value.isNaN
        case .string(let text): return !text.isEmpty
        case .bool(let value): return value
        case .date: return true
        case .choices(let list): return !list.isEmpty
        case .nodeset(let values): return !values.isEmpty
        }
    }

    /// Whether the value counts as no answer: empty, `''`, NaN or no choices.
    public var isEmpty: Bool {
        switch self {
        case .empty: return true
        case .string(let text): return text.isEmpty
        case .number(let value): return value.isNaN
        case .choices(let list): return list.isEmpty
        case .nodeset(let values): return values.isEmpty
        case .bool, .date: return false
        }
    }

    /// XPath's number syntax: optional spaces, optional minus, digits with an
    /// optional fraction. Anything else (including `1e3`, `+1`) is NaN.
    public static func parseNumber(_ text: String) -> Double {
        var text = text
        return text.withUTF8 { parseNumber(utf8: $0) }
    }

    static func parseNumber(utf8: UnsafeBufferPointer<UInt8>) -> Double {
        var lower = 0
        var upper = utf8.count
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        while lower < upper, isSpace(utf8[lower]) { lower += 1 }
        while upper > lower, isSpace(utf8[upper - 1]) { upper -= 1 }
        var index = lower
        var negative = false
        if index < upper, utf8[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var sawDigit = false
        var sawDot = false
        var integerPart: Double = 0
        let digitsStart = index
        while index < upper {
            let byte = utf8[index]
            if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                sawDigit = true
                if !sawDot { integerPart = integerPart * 10 + Double(byte - UInt8(ascii: "0")) }
            } else if byte == UInt8(ascii: "."), !sawDot {
                sawDot = true
            } else {
                return .nan
            }
            index += 1
        }
        guard sawDigit else { return .nan }
        if !sawDot && upper - digitsStart <= 15 { return negative ? -integerPart : integerPart }
        let body = String(decoding: utf8[digitsStart..<upper], as: UTF8.self)
        let value = Double(body.hasPrefix(".") ? "0" + body : body) ?? .nan
        return negative ? -value : value
    }

    /// XPath's number to string: integers without a fraction, `NaN`,
    /// `Infinity`, `-Infinity`.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "Infinity" : "-Infinity" }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 {
            return String(Int64(value))
        }
        // Shortest form that reads back, without an exponent for usual sizes.
        let text = "\(value)"
        if text.contains("e") {
            return String(format: "%.15g", value)
        }
        return text
    }
}

extension Value: CustomStringConvertible {
    public var description: String {
        switch self {
        case .empty: return "''"
        case .string(let text): return "'\(text)'"
        case .nodeset(let values): return "(" + values.map(\.description).joined(separator: ", ") + ")"
        default: return string
        }
    }

    /// The name of the value's type, for `vsurvey expr`.
    public var typeName: String {
        switch self {
        case .empty: return "empty"
        case .number: return "number"
        case .string: return "string"
        case .bool: return "boolean"
        case .date: return "date"
        case .choices: return "choices"
        case .nodeset: return "node-set"
        }
    }
}
