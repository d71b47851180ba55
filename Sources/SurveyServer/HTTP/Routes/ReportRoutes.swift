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
                headers[.contentDisposition] = "attachment; filename=\"\(asked.formID)-\(asked.scope)-\(asked.period).csv\""
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: report.csv(language, headers: csvHeaders))))
            }
            return JSONResponse.make(report.json(language), for: request)
        }
        return routes
    }

    // MARK: The web page

    static func pages(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.add(middleware: CookieAuthenticator(service: service))

        // The page asks for sign-in itself instead of answering 401 JSON.
        routes.get("/reports/{form}") { request, context -> Response in
            let language = RequestLanguage.of(request)
            if let problem = RequestLanguage.problem(request) { return message(.badRequest, problem.message, language: language) }
            guard let principal = context.identity, context.credentialError == nil else {
                return message(.unauthorized, L("请先登录以查看报告", "sign in to see the report"), language: language, signIn: request.uri.description)
            }
            do {
                try principal.require(.read)
                let asked = try ReportRequest(request, context, principal: principal, service: service)
                let report = try await service.report(formID: asked.formID, scope: asked.scope, period: asked.period, for: principal)
                // Signed in with the cookie (not a header): the page offers to sign out.
                let toolbar = request.headers[.authorization] == nil ? signOutForm(language) : ""
                return page(.ok, report.html(language, generated: Timestamp.forPeople(Date()), toolbar: toolbar))
            } catch let error as ServiceError {
                return message(HTTPErrors.status(error.kind), error.message, language: language)
            }
        }

        routes.post("/reports/login") { request, context -> Response in
            let language = RequestLanguage.of(request)
            // A browser says where a form was posted from: only this server's own page signs in.
            guard sameSite(request) else {
                return message(
                    .forbidden, L("拒绝来自其他网站的登录", "a sign-in posted from another site is refused"), language: language,
                    signIn: "/reports/village-branch")
            }
            let body = try await request.body.collect(upTo: 16 * 1024)
            var fields: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            let next = safeNext(fields["next"])
            let token = (fields["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let name = (fields["name"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let signedIn: (principal: Principal, session: String)
            do {
                // A person signs in with a name and a password; a token still works.
                if !name.isEmpty || token.isEmpty {
                    signedIn = try await service.signIn(name: name, password: fields["password"] ?? "", address: context.remoteAddress)
                } else {
                    signedIn = try await service.signIn(token: token, address: context.remoteAddress)
                }
            } catch let error as ServiceError where error.kind == .unauthenticated || error.kind == .forbidden {
                let refusal =
                    token.isEmpty
                    ? L("用户名或密码不对,或用户已停用", "the name or the password is wrong, or the user is disabled")
                    : L("令牌无效,或不是查看者或管理员令牌", "the token is not valid, or not a viewer or admin token")
                return message(.unauthorized, refusal, language: language, signIn: next)
            }
            // Anything else (the database busy or gone) goes to ErrorMiddleware: 503, not "token not valid".
            var headers = HTTPFields()
            headers[.location] = next
            // The browser keeps a session id for this server's report pages, never the token.
            headers[.setCookie] = sessionCookie(signedIn.session, maxAge: Int(SurveyService.sessionLifetime), request)
            return page(.seeOther, "", headers: headers)
        }

        // Signing out ends the session on the server, not only in the browser.
        routes.post("/reports/logout") { request, context -> Response in
            let language = RequestLanguage.of(request)
            guard sameSite(request) else {
                return message(.forbidden, L("拒绝来自其他网站的退出请求", "a sign-out posted from another site is refused"), language: language)
            }
            if let session = CookieAuthenticator.session(in: request) { try await service.signOut(session: session, address: context.remoteAddress) }
            var headers = HTTPFields()
            headers[.setCookie] = sessionCookie("", maxAge: 0, request)
            return message(.ok, L("已退出登录", "signed out"), language: language, signIn: "/reports/village-branch", headers: headers)
        }
        return routes
    }

    /// The session cookie: HttpOnly, SameSite=Strict, for `/reports` only;
    /// Secure when the browser reached the server over HTTPS (through a
    /// proxy that says so).
    static func sessionCookie(_ value: String, maxAge: Int, _ request: Request) -> String {
        let secure = request.headers[.xForwardedProto]?.lowercased() == "https" || request.headers[.origin]?.lowercased().hasPrefix("https://") == true
        return "\(CookieAuthenticator.cookieName)=\(value); Path=/reports; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (secure ? "; Secure" : "")
    }

    /// The sign-out button a signed-in page shows.
    static func signOutForm(_ language: Language) -> String {
        """
        <form method="post" action="/reports/logout" style="float:right;margin:0">\
        <button type="submit">\(language == .en ? "Sign out" : "退出登录")</button></form>
        """
    }

    /// Whether a form post comes from this server's own pages: its `Origin`
    /// (when the browser sends one) names the host it was sent to, and
    /// `Sec-Fetch-Site` does not say cross-site.
    static func sameSite(_ request: Request) -> Bool {
        if let site = request.headers[.secFetchSite]?.lowercased(), site == "cross-site" { return false }
        guard let origin = request.headers[.origin], origin != "null" else { return request.headers[.origin] == nil }
        guard let host = request.head.authority else { return false }
        let authority = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
        return authority.lowercased() == host.lowercased()
    }

    static func page(_ status: HTTPResponse.Status, _ html: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// A short page: a heading, a message and, for 401, the sign-in form.
    static func message(
        _ status: HTTPResponse.Status, _ text: LocalizedText, language: Language, signIn next: String? = nil, headers: HTTPFields = [:]
    ) -> Response {
        let en = language == .en
        var body = "<h1>VillageSurvey</h1><p>\(Report.escape(text.text(language)))</p>"
        if let next {
            body += """
                <form method="post" action="/reports/login">
                <p><label>\(en ? "Name" : "用户名")<br><input type="text" name="name" autocomplete="username" size="30"></label></p>
                <p><label>\(en ? "Password" : "密码")<br><input type="password" name="password" autocomplete="current-password" size="30"></label></p>
                <details><summary>\(en ? "Or an access token (viewer, reviewer or admin)" : "或用访问令牌登录(查看者、审核员或管理员)")</summary>
                <p><input type="password" name="token" autocomplete="off" size="60"></p></details>
                <input type="hidden" name="next" value="\(Report.escape(next))">
                <button type="submit">\(en ? "Sign in" : "登录")</button>
                </form>
                """
        }
        let html = """
            <!DOCTYPE html><html lang="\(en ? "en" : "zh-CN")"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1"><title>VillageSurvey</title>
            <style>body{font-family:"Noto Sans CJK SC","Noto Sans SC","WenQuanYi Micro Hei","Source Han Sans SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;max-width:640px;margin:40px auto;padding:0 16px}</style>
            </head><body>\(body)</body></html>
            """
        return page(status, html, headers: headers)
    }

    /// Where to go after signing in: only a report page of this server,
    /// as a plain path under `/reports/` (and its query): no control
    /// characters or spaces (looked for scalar by scalar: "\r\n" is one
    /// Character), no backslash, no empty or dot segments, neither as sent
    /// nor once its percent escapes are undone.
    static func safeNext(_ next: String?) -> String {
        let fallback = "/reports/village-branch"
        guard let next else { return fallback }
        let path = String(next.prefix { $0 != "?" && $0 != "#" })
        func plain(_ text: String) -> Bool {
            guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0 != "\\" }) else { return false }
            let segments = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            return text.hasPrefix("/reports/") && segments.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
        }
        guard plain(next), plain(path), let decoded = path.removingPercentEncoding, plain(decoded) else { return fallback }
        return next
    }
}
