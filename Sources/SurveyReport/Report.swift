import Foundation
import SurveyCore
import SurveySQL

/// A form's indicators for a scope (the whole country, a province, a county,
/// a township) and a period: one row per child unit of the scope and a
/// total, completeness with the units that have not reported, the units
/// behind each watched indicator, and the change since the previous period.
public struct Report: Sendable {
    public struct Row: Sendable {
        public var unit: String
        public var name: String
        /// Units expected to report (in the registry at the form's level).
        public var expected: Int
        public var reported: Int
        /// Reported by the due date; nil when the form sets none for the period.
        public var onTime: Int?
        /// Each indicator's figure, in the form's order; nil when there is none
        /// (no data, or a zero denominator).
        public var values: [Double?]
        /// The change since the previous period, where both have a figure.
        public var changes: [Double?]
    }

    public struct Unit: Sendable, Equatable {
        public var code: String
        public var name: String
        /// The unit's group in this report (its township in a county report).
        public var group: String
    }

    public struct WatchList: Sendable {
        public var indicator: Indicator
        /// All units that meet the condition; `units` holds the first ones.
        public var count: Int
        public var units: [(unit: Unit, detail: SQLValue)]
    }

    public let form: Form
    public let scope: String
    public let scopeName: String
    public let period: String
    public let previousPeriod: String?
    /// The level of the rows' units.
    public let groupLevel: UnitLevel
    public let rows: [Row]
    public let total: Row
    /// Units that have not reported, in code order (at most the limit asked).
    public let missing: [Unit]
    public let missingCount: Int
    public let watchLists: [WatchList]
    public let due: Int?
    /// Units per bin of each histogram chart, by chart index.
    public let histograms: [Int: [Int]]
    /// The data-quality section, when the server adds one (forms with
    /// warnings or `settings.outliers`).
    public var quality: QualitySection? = nil
}

extension Report {
    /// How many leading digits group the rows: the scope's child level,
    /// but never below the form's own unit level.
    public static func groupLength(scope: UnitCode, form: Form) -> Int {
        let lengths = [2, 4, 6, 9, 12]
        let next = lengths.first { $0 > scope.significantLength } ?? 12
        return min(next, form.unitLevel.prefixLength)
    }

    /// The units expected to report in a scope: the registry's units of the
    /// form's level under it (or the scope itself, when it is of that level).
    public static func expectedUnits(registry: UnitRegistry, scope: UnitCode, form: Form) -> [OrgUnit] {
        if scope.significantLength == form.unitLevel.prefixLength, let own = registry.unit(scope), own.level == form.unitLevel { return [own] }
        return registry.units(under: scope, level: form.unitLevel)
    }

    /// How many of `units` (in code order) fall in each group of `length` digits.
    public static func countByGroup(_ units: [OrgUnit], length: Int) -> [String: Int] {
        var counts: [String: Int] = [:]
        // Units are in code order, so each group is one run.
        var runKey = ""
        var runCount = 0
        for unit in units {
            if runCount > 0, runKey.utf8.elementsEqual(unit.code.rawValue.utf8.prefix(length)) {
                runCount += 1
                continue
            }
            if runCount > 0 { counts[runKey, default: 0] += runCount }
            runKey = String(unit.code.rawValue.prefix(length))
            runCount = 1
        }
        if runCount > 0 { counts[runKey, default: 0] += runCount }
        return counts
    }

    /// A figure from its totals, the same for SQL and the reference.
    public static func figure(_ indicator: Indicator, _ totals: IndicatorTotals, reporting: Int, expected: Int) -> Double? {
        switch indicator.kind {
        case .sum: return totals.sum
        case .average: return totals.count > 0 ? totals.sum / Double(totals.count) : nil
        case .count: return Double(totals.count)
        case .share: return reporting > 0 ? Double(totals.count) / Double(reporting) : nil
        case .ratio: return totals.denominator != 0 ? totals.sum / totals.denominator * indicator.scale : nil
        case .completeness: return expected > 0 ? Double(reporting) / Double(expected) : nil
        }
    }

    /// Builds the report from what a source computed. `previous` is the data
    /// of the period before, if there is any. `expectedUnits`, when the
    /// caller already has them (`Report.expectedUnits`), spares a second
    /// walk of the registry.
    public init(
        form: Form, registry: UnitRegistry?, scope: UnitCode, period: String, data: ReportData, previous: ReportData? = nil,
        missingLimit: Int = 200, expectedUnits known: [OrgUnit]? = nil
    ) {
        self.form = form
        histograms = data.histograms
        self.scope = scope.rawValue
        scopeName = registry?.unit(scope)?.name ?? (scope.significantLength == 0 ? "全国" : scope.rawValue)
        self.period = period
        previousPeriod = previous.flatMap { $0.groups.values.contains { $0.reporting > 0 } ? Period(period)?.previous?.description : nil }
        due = form.dueDates[period]
        let length = Self.groupLength(scope: scope, form: form)
        let prefix = scope.prefix
        let level = UnitLevel.allCases.first { $0.prefixLength == length && (length < 12 || $0 == form.unitLevel) } ?? form.unitLevel
        groupLevel = level
        func pad(_ group: String) -> String { group + String(repeating: "0", count: 12 - group.count) }

        // Expected units per group, from the registry.
        var expected: [String: Int] = [:]
        var names: [String: String] = [:]
        var expectedUnits: [OrgUnit] = []
        if let registry {
            expectedUnits = known ?? Self.expectedUnits(registry: registry, scope: scope, form: form)
            expected = Self.countByGroup(expectedUnits, length: length)
            for unit in registry.units(under: scope, level: level) + [registry.unit(scope)].compactMap({ $0 }) where unit.level == level {
                names[String(unit.code.rawValue.prefix(length))] = unit.name
            }
        }
        let groupKeys = Set(expected.keys).union(data.groups.keys).union(names.keys).filter { $0.hasPrefix(prefix) }.sorted()
        let dueSet = form.dueDates[period] != nil
        func row(unit: String, name: String, expected: Int, totals: GroupTotals?, previous: GroupTotals?, previousExpected: Int) -> Row {
            let totals = totals ?? GroupTotals(indicatorCount: form.indicators.count)
            let values = form.indicators.enumerated().map { index, indicator in
                Self.figure(indicator, totals.indicators[index], reporting: totals.reporting, expected: expected)
            }
            var changes = Array(repeating: Double?.none, count: values.count)
            if let previous, previous.reporting > 0 {
                for (index, indicator) in form.indicators.enumerated() {
                    if let now = values[index],
                        let before = Self.figure(indicator, previous.indicators[index], reporting: previous.reporting, expected: previousExpected)
                    {
                        changes[index] = now - before
                    }
                }
            }
            return Row(
                unit: unit, name: name, expected: expected, reported: totals.reporting, onTime: dueSet ? totals.onTime : nil, values: values,
                changes: changes)
        }
        rows = groupKeys.map { key in
            row(
                unit: pad(key), name: names[key] ?? "?", expected: expected[key] ?? 0, totals: data.groups[key], previous: previous?.groups[key],
                previousExpected: expected[key] ?? 0)
        }
        var sum = GroupTotals(indicatorCount: form.indicators.count)
        for key in groupKeys { if let totals = data.groups[key] { sum.add(totals) } }
        var previousSum: GroupTotals?
        if let previous {
            var totals = GroupTotals(indicatorCount: form.indicators.count)
            for (key, group) in previous.groups where key.hasPrefix(prefix) { totals.add(group) }
            previousSum = totals
        }
        let expectedTotal = expectedUnits.count
        total = row(unit: scope.rawValue, name: scopeName, expected: expectedTotal, totals: sum, previous: previousSum, previousExpected: expectedTotal)

        // A unit's group, unless the rows are the units themselves.
        func groupName(_ code: String) -> String { length >= code.count ? "" : names[String(code.prefix(length))] ?? "" }
        func unit(_ code: String) -> Unit {
            Unit(code: code, name: registry?.unit(UnitCode(code) ?? scope)?.name ?? "?", group: groupName(code))
        }
        var missing: [Unit] = []
        var missingCount = 0
        if let found = data.missing {
            // Reported units that the registry no longer lists do not count.
            missingCount = groupKeys.reduce(0) { $0 + max(0, (expected[$1] ?? 0) - (data.groups[$1]?.reporting ?? 0)) }
            missing = found.prefix(missingLimit).map(unit)
        } else {
            for candidate in expectedUnits where data.reported[candidate.code.rawValue] == nil {
                missingCount += 1
                if missing.count < missingLimit {
                    missing.append(Unit(code: candidate.code.rawValue, name: candidate.name, group: groupName(candidate.code.rawValue)))
                }
            }
        }
        self.missing = missing
        self.missingCount = missingCount
        watchLists = form.indicators.enumerated().compactMap { index, indicator -> WatchList? in
            guard indicator.watch, ReferenceEvaluator.condition(indicator) != nil else { return nil }
            let entries = data.watch[indicator.name] ?? []
            return WatchList(indicator: indicator, count: sum.indicators[index].count, units: entries.map { (unit($0.unit), $0.detail) })
        }
    }
}
