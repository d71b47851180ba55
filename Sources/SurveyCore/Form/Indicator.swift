import Foundation

/// How the county adds a form up: one figure per township and for the
/// county, computed from the current survey of each unit.
public struct Indicator: Sendable {
    public enum Kind: Sendable {
        /// Sum of `value` over the reporting units.
        case sum(FormExpression)
        /// Mean of `value` over the reporting units that have one.
        case average(FormExpression)
        /// How many reporting units meet `condition` (all of them without one).
        case count(FormExpression?)
        /// The part of the reporting units that meet `condition`.
        case share(FormExpression)
        /// Sum of `numerator` over sum of `denominator`, times `scale`.
        case ratio(numerator: FormExpression, denominator: FormExpression)
        /// Units that reported over units in the registry at the form's level.
        case completeness
    }

    public let name: String
    public let label: LocalizedText
    public let kind: Kind
    public let format: IndicatorFormat
    /// A multiplier for ratios, e.g. 100 for "per 100 members".
    public let scale: Double
    /// Whether the units behind this count form a watch list for the county.
    public let watch: Bool
    /// What a watch list shows beside each unit (e.g. its operating income),
    /// and sorts by: ascending, or descending with `order: desc`.
    public let detail: FormExpression?
    public let descending: Bool
    public let line: Int

    /// The kind's name as written in forms.
    public var kindName: String {
        switch kind {
        case .sum: return "sum"
        case .average: return "average"
        case .count: return "count"
        case .share: return "share"
        case .ratio: return "ratio"
        case .completeness: return "completeness"
        }
    }
}

/// How an indicator's figure is shown.
public enum IndicatorFormat: String, Sendable, CaseIterable {
    /// 0.125 → 12.5%
    case percent
    /// An amount of money in 元.
    case yuan
    /// A whole number of units or people.
    case count
    /// A plain number with two decimals (`8.00`, `12.50`), so that a column reads alike.
    case number

    /// Renders a figure in this format.
    public func render(_ value: Double, language: Language) -> String {
        guard value.isFinite else { return "—" }
        switch self {
        case .percent: return String(format: "%.1f%%", value * 100)
        case .yuan:
            let text = Self.grouped(value.rounded())
            return language == .zh ? "\(text) 元" : "¥\(text)"
        case .count: return Self.grouped(value.rounded())
        case .number:
            let hundredths = (value * 100).rounded()
            let fraction = Int(abs(hundredths).truncatingRemainder(dividingBy: 100))
            let whole = Self.grouped((abs(hundredths) / 100).rounded(.down))
            return (hundredths < 0 ? "-" : "") + whole + "." + (fraction < 10 ? "0\(fraction)" : "\(fraction)")
        }
    }

    /// A figure with thousands separators: `186,000`.
    public static func grouped(_ value: Double) -> String {
        let integer = Int64(value)
        let digits = String(integer.magnitude)
        var result = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0, (digits.count - offset) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return integer < 0 ? "-" + result : result
    }
}

/// A chart of the report page, drawn from the report's figures.
public struct Chart: Sendable {
    public enum Kind: Sendable {
        /// One stacked bar per row unit, one segment per `sum` indicator.
        case stacked(series: [String])
        /// How many units fall in each bin of `value`: `bins` are the lower
        /// bounds (the first bin also takes what is below it, the last is
        /// open above); `mark` draws a line at a value (a threshold).
        case histogram(value: FormExpression, bins: [Double], mark: Double?)
        /// Reported and expected units per row unit.
        case completeness
    }

    public let title: LocalizedText
    public let kind: Kind
    public let line: Int

    public init(title: LocalizedText, kind: Kind, line: Int) {
        self.title = title
        self.kind = kind
        self.line = line
    }
}
