import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SurveyCore
import SurveyReport

/// Reports: the API's JSON and CSV (`/api/v1/reports/{form}`) and the web
/// page (`/reports/{form}`) with its sign-in form, which sets a cookie
/// that only these pages read. Both read a report request the same way
/// (`ReportRequest`).
enum ReportRoutes {
    /// What a report request asks for, read once for the API and the page.
    struct ReportRequest {
        var formID: String
        var scope: UnitCode
        var period: String

        init(_ request: Request, _ context: ServerRequestContext, principal: Principal, service: SurveyService) throws(ServiceError) {
            do {
                formID = try context.parameters.require("form")
            } catch {
                throw ServiceError.notFound(L("缺少表单", "no form given"))
            }
            let query = request.uri.queryParameters
            scope = try RequestFields.scope(RequestFields.raw(request, "scope"), default: principal.unit)
            // An unknown form has no default period; the report says it is unknown.
            period = query["period"].map(String.init) ?? (try? service.defaultPeriod(formID: formID)) ?? ""
        }
    }

    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.on(.get, "/api/v1/reports/{form}", requires: .read) { request, context, principal -> Response in
            let asked = try ReportRequest(request, context, principal: principal, service: service)
            let query = request.uri.queryParameters
            let format = query["format"].map(String.init) ?? "json"
            guard format == "json" || format == "csv" else {
                throw ServiceError(.invalid, "invalid_format", L("format 应为 json 或 csv", "format must be json or csv"))
            }
            let csvHeaders =
                try query["headers"].map { value in
                    guard let headers = Report.CSVHeaders(rawValue: String(value)) else {
                        throw ServiceError(.invalid, "invalid_headers", L("headers 应为 labels 或 names", "headers must be labels or names"))
                    }
                    return headers
                } ?? .labels
            // The indicators' table, or the data-quality section's (`section=quality`).
            let section = query["section"].map(String.init) ?? "indicators"
            guard section == "indicators" || section == "quality" else {
                throw ServiceError(.invalid, "invalid_section", L("section 应为 indicators 或 quality", "section must be indicators or quality"))
            }
            let limit = query["limit"].flatMap { Int(String($0)) } ?? 50
            guard (1...10_000).contains(limit) else {
                throw ServiceError(.invalid, "invalid_limit", L("limit 应在 1 到 10000 之间", "limit must be between 1 and 10000"))
            }
            let report = try await service.report(
                formID: asked.formID, scope: asked.scope, period: asked.period, for: principal, watchLimit: limit, missingLimit: limit)
            let language = RequestLanguage.of(request)
            if format == "csv" {
                // A download leaves the server: the audit log says who took which figures.
                try await service.audit(
                    AuditEntry(
                        actor: context.actor(principal), action: "report.export", target: "\(asked.formID)/\(asked.period)", unit: asked.scope.rawValue,
                        details: ["format": "csv"]))
                var headers = HTTPFields()
                headers[.contentType] = "text/csv; charset=utf-8"
                let suffix = section == "quality" ? "-quality" : ""
                headers[.contentDisposition] = "attachment; filename=\"\(asked.formID)-\(asked.scope)-\(asked.period)\(suffix).csv\""
                let text = section == "quality" ? report.qualityCSV(language) : report.csv(language, headers: csvHeaders)
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
            }
            return JSONResponse.make(report.json(language), for: request)
        }
        return routes
    }

    // MARK: The web page

    static func pages(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        // The page asks for sign-in itself instead of answering 401 JSON.
        routes.get("/reports/{form}") { request, context -> Response in
            let language = RequestLanguage.of(request)
            if let problem = RequestLanguage.problem(request) { return Pages.message(.badRequest, problem.message, language: language) }
            guard let principal = context.identity, context.credentialError == nil else {
                return Pages.message(.unauthorized, L("请先登录以查看报告", "sign in to see the report"), language: language, signIn: request.uri.description)
            }
            do {
                try principal.require(.read)
                let asked = try ReportRequest(request, context, principal: principal, service: service)
                let report = try await service.report(formID: asked.formID, scope: asked.scope, period: asked.period, for: principal)
                let links = links(report, formID: asked.formID, request: request)
                return Pages.html(.ok, report.html(language, generated: Timestamp.forPeople(Date()), toolbar: toolbar(context, language), links: links))
            } catch let error as ServiceError {
                return Pages.message(HTTPErrors.status(error.kind), error.message, language: language)
            }
        }
        return routes
    }

    /// The bar at the top of the report page: into the workspace, and, when
    /// signed in with the cookie (not a header), signing out.
    static func toolbar(_ context: ServerRequestContext, _ language: Language) -> String {
        let en = language == .en
        var bar = "<nav class=\"toolbar\" style=\"float:right\"><a href=\"/workspace\(en ? "?lang=en" : "")\">\(en ? "Workspace" : "工作台")</a>"
        if let session = context.session {
            bar += """
                 <form method="post" action="/reports/logout" style="display:inline;margin:0">\
                <input type="hidden" name="csrf" value="\(Pages.csrfToken(session))">\
                <button type="submit">\(en ? "Sign out" : "退出登录")</button></form>
                """
        }
        return bar + "</nav>"
    }

    /// Where the page's figures lead: a township's column to its villages'
    /// surveys in the workspace, a city's or county's to its own report, a
    /// unit in a list to its survey, and the neighbouring periods.
    static func links(_ report: Report, formID: String, request: Request) -> ReportLinks {
        let explicit = request.uri.queryParameters["lang"].map(String.init)
        @Sendable func lang(_ items: [(String, String?)]) -> [(String, String?)] { items + [("lang", explicit)] }
        let period = report.period
        var periods: [(label: String, url: String?)] = []
        if let shown = Period(period) {
            var earlier: [Period] = []
            var cursor = shown.previous
            while let found = cursor, earlier.count < 2 {
                earlier.insert(found, at: 0)
                cursor = found.previous
            }
            let later = Period.containing(day: shown.days.upperBound + 1, type: shown.type)
            for item in earlier + [shown] + (later <= Period.current(shown.type) ? [later] : []) {
                let url = item == shown ? nil : Pages.query("/reports/\(formID)", lang([("scope", report.scope), ("period", item.description)]))
                periods.append((item.description, url))
            }
        }
        return ReportLinks(
            row: { code in
                guard let unit = UnitCode(code), let level = unit.level else { return nil }
                if level == .township {
                    return Pages.query("/workspace/surveys", lang([("form", formID), ("period", period), ("scope", code)]))
                }
                if level.prefixLength < 9 { return Pages.query("/reports/\(formID)", lang([("scope", code), ("period", period)])) }
                return Pages.query("/workspace/units/\(code)", lang([("form", formID), ("period", period)]))
            },
            unit: { code in Pages.query("/workspace/units/\(code)", lang([("form", formID), ("period", period)])) },
            periods: periods,
            // A flagged survey of the data-quality section: its page.
            survey: { item in
                item.instanceID.map { Pages.query("/workspace/surveys/\($0)", lang([])) }
                    ?? Pages.query("/workspace/units/\(item.unit)", lang([("form", formID), ("period", period)]))
            })
    }
}
