import Foundation
import SurveyCore
import Logging
import SurveyReport

/// Last period's surveys for devices (`baselines`), within the caller's scope.
extension SurveyService {
    /// The most baselines one request returns.
    public static let baselinePageLimit = 1_000

    /// The current surveys of `formID` for `period` under the caller's unit,
    /// in unit order after `after`; with `units`, those units only, and
    /// with their answers. Any signed-in caller: a collector starts its
    /// units' surveys from them.
    public func baselines(formID: String, period: String, after: String?, limit: Int, units: [String]?, for principal: Principal) async throws
        -> [BaselineRecord]
    {
        guard catalog.forms[formID] != nil else {
            throw ServiceError(.notFound, "unknown_form", L("没有表单 “\(formID)”", "there is no form '\(formID)'"))
        }
        guard let parsed = Period(period) else {
            throw ServiceError.invalid(L("“\(period)” 不是有效的报告期(如 2026、2026Q3、202607)", "'\(period)' is not a valid period (e.g. 2026, 2026Q3, 202607)"))
        }
        if let units {
            for unit in units {
                guard let code = UnitCode(unit) else {
                    throw ServiceError.invalid(L("单位代码 “\(unit)” 应为 12 位数字", "unit code '\(unit)' must be 12 digits"))
                }
                try principal.requireScope(code)
            }
        }
        return try await storage.baselines(
            formID: formID, period: parsed.description, under: principal.unit, after: after, limit: min(limit, Self.baselinePageLimit),
            units: units, answers: units != nil)
    }
}

extension SurveyService {
    /// A report's data-quality section, for forms with warnings or
    /// outlier screening (nil for others): the flagged current surveys by
    /// the report's row units, from what ingest recorded and from the
    /// outlier screening (brought up to date first).
    func quality(of report: Report, scope: UnitCode, registry: UnitRegistry, limit: Int = 100) async throws -> QualitySection? {
        let form = report.form
        guard !form.warnedFields.isEmpty || form.outliers != nil else { return nil }
        if form.outliers != nil { try await reports.refreshOutliers() }
        let flagged = try await storage.flaggedSurveys(formID: form.id, period: report.period, under: scope)
        let outliers = form.outliers == nil ? [] : try await reports.outliers(formID: form.id, period: report.period, scopePrefix: scope.prefix)
        let length = Report.groupLength(scope: scope, form: form)
        var items: [String: QualitySection.Item] = [:]
        func name(_ unit: String) -> String { UnitCode(unit).flatMap { registry.unit($0)?.name } ?? "" }
        func item(_ unit: String) -> QualitySection.Item {
            items[unit]
                ?? QualitySection.Item(
                    unit: unit, name: name(unit), group: String(unit.prefix(length)), instanceID: nil, warnings: [], changes: [], outliers: [])
        }
        for survey in flagged {
            var entry = item(survey.unit)
            entry.instanceID = survey.instanceID
            if let checks = SurveyChecks.read(survey.checks, form: catalog.form(form.id, version: survey.formVersion) ?? form) {
                entry.warnings = checks.warnings
                entry.changes = checks.changes
            }
            items[survey.unit] = entry
        }
        for outlier in outliers {
            var entry = item(outlier.unit)
            entry.outliers.append(outlier)
            items[outlier.unit] = entry
        }
        // The surveys of outliers that nothing else flagged, for their links.
        let unlinked = items.values.filter { $0.instanceID == nil }.map(\.unit).sorted()
        for start in stride(from: 0, to: unlinked.count, by: 400) {
            let part = Array(unlinked[start..<min(start + 400, unlinked.count)])
            for record in try await storage.baselines(
                formID: form.id, period: report.period, under: scope, after: nil, limit: part.count, units: part, answers: false)
            {
                items[record.unit]?.instanceID = record.instanceID
            }
        }
        var counts: [String: QualitySection.Counts] = [:]
        for entry in items.values {
            var count = counts[entry.group] ?? QualitySection.Counts()
            if entry.warnings.contains(where: { !$0.confirmed }) { count.unconfirmed += 1 }
            if entry.warnings.contains(where: \.confirmed) { count.confirmed += 1 }
            if !entry.changes.isEmpty { count.changed += 1 }
            if !entry.outliers.isEmpty { count.outliers += 1 }
            counts[entry.group] = count
        }
        let groups = report.rows.map { row in
            var count = counts[String(row.unit.prefix(length))] ?? QualitySection.Counts()
            count.surveys = row.reported
            return QualitySection.Group(unit: row.unit, name: row.name, counts: count)
        }
        return QualitySection.make(groups: groups, items: Array(items.values), limit: limit)
    }
}

extension SurveyService {
    /// Screens the counties whose villages changed for outliers, over and
    /// over until cancelled (`serve` runs it beside the server).
    public func screenOutliers(every interval: Duration, logger: Logger) async {
        while !Task.isCancelled {
            do {
                let counties = try await reports.refreshOutliers()
                if counties > 0 { logger.info("outliers screened", metadata: ["counties": .stringConvertible(counties)]) }
            } catch {
                logger.warning("outlier screening failed", metadata: ["error": .string("\(error)")])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
