import Foundation
import SurveyCore

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
