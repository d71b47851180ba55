import Foundation

extension BoundExpression {
    static func call(_ function: Function, _ arguments: [BoundExpression], _ context: EvaluationContext) -> Value {
        // `if` and `coalesce` evaluate only what they need.
        switch function {
        case .if:
            return arguments[0].evaluate(context).bool ? arguments[1].evaluate(context) : arguments[2].evaluate(context)
        case .coalesce:
            let first = arguments[0].evaluate(context)
            return first.string.isEmpty ? arguments[1].evaluate(context) : first
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .today: return .date(context.today)
        default: break
        }
        // Functions of one or two arguments, the common case, allocate nothing.
        switch function {
        case .not: return .bool(!arguments[0].evaluate(context).bool)
        case .int:
            let n = arguments[0].evaluate(context).number
            return .number(n.isFinite ? n.rounded(.towardZero) : n)
        case .selected:
            let list = arguments[0].evaluate(context)
            let wanted = arguments[1].evaluate(context).string.trimmingSpaces
            if case .choices(let names) = list { return .bool(names.contains(wanted)) }
            return .bool(choiceList(list).contains(wanted))
        case .countSelected:
            let list = arguments[0].evaluate(context)
            if case .choices(let names) = list { return .number(Double(names.count)) }
            return .number(Double(choiceList(list).count))
        case .formatDate:
            guard case .date(let days) = toDate(arguments[0].evaluate(context)) else { return .string("") }
            return .string(formatDate(days: days, pattern: arguments[1].evaluate(context).string))
        case .count:
            // Counting a repeat's entries needs no node-set.
            switch arguments[0] {
            case .entries(let repeatIndex), .acrossEntries(let repeatIndex, _):
                return .number(Double(context.sheet.entryCounts[repeatIndex]))
            default: break
            }
        case .sum:
            // Summing one field across a repeat reads the entries in place.
            if arguments.count == 1, case .acrossEntries(let repeatIndex, let slot) = arguments[0] {
                var total = 0.0
                for entry in 0..<context.sheet.entryCounts[repeatIndex] {
                    total += context.sheet[repeatIndex, entry, slot].number
                }
                return .number(total)
            }
        default: break
        }
        let values = arguments.map { $0.evaluate(context) }
        switch function {
        case .boolean: return .bool(values[0].bool)
        case .number: return .number(values[0].number)
        case .string: return .string(values[0].string)
        case .round:
            let n = values[0].number
            let digits = values.count > 1 ? values[1].number : 0
            guard n.isFinite, digits.isFinite else { return .number(n) }
            let scale = pow(10, digits.rounded(.towardZero))
            return .number((n * scale).rounded(.toNearestOrAwayFromZero) / scale)
        case .abs: return .number(Swift.abs(values[0].number))
        case .floor: return .number(values[0].number.rounded(.down))
        case .ceiling: return .number(values[0].number.rounded(.up))
        case .pow: return .number(Foundation.pow(values[0].number, values[1].number))
        case .min, .max:
            let numbers = flatten(values).map(\.number)
            guard !numbers.isEmpty else { return .number(.nan) }
            if numbers.contains(where: \.isNaN) { return .number(.nan) }
            return .number(function == .min ? numbers.min()! : numbers.max()!)
        case .sum:
            return .number(flatten(values).reduce(0) { $0 + $1.number })
        case .count:
            if case .nodeset(let entries) = values[0] { return .number(Double(entries.count)) }
            return .number(values[0].isEmpty ? 0 : 1)
        case .selectedAt:
            let list = choiceList(values[0])
            let n = values[1].number
            guard n.isFinite, n >= 0, Int(n) < list.count else { return .string("") }
            return .string(list[Int(n)])
        case .stringLength: return .number(Double(values[0].string.count))
        case .concat: return .string(values.map { flatten([$0]).map(\.string).joined() }.joined())
        case .contains: return .bool(values[0].string.contains(values[1].string) || values[1].string.isEmpty)
        case .startsWith: return .bool(values[0].string.hasPrefix(values[1].string))
        case .endsWith: return .bool(values[0].string.hasSuffix(values[1].string))
        case .substr:
            let characters = Array(values[0].string)
            let start = values[1].number
            let end = values.count > 2 ? values[2].number : Double(characters.count)
            guard start.isFinite, end.isFinite else { return .string("") }
            let lower = Swift.max(0, Swift.min(characters.count, Int(start)))
            let upper = Swift.max(lower, Swift.min(characters.count, Int(end)))
            return .string(String(characters[lower..<upper]))
        case .normalizeSpace:
            return .string(values[0].string.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        case .regex:
            guard let regex = try? NSRegularExpression(pattern: values[1].string) else { return .bool(false) }
            return .bool(CompiledRegex(regex).matches(values[0].string))
        case .date:
            return toDate(values[0])
        case .substringBefore:
            let (text, wanted) = (values[0].string, values[1].string)
            guard !wanted.isEmpty, let range = text.range(of: wanted) else { return .string("") }
            return .string(String(text[..<range.lowerBound]))
        case .substringAfter:
            let (text, wanted) = (values[0].string, values[1].string)
            if wanted.isEmpty { return .string(text) }
            guard let range = text.range(of: wanted) else { return .string("") }
            return .string(String(text[range.upperBound...]))
        case .translate:
            // Each character of the second string becomes the character at
            // the same place in the third, or goes when the third is shorter;
            // a character repeated in the second counts where it first is.
            let from = Array(values[1].string)
            let to = Array(values[2].string)
            var output = ""
            for character in values[0].string {
                guard let place = from.firstIndex(of: character) else {
                    output.append(character)
                    continue
                }
                if place < to.count { output.append(to[place]) }
            }
            return .string(output)
        case .join:
            return .string(flatten(Array(values.dropFirst())).map(\.string).joined(separator: values[0].string))
        case .countNonEmpty:
            return .number(Double(flatten(values).filter { !$0.string.isEmpty }.count))
        case .if, .coalesce, .true, .false, .today, .not, .int, .selected, .countSelected, .formatDate:
            preconditionFailure("handled above")
        }
    }

    /// Node-sets contribute their entries; other values themselves.
    private static func flatten(_ values: [Value]) -> [Value] {
        var result: [Value] = []
        for value in values {
            if case .nodeset(let entries) = value {
                result.append(contentsOf: entries)
            } else {
                result.append(value)
            }
        }
        return result
    }

    private static func choiceList(_ value: Value) -> [String] {
        switch value {
        case .choices(let list): return list
        case .empty: return []
        default: return value.string.split(separator: " ").map(String.init)
        }
    }

    private static func toDate(_ value: Value) -> Value {
        switch value {
        case .date: return value
        case .string(let text): return CivilDate.parse(text).map(Value.date) ?? .empty
        case .number(let n): return n.isFinite ? .date(Int(n.rounded(.down))) : .empty
        default: return .empty
        }
    }

    /// ODK's `format-date` patterns: %Y %y %m %n %d %e %b %a.
    static func formatDate(days: Int, pattern: String) -> String {
        let (year, month, day) = CivilDate.components(days: days)
        if pattern == "%Y" { return CivilDate.pad(year, 4) }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        var output = ""
        var iterator = pattern.makeIterator()
        while let c = iterator.next() {
            guard c == "%", let code = iterator.next() else {
                output.append(c)
                continue
            }
            switch code {
            case "Y": output += CivilDate.pad(year, 4)
            case "y": output += CivilDate.pad(year % 100, 2)
            case "m": output += CivilDate.pad(month, 2)
            case "n": output += String(month)
            case "d": output += CivilDate.pad(day, 2)
            case "e": output += String(day)
            case "b": output += months[month - 1]
            case "a": output += weekdays[((days % 7) + 7) % 7]
            default:
                output.append("%")
                output.append(code)
            }
        }
        return output
    }
}
