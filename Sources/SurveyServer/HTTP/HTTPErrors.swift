import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1
import SurveyCore
import SurveySQL

/// The one place where errors become HTTP answers: the service's
/// `ServiceError`, the storage's `StorageError` and the engines' `SQLError`
/// (the same for SQLite and PostgreSQL) each map to one status and a JSON
/// error object; the router's own (no such route, wrong method) keep their
/// status; anything else is 500 with the request id to quote, its details
/// in the log only.
enum HTTPErrors {
    static func status(_ kind: ServiceError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .invalid: return .badRequest
        case .unauthenticated: return .unauthorized
        case .forbidden: return .forbidden
        case .notFound: return .notFound
        case .conflict: return .conflict
        case .tooLarge: return .contentTooLarge
        case .unsupportedEncoding: return .unsupportedMediaType
        case .unavailable: return .serviceUnavailable
        case .busy: return .tooManyRequests
        }
    }

    /// `error` in the service's terms, when it is one a caller can act on.
    static func serviceError(_ error: any Error) -> ServiceError? {
        switch error {
        case let error as ServiceError:
            return error
        case let error as StorageError:
            return ServiceError(error)
        case let error as SQLError:
            switch error.kind {
            case .busy, .full, .unavailable:
                return ServiceError(
                    .unavailable, "unavailable",
                    L("数据库暂时不可用,未作任何改动;请稍后重试", "the database is unavailable for now and nothing was changed; try again later"))
            case .constraint:
                return ServiceError(.conflict, "conflict", L("数据已被同时修改,未作任何改动;请重试", "the data changed meanwhile and nothing was changed; try again"))
            case .failed:
                return nil
            }
        default:
            return nil
        }
    }

    static func response(_ error: ServiceError, language: Language) -> Response {
        var response = JSONResponse.make(error.json(language), status: status(error.kind))
        if error.kind == .unauthenticated { response.headers[.wwwAuthenticate] = "Bearer realm=\"vsurvey\"" }
        if error.kind == .busy { response.headers[.retryAfter] = "\(SurveyService.ingestRetryAfter)" }
        return response
    }
}

/// Sends the request id back as `X-Request-ID`, so that a client's error
/// report can be found in the server's log, and turns every error into an
/// answer through `HTTPErrors`.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let known: KnownRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = context.logger[metadataKey: "hb.request.id"].map { "\($0)" }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let language = RequestLanguage.of(request)
            if let error = error as? HTTPParserError {
                // The body could not be read (a bad chunk size): the client's fault.
                response = FramingErrors.response(error, language: language)
            } else if let mapped = HTTPErrors.serviceError(error) {
                if mapped.kind == .unavailable { context.logger.error("unavailable", metadata: ["error": .string("\(error)")]) }
                response = HTTPErrors.response(mapped, language: language)
            } else if let error = error as? any HTTPResponseError, error.status == .notFound,
                case let allowed = known.methods(for: request.uri.path), !allowed.isEmpty
            {
                // A route that exists, asked with a method it does not take.
                let message = L(
                    "此地址不支持 \(request.method.rawValue),可用:\(allowed.joined(separator: "、"))",
                    "this route does not take \(request.method.rawValue); it takes \(allowed.joined(separator: ", "))")
                response = JSONResponse.make(ServiceError(.invalid, "method_not_allowed", message).json(language), status: .methodNotAllowed)
                response.headers[.allow] = allowed.joined(separator: ", ")
            } else if let error = error as? any HTTPResponseError {
                let status = error.status
                let message =
                    status == .notFound
                    ? L("没有这个地址;接口说明见 /api/v1/openapi.json", "no such route; the API is described at /api/v1/openapi.json")
                    : status == .methodNotAllowed ? L("此地址不支持该请求方法", "this route does not take that method") : L("请求无法处理", "the request cannot be served")
                response = JSONResponse.make(ServiceError(.invalid, "http_error", message).json(language), status: status)
            } else {
                context.logger.error("request failed", metadata: ["error": .string("\(error)")])
                let message = L(
                    "服务器内部错误,未作任何改动;请把请求编号 \(id ?? "-") 告诉管理员",
                    "internal server error; nothing was changed. Give the administrator the request id \(id ?? "-")")
                response = JSONResponse.make(ServiceError(.unavailable, "internal", message).json(language), status: .internalServerError)
            }
        }
        if let id { response.headers[.requestID] = id }
        return response
    }
}
