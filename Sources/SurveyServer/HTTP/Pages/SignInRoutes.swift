import Foundation
import HTTPTypes
import Hummingbird
import SurveyCore

/// Signing in to the pages and out again. A person signs in with a name
/// and a password (a token still works); the browser keeps a session id
/// in a cookie, never the token, and the server keeps only its hash.
enum SignInRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)

        routes.post("/reports/login") { request, context -> Response in
            let language = RequestLanguage.of(request)
            // A browser says where a form was posted from: only this server's own page signs in.
            guard Pages.sameSite(request) else {
                return Pages.message(
                    .forbidden, L("拒绝来自其他网站的登录", "a sign-in posted from another site is refused"), language: language, signIn: "/workspace")
            }
            let fields = try await Pages.formFields(request)
            let next = Pages.safeNext(fields["next"])
            let token = (fields["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let name = (fields["name"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let signedIn: (principal: Principal, session: String)
            do {
                if !name.isEmpty || token.isEmpty {
                    signedIn = try await service.signIn(name: name, password: fields["password"] ?? "", address: context.remoteAddress)
                } else {
                    signedIn = try await service.signIn(token: token, address: context.remoteAddress)
                }
            } catch let error as ServiceError where error.kind == .unauthenticated || error.kind == .forbidden {
                let refusal =
                    token.isEmpty
                    ? L("用户名或密码不对,或用户已停用", "the name or the password is wrong, or the user is disabled")
                    : L("令牌无效,或不是查看者、审核员或管理员令牌", "the token is not valid, or not a viewer, reviewer or admin token")
                return Pages.message(.unauthorized, refusal, language: language, signIn: next)
            }
            // Anything else (the database busy or gone) goes to ErrorMiddleware: 503, not "token not valid".
            var headers = HTTPFields()
            headers[.location] = next
            headers[.setCookie] = Pages.sessionCookie(signedIn.session, maxAge: Int(SurveyService.sessionLifetime), request)
            return Pages.html(.seeOther, "", headers: headers)
        }

        // Signing out ends the session on the server, not only in the browser.
        routes.post("/reports/logout") { request, context -> Response in
            let language = RequestLanguage.of(request)
            let fields = try await Pages.formFields(request)
            guard Pages.mayChange(request, context, token: fields["csrf"]) else {
                return Pages.message(.forbidden, L("拒绝来自其他网站的退出请求", "a sign-out posted from another site is refused"), language: language)
            }
            if let session = context.session ?? Pages.session(in: request) {
                try await service.signOut(session: session, address: context.remoteAddress)
            }
            var headers = HTTPFields()
            headers[.setCookie] = Pages.sessionCookie("", maxAge: 0, request)
            return Pages.message(.ok, L("已退出登录", "signed out"), language: language, signIn: "/workspace", headers: headers)
        }
        return routes
    }
}
