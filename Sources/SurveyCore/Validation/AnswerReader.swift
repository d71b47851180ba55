import Foundation

/// Turns one answer as sent (JSON) into a typed value for its field, or
/// says in both languages why it does not fit.
enum AnswerReader {
    /// Numbers beyond this are refused: no survey count or amount is near it,
    /// and Doubles stay exact below 2^53.
    static let largestNumber = 1e15
    /// The most characters a text answer may have.
    static let longestText = 10_000

    static func read(_ json: JSONValue, type: FieldType, choices: ChoiceList?) -> Result<Value, LocalizedText> {
        read(json, kind: AnswerKind(type), choices: choices)
    }

    static func read(_ json: JSONValue, kind: AnswerKind, choices: ChoiceList?) -> Result<Value, LocalizedText> {
        if case .null = json { return .success(.empty) }
        switch kind {
        case .integer, .decimal:
            let whole = kind == .integer
            // Built only for a message: this runs for every numeric answer.
            var expected: LocalizedText { whole ? L("整数", "a whole number") : L("数字", "a number") }
            let number: Double
            switch json {
            case .integer(let value): number = Double(value)
            case .number(let value): number = value
            case .string(let text):
                let trimmed = text.trimmingSpaces
                if trimmed.isEmpty { return .success(.empty) }
                number = Value.parseNumber(trimmed)
            default:
                return .failure(L("应为\(expected.zh),收到的是\(json.typeName)", "must be \(expected.en!), got \(json.typeNameWithArticle)"))
            }
            guard number.isFinite, !whole || number == number.rounded() else {
                return .failure(L("应为\(expected.zh),而不是 “\(shown(json))”", "must be \(expected.en!), not '\(shown(json))'"))
            }
            guard abs(number) <= largestNumber else { return .failure(L("数值过大", "the number is too large")) }
            return .success(.number(number))
        case .text:
            switch json {
            case .string(let text):
                // Bytes bound characters from above: count characters only for long text.
                if text.utf8.count > longestText, text.count > longestText {
                    return .failure(L("文字过长(最多 \(longestText) 字)", "the text is too long (at most \(longestText) characters)"))
                }
                return .success(text.isEmpty ? .empty : .string(text))
            case .integer(let value): return .success(.string(String(value)))
            case .number(let value): return .success(.string(Value.format(value)))
            default: return .failure(L("应为文字,收到的是\(json.typeName)", "must be text, got \(json.typeNameWithArticle)"))
            }
        case .date:
            guard case .string(let text) = json else {
                return .failure(L("应为 YYYY-MM-DD 格式的日期", "must be a date written YYYY-MM-DD"))
            }
            if text.isEmpty { return .success(.empty) }
            guard let days = CivilDate.parse(text) else {
                return .failure(L("“\(text)” 不是 YYYY-MM-DD 格式的有效日期", "'\(text)' is not a valid date written YYYY-MM-DD"))
            }
            return .success(.date(days))
        case .selectOne, .yesNo:
            let name: String
            switch json {
            case .string(let text): name = text
            case .integer(let value): name = String(value)
            case .bool(let flag) where kind == .yesNo: name = flag ? "yes" : "no"
            default: return .failure(L("应为一个选项名,收到的是\(json.typeName)", "must be one choice name, got \(json.typeNameWithArticle)"))
            }
            if name.isEmpty { return .success(.empty) }
            guard let choices else { return .success(.string(name)) }
            guard choices.contains(name) else { return .failure(notAChoice(name, choices)) }
            return .success(.string(name))
        case .selectMultiple:
            var names: [String] = []
            switch json {
            case .array(let items):
                names.reserveCapacity(items.count)
                for item in items {
                    switch item {
                    case .string(let text): names.append(text)
                    case .integer(let value): names.append(String(value))
                    default: return .failure(L("多选答案应为选项名的列表", "a multiple-choice answer must be a list of choice names"))
                    }
                }
            case .string(let text):
                names = text.split(separator: " ").map(String.init)
            default:
                return .failure(
                    L("多选答案应为选项名的列表,收到的是\(json.typeName)", "a multiple-choice answer must be a list of choice names, got \(json.typeNameWithArticle)"))
            }
            for (position, name) in names.enumerated() {
                if let choices, !choices.contains(name) { return .failure(notAChoice(name, choices)) }
                // Lists are short: a scan finds a repeated choice without hashing.
                if names[..<position].contains(name) {
                    return .failure(L("选项 “\(name)” 重复", "choice '\(name)' is given twice"))
                }
            }
            return .success(names.isEmpty ? .empty : .choices(names))
        case .none:
            return .success(.empty)
        }
    }

    /// An answer as it was sent, shortened for a message.
    private static func shown(_ json: JSONValue) -> String {
        let text: String
        switch json {
        case .string(let value): text = value
        case .integer(let value): text = String(value)
        case .number(let value): text = Value.format(value)
        default: text = json.serialized()
        }
        return text.count > 40 ? String(text.prefix(40)) + "…" : text
    }

    private static func notAChoice(_ name: String, _ choices: ChoiceList) -> LocalizedText {
        let allowed = choices.choices.map(\.name)
        return L(
            "“\(name)” 不是有效选项(可选:\(allowed.joined(separator: "、")))",
            "'\(name)' is not one of the choices (\(allowed.joined(separator: ", ")))")
    }
}

extension Value {
    /// The value as it is stored in answers: numbers, text, dates as
    /// `YYYY-MM-DD`, multiple choices as a list. Empty values are `nil`.
    public var json: JSONValue? {
        switch self {
        case .empty: return nil
        case .number(let value):
            if value.isNaN || value.isInfinite { return nil }
            if value == value.rounded(), abs(value) < 9e15 { return .integer(Int(value)) }
            return .number(value)
        case .string(let text): return text.isEmpty ? nil : .string(text)
        case .bool(let flag): return .bool(flag)
        case .date(let days): return .string(CivilDate.format(days: days))
        case .choices(let list): return list.isEmpty ? nil : .array(list.map(JSONValue.string))
        case .nodeset(let values): return .array(values.compactMap(\.json))
        }
    }
}
