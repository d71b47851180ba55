import Hummingbird
import SurveyCore

/// Last period's surveys that devices start this period's from: a list
/// of units with their surveys' content hashes, then the answers of the
/// units whose hash the device does not hold.
enum BaselineRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.on(.get, "/api/v1/baselines", requires: .signedIn) { request, _, principal -> Response in
            let query = request.uri.queryParameters
            guard let form = query["form"].map(String.init), !form.isEmpty, let period = query["period"].map(String.init), !period.isEmpty else {
                throw ServiceError.invalid(L("需要 form 和 period 参数", "form and period are required"))
            }
            let after = query["after"].map(String.init)
            if let after, UnitCode(after) == nil {
                throw ServiceError.invalid(L("after 应为 12 位单位代码", "after must be a 12-digit unit code"))
            }
            let limit = Int(try RequestFields.integer(query["limit"].map(String.init), name: "limit", range: 1...Int64(SurveyService.baselinePageLimit)) ?? 1_000)
            var units: [String]?
            if let list = query["units"].map(String.init) {
                units = list.split(separator: ",").map(String.init)
                if units!.count > 200 {
                    throw ServiceError.invalid(L("units 一次最多 200 个", "units lists at most 200 codes at a time"))
                }
            }
            let records = try await service.baselines(formID: form, period: period, after: after, limit: limit, units: units, for: principal)
            var body = JSONObject()
            body.appendUnique("form", .string(form))
            body.appendUnique("period", .string(period))
            body.appendUnique("baselines", .array(records.map(\.json)))
            body.appendUnique("next", records.count == limit && units == nil ? .string(records.last!.unit) : .null)
            return JSONResponse.make(.object(body), for: request)
        }
        return routes
    }
}
