import Foundation
import SurveyCore
import SurveySQL

/// One indicator's running totals over a group of units: what both the SQL
/// and the reference evaluator compute, before the figure is worked out.
public struct IndicatorTotals: Sendable, Equatable {
    /// Sum of the values (sum, average) or of the numerator (ratio).
    public var sum: Double = 0
    /// Sum of the denominator (ratio).
    public var denominator: Double = 0
    /// Units with a value (sum, average), or meeting the condition (count, share).
    public var count: Int = 0

    public init(sum: Double = 0, denominator: Double = 0, count: Int = 0) {
        self.sum = sum
        self.denominator = denominator
        self.count = count
    }

    mutating func add(_ other: IndicatorTotals) {
        sum += other.sum
        denominator += other.denominator
        count += other.count
    }

    /// How many SQL columns an indicator's totals take.
    public static func width(_ kind: Indicator.Kind) -> Int {
        switch kind {
        case .sum, .average, .ratio: return 2
        case .count, .share: return 1
        case .completeness: return 0
        }
    }

    /// Reads the totals from SQL values, in the order of `TotalsQuery.layout`.
    public init(kind: Indicator.Kind, sqlValues values: ArraySlice<SQLValue>) {
        func number(_ value: SQLValue?) -> Double {
            switch value {
            case .integer(let integer)?: return Double(integer)
            case .real(let real)?: return real
            default: return 0
            }
        }
        let first = values.first
        let second = values.dropFirst().first
        switch kind {
        case .sum, .average: self.init(sum: number(first), count: Int(number(second)))
        case .ratio: self.init(sum: number(first), denominator: number(second))
        case .count, .share: self.init(count: Int(number(first)))
        case .completeness: self.init()
        }
    }
}

/// A group's totals: how many units reported, how many on time, and each
/// indicator's totals (in the form's indicator order).
public struct GroupTotals: Sendable, Equatable {
    public var reporting = 0
    public var onTime = 0
    public var indicators: [IndicatorTotals]

    public init(indicatorCount: Int) {
        indicators = Array(repeating: IndicatorTotals(), count: indicatorCount)
    }

    public init(reporting: Int, onTime: Int, indicators: [IndicatorTotals]) {
        self.reporting = reporting
        self.onTime = onTime
        self.indicators = indicators
    }

    mutating func add(_ other: GroupTotals) {
        reporting += other.reporting
        onTime += other.onTime
        for index in indicators.indices where index < other.indicators.count { indicators[index].add(other.indicators[index]) }
    }
}

/// A unit behind a watched indicator, with its detail value.
public struct WatchEntry: Sendable, Equatable {
    public var unit: String
    public var detail: SQLValue

    public init(unit: String, detail: SQLValue) {
        self.unit = unit
        // A whole number is an integer, whichever column type held it.
        if case .real(let real) = detail, real == real.rounded(), abs(real) < 9e15 {
            self.detail = .integer(Int64(real))
        } else {
            self.detail = detail
        }
    }
}

/// What a report is made from, for one scope and period: the totals per
/// group, the units that reported (and when, in ms since 1970), and the
/// units behind each watched indicator. The server fills it with SQL; the
/// reference evaluator from answers.
public struct ReportData: Sendable, Equatable {
    public var groups: [String: GroupTotals]
    public var reported: [String: Int64?]
    public var watch: [String: [WatchEntry]]
    /// The first units not reported, in code order, when the source found
    /// them itself (the server, from its registry table); otherwise the
    /// report works them out from `reported` and the registry.
    public var missing: [String]?
    /// Units per bin of each histogram chart, by chart index.
    public var histograms: [Int: [Int]]

    public init(
        groups: [String: GroupTotals] = [:], reported: [String: Int64?] = [:], watch: [String: [WatchEntry]] = [:], missing: [String]? = nil,
        histograms: [Int: [Int]] = [:]
    ) {
        self.groups = groups
        self.reported = reported
        self.watch = watch
        self.missing = missing
        self.histograms = histograms
    }

    /// Adds one row of a histogram query (`bin`, `units`).
    public mutating func addHistogramRow(chart: Int, bin: Int, units: Int, bins: Int) {
        var counts = histograms[chart] ?? Array(repeating: 0, count: bins)
        if bin >= 0 && bin < bins { counts[bin] += units }
        histograms[chart] = counts
    }
}

/// A current survey as the reference evaluator reads it.
public struct ReportSurvey: Sendable {
    public var unit: String
    public var period: String
    /// The form version the survey was filled with.
    public var form: Form
    /// The answers as kept (checked, calculations included).
    public var answers: JSONObject
    /// When the unit first reported, in ms since 1970.
    public var reportedAt: Int64?

    public init(unit: String, period: String, form: Form, answers: JSONObject, reportedAt: Int64?) {
        self.unit = unit
        self.period = period
        self.form = form
        self.answers = answers
        self.reportedAt = reportedAt
    }
}

/// The plain Swift evaluation of a form's indicators over answers: each
/// survey is settled by the form engine and every indicator expression is
/// evaluated with the form's own evaluator. The SQL that the server runs
/// must agree with it.
public struct ReferenceEvaluator: Sendable {
    public let form: Form

    public init(form: Form) { self.form = form }

    /// The report form's top-level values for a survey of any version,
    /// matched by field name.
    func values(of survey: ReportSurvey) -> [Value] {
        let own = survey.form.topValues(survey.answers)
        if survey.form.id == form.id && survey.form.version == form.version { return own }
        var values = Array(repeating: Value.empty, count: form.topSlotCount)
        for field in form.fields where field.repeatIndex == nil && field.type.holdsValue {
            if let source = survey.form.field(named: field.name), source.repeatIndex == nil, source.slot < own.count {
                values[field.slot] = own[source.slot]
            }
        }
        return values
    }

    public func data(_ surveys: [ReportSurvey], scopePrefix: String, period: String, groupLength: Int, dueBefore: Int64?, watchLimit: Int)
        -> ReportData
    {
        var data = ReportData()
        var watch: [String: [WatchEntry]] = [:]
        for survey in surveys where survey.period == period && survey.unit.hasPrefix(scopePrefix) {
            let values = values(of: survey)
            let group = String(survey.unit.prefix(groupLength))
            var totals = data.groups[group] ?? GroupTotals(indicatorCount: form.indicators.count)
            totals.reporting += 1
            if let dueBefore, let reportedAt = survey.reportedAt, reportedAt < dueBefore { totals.onTime += 1 }
            for (index, indicator) in form.indicators.enumerated() {
                func number(_ expression: FormExpression) -> Double? {
                    let number = form.evaluate(expression, topValues: values).number
                    return number.isNaN ? nil : number
                }
                switch indicator.kind {
                case .sum(let value), .average(let value):
                    if let number = number(value) {
                        totals.indicators[index].sum += number
                        totals.indicators[index].count += 1
                    }
                case .count, .share:
                    let condition = Self.condition(indicator)
                    let met = condition.map { form.evaluate($0, topValues: values).bool } ?? true
                    if met {
                        totals.indicators[index].count += 1
                        if indicator.watch, condition != nil {
                            let detail = indicator.detail.map { form.evaluate($0, topValues: values) } ?? .empty
                            watch[indicator.name, default: []].append(WatchEntry(unit: survey.unit, detail: Self.reportValue(detail)))
                        }
                    }
                case .ratio(let numerator, let denominator):
                    if let top = number(numerator) { totals.indicators[index].sum += top }
                    if let bottom = number(denominator) { totals.indicators[index].denominator += bottom }
                case .completeness:
                    break
                }
            }
            data.groups[group] = totals
            data.reported[survey.unit] = survey.reportedAt
            for (index, chart) in form.charts.enumerated() {
                guard case .histogram(let value, let bins, _) = chart.kind else { continue }
                let number = form.evaluate(value, topValues: values).number
                guard !number.isNaN else { continue }
                let bin = bins.dropFirst().firstIndex { number < $0 }.map { $0 - 1 } ?? bins.count - 1
                data.addHistogramRow(chart: index, bin: bin, units: 1, bins: bins.count)
            }
        }
        data.watch = watch
        data.finishWatch(form: form, limit: watchLimit)
        return data
    }

    /// The condition of a count or share.
    static func condition(_ indicator: Indicator) -> FormExpression? {
        switch indicator.kind {
        case .count(let condition): return condition
        case .share(let condition): return condition
        default: return nil
        }
    }

    static func reportValue(_ value: Value) -> SQLValue {
        if value.isEmpty { return .null }
        switch value {
        case .number(let number):
            if number == number.rounded(), abs(number) < 9e15 { return .integer(Int64(number)) }
            return .real(number)
        case .bool(let flag): return .integer(flag ? 1 : 0)
        default: return .text(value.string)
        }
    }

    /// Numbers by value, text by bytes, as SQL orders a column.
    static func compareDetail(_ a: SQLValue, _ b: SQLValue) -> Int {
        func number(_ value: SQLValue) -> Double? {
            switch value {
            case .integer(let integer): return Double(integer)
            case .real(let real): return real
            default: return nil
            }
        }
        if let x = number(a), let y = number(b) { return x < y ? -1 : (x > y ? 1 : 0) }
        if case .text(let x) = a, case .text(let y) = b { return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8)) ? -1 : (x == y ? 0 : 1) }
        return 0
    }
}

extension ReportData {
    /// Sorts each watch list by its detail (empty last, in either order),
    /// then by code, and keeps the first `limit`; every watched indicator
    /// gets a list, empty when no unit meets it.
    public mutating func finishWatch(form: Form, limit: Int) {
        for indicator in form.indicators where indicator.watch && ReferenceEvaluator.condition(indicator) != nil {
            var entries = watch[indicator.name] ?? []
            entries.sort { a, b in WatchCollector.precedes(a.detail, a.unit, b.detail, b.unit, descending: indicator.descending) }
            watch[indicator.name] = Array(entries.prefix(limit))
        }
    }

    /// Adds one row of a totals query: `grp`, `reporting`, `on_time`, then
    /// the accumulators where `layout` says. Any engine maps its row to values.
    public mutating func addTotalsRow(_ values: [SQLValue], form: Form, layout: [[Int]], histograms: [Int: [Int]] = [:]) {
        func integer(_ value: SQLValue) -> Int {
            switch value {
            case .integer(let integer): return Int(integer)
            case .real(let real): return Int(real)
            default: return 0
            }
        }
        guard values.count >= 3, case .text(let group) = values[0] else { return }
        let indicators = form.indicators.enumerated().map { index, indicator in
            let positions = index < layout.count ? layout[index] : []
            return IndicatorTotals(kind: indicator.kind, sqlValues: ArraySlice(positions.map { $0 < values.count ? values[$0] : .null }))
        }
        groups[group] = GroupTotals(reporting: integer(values[1]), onTime: integer(values[2]), indicators: indicators)
        for (chart, positions) in histograms {
            for (bin, position) in positions.enumerated() where position < values.count {
                let units = integer(values[position])
                if units > 0 { addHistogramRow(chart: chart, bin: bin, units: units, bins: positions.count) }
            }
        }
    }
}

/// The first `limit` units of a watch list, kept while rows stream by: a
/// unit is looked at (and its code read) only when its detail could place
/// it among them.
public struct WatchCollector: Sendable {
    public let limit: Int
    public let descending: Bool
    /// Best first.
    public private(set) var entries: [WatchEntry] = []

    public init(limit: Int, descending: Bool) {
        self.limit = limit
        self.descending = descending
    }

    /// How details compare in a list: -1 the first goes first, 1 the second,
    /// 0 a tie (then the code decides). Empty details go last either way.
    public static func order(_ a: SQLValue, _ b: SQLValue, descending: Bool) -> Int {
        switch (a, b) {
        case (.null, .null): return 0
        case (.null, _): return 1
        case (_, .null): return -1
        default:
            let order = ReferenceEvaluator.compareDetail(a, b)
            return descending ? -order : order
        }
    }

    public static func precedes(_ a: SQLValue, _ aUnit: String, _ b: SQLValue, _ bUnit: String, descending: Bool) -> Bool {
        let order = order(a, b, descending: descending)
        return order != 0 ? order < 0 : aUnit < bUnit
    }

    public mutating func offer(detail raw: SQLValue, unit: () -> String) {
        let detail = WatchEntry(unit: "", detail: raw).detail
        if entries.count >= limit, let last = entries.last, Self.order(detail, last.detail, descending: descending) > 0 { return }
        let code = unit()
        if entries.count >= limit, let last = entries.last, !Self.precedes(detail, code, last.detail, last.unit, descending: descending) { return }
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if Self.precedes(entries[middle].detail, entries[middle].unit, detail, code, descending: descending) { low = middle + 1 } else { high = middle }
        }
        entries.insert(WatchEntry(unit: code, detail: detail), at: low)
        if entries.count > limit { entries.removeLast() }
    }
}
