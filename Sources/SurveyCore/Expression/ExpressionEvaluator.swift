/// Evaluates an expression against plain answers without a form, for trying
/// expressions out: `${name}` reads the value as the file gives it, and a
/// list of objects acts as a repeat.
public enum ExpressionEvaluator {
    public static func evaluate(_ text: String, answers: JSONObject = JSONObject(), today: Int = CivilDate.today()) throws(ExpressionError) -> Value {
        let tree = try ExpressionParser.parse(text)
        var topSlots: [String: Int] = [:]
        var repeatIndex: [String: Int] = [:]
        var innerSlots: [[String: Int]] = []
        var topValues: [Value] = []
        var repeatEntries: [[[Value]]] = []
        for (key, json) in answers {
            if case .array(let items) = json, !items.isEmpty, items.allSatisfy({ $0.objectValue != nil }) {
                var slots: [String: Int] = [:]
                for item in items {
                    for (name, _) in item.objectValue! where slots[name] == nil { slots[name] = slots.count }
                }
                let entries = items.map { item -> [Value] in
                    var values = Array(repeating: Value.empty, count: slots.count)
                    for (name, value) in item.objectValue! { values[slots[name]!] = plain(value) }
                    return values
                }
                repeatIndex[key] = innerSlots.count
                innerSlots.append(slots)
                repeatEntries.append(entries)
            } else {
                topSlots[key] = topValues.count
                topValues.append(plain(json))
            }
        }
        let binder = ExpressionBinder { name in
            if let slot = topSlots[name] { return .top(slot: slot) }
            if let index = repeatIndex[name] { return .repeatGroup(index) }
            for (index, slots) in innerSlots.enumerated() {
                if let slot = slots[name] { return .inner(repeat: index, slot: slot) }
            }
            return nil
        }
        let (bound, errors) = binder.bind(tree)
        if let first = errors.first { throw first }
        let sheet = AnswerSheet(topSlots: topValues.count, repeatWidths: innerSlots.map(\.count))
        sheet.top = topValues
        for (repeatIndex, entries) in repeatEntries.enumerated() {
            sheet.resetEntries(repeatIndex, count: entries.count)
            for (entry, values) in entries.enumerated() {
                for (slot, value) in values.enumerated() { sheet[repeatIndex, entry, slot] = value }
            }
        }
        return bound.evaluate(EvaluationContext(sheet: sheet, today: today))
    }

    /// A JSON answer as an expression value: dates stay text, as in ODK.
    static func plain(_ json: JSONValue) -> Value {
        switch json {
        case .null: return .empty
        case .bool(let flag): return .bool(flag)
        case .integer(let value): return .number(Double(value))
        case .number(let value): return .number(value)
        case .string(let text): return text.isEmpty ? .empty : .string(text)
        case .array(let items): return .choices(items.map { $0.stringValue ?? plain($0).string })
        case .object: return .empty
        }
    }
}
