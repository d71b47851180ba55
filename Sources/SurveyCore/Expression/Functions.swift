/// The functions that expressions may call, with the number of arguments
/// each takes. Names follow XPath 1.0 and ODK.
public enum Function: String, Sendable, CaseIterable {
    case `if`
    case not
    case `true`
    case `false`
    case boolean
    case number
    case string
    case int
    case round
    case abs
    case floor
    case ceiling
    case pow
    case min
    case max
    case sum
    case count
    case selected
    case countSelected = "count-selected"
    case selectedAt = "selected-at"
    case stringLength = "string-length"
    case concat
    case contains
    case startsWith = "starts-with"
    case endsWith = "ends-with"
    case substr
    case normalizeSpace = "normalize-space"
    case regex
    case coalesce
    case today
    case date
    case formatDate = "format-date"
    case substringBefore = "substring-before"
    case substringAfter = "substring-after"
    case translate
    case join
    case countNonEmpty = "count-non-empty"

    /// The least and most arguments (`nil`: any number).
    var arity: (min: Int, max: Int?) {
        switch self {
        case .true, .false, .today: return (0, 0)
        case .not, .boolean, .number, .string, .int, .abs, .floor, .ceiling, .sum, .count, .countSelected,
            .stringLength, .normalizeSpace, .date, .countNonEmpty:
            return (1, 1)
        case .round: return (1, 2)
        case .pow, .selected, .selectedAt, .contains, .startsWith, .endsWith, .regex, .coalesce, .formatDate, .substringBefore, .substringAfter:
            return (2, 2)
        case .translate: return (3, 3)
        case .join: return (1, nil)
        case .substr: return (2, 3)
        case .if: return (3, 3)
        case .min, .max: return (1, nil)
        case .concat: return (0, nil)
        }
    }

    var arityText: LocalizedText {
        let (least, most) = arity
        if let most, most == least { return L("\(least) 个参数", "\(least) argument\(least == 1 ? "" : "s")") }
        if let most { return L("\(least) 到 \(most) 个参数", "\(least) to \(most) arguments") }
        return L("至少 \(least) 个参数", "at least \(least) argument\(least == 1 ? "" : "s")")
    }
}
