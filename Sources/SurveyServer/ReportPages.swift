import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SurveyCore
import SurveyReport

/// The report as a web page: `/reports/{form}` for a viewer or admin token
/// given in the `Authorization` header or in the `vsurvey_token` cookie that
/// the page's sign-in form sets (`POST /reports/login`).
enum ReportPages {
    static let cookieName = "vsurvey_token"

    static func page(_ status: HTTPResponse.Status, _ html: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    static func language(_ request: Request) -> Language {
        if let lang = request.uri.queryParameters["lang"].map(String.init) { return lang == "en" ? .en : .zh }
        return RequestLanguage.of(request)
    }

    /// A short page: a heading, a message and, for 401, the sign-in form.
    static func message(_ status: HTTPResponse.Status, _ text: LocalizedText, language: Language, signIn next: String? = nil) -> Response {
        let en = language == .en
        var body = "<h1>VillageSurvey</h1><p>\(Report.escape(text.text(language)))</p>"
        if let next {
            body += """
                <form method="post" action="/reports/login">
                <label>\(en ? "Access token (viewer or admin)" : "访问令牌(查看者或管理员)")<br>
                <input type="password" name="token" autocomplete="off" size="60" required></label>
                <input type="hidden" name="next" value="\(Report.escape(next))">
                <button type="submit">\(en ? "Sign in" : "登录")</button>
                </form>
                """
        }
        let html = """
            <!DOCTYPE html><html lang="\(en ? "en" : "zh-CN")"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1"><title>VillageSurvey</title>
            <style>body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;max-width:640px;margin:40px auto;padding:0 16px}</style>
            </head><body>\(body)</body></html>
            """
        return page(status, html)
    }

    /// The token from the Authorization header, else from the cookie.
    static func authorization(_ request: Request) -> String? {
        if let header = request.headers[.authorization] { return header }
        for part in (request.headers[.cookie] ?? "").split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            if pair.hasPrefix(cookieName + "=") { return "Bearer " + pair.dropFirst(cookieName.count + 1) }
        }
        return nil
    }

    /// Where to go after signing in: only a report page of this server.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/reports/"), !next.contains("//"), !next.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\\" })
        else { return "/reports/village-branch" }
        return next
    }

    static func add(to router: Router<BasicRequestContext>, service: SurveyService) {
        router.get("/reports/{form}") { request, context -> Response in
            let language = language(request)
            let next = request.uri.description
            let principal: Principal
            do {
                principal = try await service.authenticate(authorization(request))
            } catch {
                return message(.unauthorized, L("请先登录以查看报告", "sign in to see the report"), language: language, signIn: next)
            }
            guard principal.role.mayRead else {
                return message(.forbidden, L("采集员令牌不能查看报告", "a collector token cannot read reports"), language: language)
            }
            let formID = try context.parameters.require("form")
            guard let plan = service.reportPlans[formID] else {
                return message(.notFound, L("没有表单 “\(formID)”", "there is no form '\(formID)'"), language: language)
            }
            let query = request.uri.queryParameters
            guard let scope = UnitCode(query["scope"].map(String.init) ?? principal.unit.rawValue), principal.covers(scope) else {
                return message(
                    .forbidden, L("这个范围不在令牌的范围 \(principal.unit) 内", "that scope is outside the token's scope \(principal.unit)"), language: language)
            }
            let period = query["period"].map(String.init) ?? Report.currentPeriod(plan.latest.periodType)
            let report: Report
            do {
                report = try await service.report(formID: formID, scope: scope, period: period)
            } catch let error as APIError {
                return message(.init(code: error.statusCode), error.message, language: language)
            }
            return page(.ok, report.html(language, generated: Timestamp.iso(Date())))
        }

        router.post("/reports/login") { request, _ -> Response in
            let language = language(request)
            let body = try await request.body.collect(upTo: 16 * 1024)
            var fields: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            let next = safeNext(fields["next"])
            let token = (fields["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard let principal = try? await service.authenticate("Bearer " + token), principal.role.mayRead else {
                return message(
                    .unauthorized, L("令牌无效,或不是查看者或管理员令牌", "the token is not valid, or not a viewer or admin token"), language: language, signIn: next)
            }
            var headers = HTTPFields()
            headers[.location] = next
            // The token stays in the browser only for this server's report pages.
            headers[.setCookie] = "\(cookieName)=\(token); Path=/reports; HttpOnly; SameSite=Strict; Max-Age=28800"
            return page(.seeOther, "", headers: headers)
        }
    }
}
