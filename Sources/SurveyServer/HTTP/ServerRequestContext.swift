import Foundation
import HTTPTypes
import Hummingbird
import SurveyCore

/// A request's context: Hummingbird's own, and who is asking. The
/// authenticators (`BearerAuthenticator`, `CookieAuthenticator`) fill in
/// `identity` once per request; routes ask for it with `require(_:)`.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The holder of the request's valid token, if it carried one.
    public var identity: Principal?
    /// Why a credential the request carried was refused.
    var credentialError: ServiceError?
    /// The session id, when the identity came from the pages' cookie
    /// rather than a token in the header: then a request that changes
    /// something must carry the session's CSRF token (`Pages.mayChange`).
    public var session: String?
    /// The address the request came from, for the audit log.
    public var remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The caller as the audit log names them.
    func actor(_ principal: Principal) -> Actor { Actor(principal, address: remoteAddress) }

    /// The caller, who must have `permission`; a request without a valid
    /// token is refused as unauthenticated.
    public func require(_ permission: Permission) throws(ServiceError) -> Principal {
        if let credentialError { throw credentialError }
        guard let identity else {
            throw ServiceError.unauthenticated(L("缺少令牌:请在 Authorization 头中给出 Bearer 令牌", "no token: send 'Authorization: Bearer TOKEN'"))
        }
        try identity.require(permission)
        return identity
    }

    /// The caller if the request names one: none is fine, a refused
    /// credential is not.
    public func optionalIdentity() throws(ServiceError) -> Principal? {
        if let credentialError { throw credentialError }
        return identity
    }
}

/// Reads `Authorization: Bearer …` into the context's identity.
struct BearerAuthenticator: RouterMiddleware {
    typealias Context = ServerRequestContext
    let service: SurveyService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            do {
                context.identity = try await service.authenticate(header)
            } catch let error as ServiceError {
                context.credentialError = error
            }
        }
        return try await next(request, context)
    }
}

/// Reads the pages' sign-in cookie (`vsurvey_session`, a session id,
/// never a token) into the context's identity when the request has no
/// `Authorization` header: the workspace, the report page and the API
/// all take it, with the same role rules as a token. A request made with
/// the cookie that changes something must come from this server's pages
/// with the session's CSRF token: the pages check their forms' `csrf`
/// field, and this checks the API's `X-CSRF-Token` header.
struct CookieAuthenticator: RouterMiddleware {
    typealias Context = ServerRequestContext
    let service: SurveyService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if request.headers[.authorization] == nil, let session = Pages.session(in: request) {
            do {
                context.identity = try await service.authenticate(session: session)
                context.session = session
            } catch let error as ServiceError {
                // A page asks to sign in again; an API call is refused.
                context.credentialError = error
            }
        }
        let safe = request.method == .get || request.method == .head || request.method == .options
        if !safe, request.uri.path.hasPrefix("/api/"), context.session != nil,
            !Pages.mayChange(request, context, token: request.headers[HTTPField.Name("X-CSRF-Token")!])
        {
            throw ServiceError(
                .forbidden, "csrf",
                L(
                    "用登录会话调用接口时,须从本服务器的页面发出并带上 X-CSRF-Token 头(页面的 csrf-token)",
                    "a call made with the sign-in session must come from this server's pages with the X-CSRF-Token header (the page's csrf-token)"))
        }
        return try await next(request, context)
    }
}

extension RouterMethods where Context == ServerRequestContext {
    /// A route whose caller must have `permission`: the handler gets the
    /// caller, and is not run for anyone else.
    @discardableResult
    func on(
        _ method: HTTPRequest.Method, _ path: RouterPath, requires permission: Permission,
        _ handler: @escaping @Sendable (Request, ServerRequestContext, Principal) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context -> Response in
            let principal = try context.require(permission)
            return try await handler(request, context, principal)
        }
    }

    /// A route anyone may ask (a token, if sent, must be valid); the
    /// handler gets the caller if there is one.
    @discardableResult
    func on(
        _ method: HTTPRequest.Method, _ path: RouterPath, open handler: @escaping @Sendable (Request, ServerRequestContext, Principal?) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context -> Response in
            try await handler(request, context, try context.optionalIdentity())
        }
    }
}
