import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import SurveyCore
import Synchronization

/// A route of the API: the OpenAPI document lists exactly these.
public struct APIRoute: Sendable, Hashable, CustomStringConvertible {
    public var method: String
    /// In OpenAPI's notation: `/api/v1/forms/{id}/{version}`.
    public var path: String

    public init(method: String, path: String) {
        self.method = method
        self.path = path
    }

    public var description: String { "\(method) \(path)" }
}

/// The Hummingbird application: the router, its middleware and the route
/// collections, one per resource, that translate HTTP to `SurveyService`.
public enum ServerApplication {
    public static let apiVersion = 1
    public static let serverVersion = "0.4.0"

    /// The OpenAPI document kept beside the sources.
    public static func openAPIDocument() -> Data? {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else { return nil }
        return try? Data(contentsOf: url)
    }

    /// The router, and every route it serves as registered with it.
    public static func buildRouter(service: SurveyService) -> (router: Router<ServerRequestContext>, routes: [APIRoute]) {
        let router = Router(context: ServerRequestContext.self)
        let known = KnownRoutes()
        router.add(middleware: ErrorMiddleware(known: known))
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: LanguageParameterMiddleware())
        router.add(middleware: BearerAuthenticator(service: service))
        router.add(middleware: CookieAuthenticator(service: service))
        let recorder = RouteRecorder(router, known: known)
        recorder.addRoutes(SystemRoutes.collection(service))
        recorder.addRoutes(SurveyRoutes.collection(service))
        recorder.addRoutes(FormRoutes.collection(service))
        recorder.addRoutes(UnitRoutes.collection(service))
        recorder.addRoutes(BaselineRoutes.collection(service))
        recorder.addRoutes(ReportRoutes.collection(service))
        recorder.addRoutes(ConflictRoutes.collection(service))
        recorder.addRoutes(ReviewRoutes.collection(service))
        recorder.addRoutes(AuditRoutes.collection(service))
        recorder.addRoutes(ExportRoutes.collection(service))
        recorder.addRoutes(ReportRoutes.pages(service))
        recorder.addRoutes(SignInRoutes.collection(service))
        recorder.addRoutes(WorkspaceRoutes.collection(service))
        return (router, known.routes)
    }

    /// The application, ready to `runService()`.
    public static func application(
        service: SurveyService, host: String, port: Int, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: buildRouter(service: service).router,
            server: .http1(configuration: HTTP1Channel.Configuration(additionalChannelHandlers: [FramingErrorHandler(logger: logger)])),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "vsurvey-server"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

/// Every route registered with the router: for the OpenAPI test, and for
/// answering a known path asked with another method 405 with `Allow`.
final class KnownRoutes: Sendable {
    private let list = Mutex<[APIRoute]>([])

    var routes: [APIRoute] { list.withLock { $0 } }

    func add(_ route: APIRoute) { list.withLock { $0.append(route) } }

    /// The methods registered for a request path (`{name}` matches any one
    /// segment). A route that names the path exactly (`/reports/login`)
    /// stands for it alone, not with the ones whose parameter would match
    /// it (`/reports/{form}`).
    func methods(for path: String) -> [String] {
        let asked = path.split(separator: "/", omittingEmptySubsequences: false)
        let matching = routes.filter { route in
            let template = route.path.split(separator: "/", omittingEmptySubsequences: false)
            return template.count == asked.count
                && zip(template, asked).allSatisfy { pattern, segment in
                    (pattern.hasPrefix("{") && pattern.hasSuffix("}") && !segment.isEmpty) || pattern == segment
                }
        }
        let exact = matching.filter { $0.path == path }
        return (exact.isEmpty ? matching : exact).map(\.method)
    }
}

/// Adds routes to a router and records each one in `KnownRoutes`.
final class RouteRecorder<Context: RequestContext>: RouterMethods {
    let router: Router<Context>
    let known: KnownRoutes

    init(_ router: Router<Context>, known: KnownRoutes) {
        self.router = router
        self.known = known
    }

    @discardableResult
    func on<Responder: HTTPResponder>(_ path: RouterPath, method: HTTPRequest.Method, responder: Responder) -> Self
    where Responder.Context == Context {
        router.on(path, method: method, responder: responder)
        known.add(APIRoute(method: method.rawValue, path: path.description))
        return self
    }

    @discardableResult
    func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        router.add(middleware: middleware)
        return self
    }
}

/// Refuses a `lang` parameter the server does not speak (400), for the
/// API; the pages answer it with a page of their own.
struct LanguageParameterMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if !path.hasPrefix("/reports/"), path != "/workspace", !path.hasPrefix("/workspace/"), let problem = RequestLanguage.problem(request) { throw problem }
        return try await next(request, context)
    }
}

/// One log line per request, as Hummingbird's `LogRequestsMiddleware`
/// writes it, but with the address's secrets taken out (`Redacted.url`):
/// a token sent in a query string never reaches the log.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        context.logger.info(
            "Request",
            metadata: ["hb.request.path": .string(Redacted.url(request.uri.description)), "hb.request.method": .string(request.method.rawValue)])
        return try await next(request, context)
    }
}
