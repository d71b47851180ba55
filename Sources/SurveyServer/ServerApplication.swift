import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SurveyCore
import SurveyReport

extension APIError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(json(RequestLanguage.of(request)), status: status)
        if statusCode == 401 { response.headers[.wwwAuthenticate] = "Bearer realm=\"vsurvey\"" }
        return response
    }
}

/// The language of a request's messages: `?lang=en`, else Accept-Language,
/// else Chinese.
enum RequestLanguage {
    static func of(_ request: Request) -> Language {
        if let explicit = request.uri.queryParameters["lang"], let language = Language(code: String(explicit)) { return language }
        if let accept = request.headers[.acceptLanguage]?.lowercased(), accept.hasPrefix("en") { return .en }
        return .zh
    }
}

enum JSONResponse {
    /// Bodies at least this large are sent gzip-compressed to a client that
    /// accepts it; smaller ones would not shrink enough to pay for it.
    static let compressionThreshold = 1024

    /// A JSON answer; compressed with gzip when `request` accepts it and the
    /// body is large enough.
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], for request: Request? = nil) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        var bytes = value.serializedBytes()
        bytes.append(10)
        if let request {
            headers[.vary] = "Accept-Encoding"
            if bytes.count >= compressionThreshold, acceptsGzip(request.headers[.acceptEncoding]) {
                bytes = Gzip.compress(bytes, level: 5)
                headers[.contentEncoding] = "gzip"
            }
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Whether an `Accept-Encoding` value admits gzip (and not with `q=0`).
    static func acceptsGzip(_ value: String?) -> Bool {
        guard let value else { return false }
        for part in value.lowercased().split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let coding = fields.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let quality = fields.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
        return false
    }
}

/// A route of the API: the OpenAPI document lists exactly these.
public struct APIRoute: Sendable, Hashable {
    public var method: String
    /// In OpenAPI's notation: `/api/v1/forms/{id}/{version}`.
    public var path: String

    public init(method: String, path: String) {
        self.method = method
        self.path = path
    }
}

/// Sends the request id back as `X-Request-ID`, so that a client's error
/// report can be found in the server's log.
///
/// It also turns every error into a JSON answer: the API's own errors as
/// they are, the router's (no such route, wrong method) with their status,
/// and anything else (a database that stays busy, a full disk) as 503 or
/// 500 with the request id to quote; the details go to the log only.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = context.logger[metadataKey: "hb.request.id"].map { "\($0)" }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = try error.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            let status = error.status
            let message =
                status == .notFound
                ? L("没有这个地址;接口说明见 /api/v1/openapi.json", "no such route; the API is described at /api/v1/openapi.json")
                : status == .methodNotAllowed ? L("此地址不支持该请求方法", "this route does not take that method") : L("请求无法处理", "the request cannot be served")
            response = try APIError(status.code, "http_error", message).response(from: request, context: context)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_FULL {
            context.logger.error("database unavailable", metadata: ["error": .string("\(error)")])
            let message = L("数据库暂时不可用,未作任何改动;请稍后重试", "the database is unavailable for now and nothing was changed; try again later")
            response = try APIError(503, "unavailable", message).response(from: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["error": .string("\(error)")])
            let message = L(
                "服务器内部错误,未作任何改动;请把请求编号 \(id ?? "-") 告诉管理员",
                "internal server error; nothing was changed. Give the administrator the request id \(id ?? "-")")
            response = try APIError(500, "internal", message).response(from: request, context: context)
        }
        if let id { response.headers[.requestID] = id }
        return response
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-ID")!
    static let apiVersion = Self("X-VSurvey-API")!
    static let maxBatch = Self("X-VSurvey-Max-Batch")!
    static let maxBody = Self("X-VSurvey-Max-Body")!
}

/// The Hummingbird application: routes that translate HTTP to
/// `SurveyService` and back.
public enum ServerApplication {
    public static let apiVersion = 1
    public static let serverVersion = "0.4.0"

    /// Every route the server answers, as the OpenAPI document must list them.
    public static let routes: [APIRoute] = [
        APIRoute(method: "GET", path: "/health"),
        APIRoute(method: "GET", path: "/api/v1/openapi.json"),
        APIRoute(method: "GET", path: "/api/v1/handshake"),
        APIRoute(method: "HEAD", path: "/api/v1/handshake"),
        APIRoute(method: "POST", path: "/api/v1/surveys"),
        APIRoute(method: "GET", path: "/api/v1/surveys/{instance_id}"),
        APIRoute(method: "GET", path: "/api/v1/surveys/{instance_id}/revisions"),
        APIRoute(method: "GET", path: "/api/v1/forms"),
        APIRoute(method: "GET", path: "/api/v1/forms/{id}/{version}"),
        APIRoute(method: "GET", path: "/api/v1/units"),
        APIRoute(method: "GET", path: "/api/v1/reports/{form}"),
        APIRoute(method: "GET", path: "/reports/{form}"),
        APIRoute(method: "POST", path: "/reports/login"),
        APIRoute(method: "GET", path: "/api/v1/conflicts"),
        APIRoute(method: "POST", path: "/api/v1/conflicts/{id}/resolve"),
    ]

    /// The OpenAPI document kept beside the sources.
    public static func openAPIDocument() -> Data? {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else { return nil }
        return try? Data(contentsOf: url)
    }

    public static func router(service: SurveyService) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: LogRequestsMiddleware(.info))
        let openAPI = openAPIDocument()
        let limits = service.limits

        router.get("/health") { request, context -> Response in
            do {
                try await service.storage.checkHealth()
                return JSONResponse.make(["status": "ok"])
            } catch {
                // The reason, which names files, goes to the log; the answer,
                // which anyone may ask for, says only what kind of failure.
                context.logger.error("health check failed", metadata: ["error": .string("\(error)")])
                let moved = (error as? StorageError)?.kind == .unavailable
                let message =
                    moved
                    ? L("数据库文件已被移走或替换;请重启服务器", "the database file was moved or replaced; restart the server")
                    : L("数据库没有响应", "the database does not answer")
                return JSONResponse.make(
                    ["status": "unavailable", "message": .string(message.text(RequestLanguage.of(request)))], status: .serviceUnavailable)
            }
        }

        router.get("/api/v1/openapi.json") { _, _ -> Response in
            guard let openAPI else { throw APIError.notFound(L("找不到 OpenAPI 文档", "the OpenAPI document is missing")) }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: openAPI)))
        }

        let handshakeHeaders: HTTPFields = [
            .apiVersion: "\(apiVersion)", .maxBatch: "\(limits.maxBatch)", .maxBody: "\(limits.maxBodyBytes)", .cacheControl: "no-store",
        ]
        router.head("/api/v1/handshake") { request, _ -> Response in
            if request.headers[.authorization] != nil { _ = try await service.authenticate(request.headers[.authorization]) }
            return Response(status: .ok, headers: handshakeHeaders)
        }
        router.get("/api/v1/handshake") { request, _ -> Response in
            var object: JSONObject = [
                "service": "vsurvey-server", "api_version": .integer(apiVersion), "server_version": .string(serverVersion),
                "max_batch": .integer(limits.maxBatch), "max_body_bytes": .integer(limits.maxBodyBytes),
                "max_decoded_bytes": .integer(limits.maxDecodedBytes), "gzip": true, "time": .string(Timestamp.iso(Date())),
            ]
            if request.headers[.authorization] != nil {
                let principal = try await service.authenticate(request.headers[.authorization])
                object["token"] = ["name": .string(principal.name), "role": .string(principal.role.rawValue), "unit": .string(principal.unit.rawValue)]
            }
            return JSONResponse.make(.object(object), headers: handshakeHeaders)
        }

        router.post("/api/v1/surveys") { request, context -> Response in
            let language = RequestLanguage.of(request)
            let principal = try await service.authenticate(request.headers[.authorization])
            if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limits.maxBodyBytes {
                throw bodyTooLarge(limits.maxBodyBytes)
            }
            let started = ContinuousClock.now
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: limits.maxBodyBytes)
            } catch is NIOTooManyBytesError {
                throw bodyTooLarge(limits.maxBodyBytes)
            }
            let encoding = request.headers[.contentEncoding]?.lowercased()
            if let encoding, encoding != "gzip", encoding != "identity" {
                throw APIError(
                    415, "unsupported_encoding", L("不支持的 Content-Encoding “\(encoding)”(可用 gzip)", "unsupported Content-Encoding '\(encoding)' (use gzip)"))
            }
            let document = try service.decodeBody(Array(buffer.readableBytesView), gzip: encoding == "gzip")
            context.logger.debug("body read", metadata: ["read_ms": .stringConvertible((ContinuousClock.now - started).milliseconds)])
            let results = try await service.ingest(document, by: principal, logger: context.logger)
            let reply = SurveyService.reply(results, language: language)
            context.logger.info(
                "batch answered",
                metadata: [
                    "token": .string(principal.name), "surveys": .stringConvertible(results.count), "bytes": .stringConvertible(buffer.readableBytes),
                    "summary": .string(reply["summary"]?.serialized() ?? ""), "elapsed_ms": .stringConvertible((ContinuousClock.now - started).milliseconds),
                ])
            return JSONResponse.make(reply, for: request)
        }

        router.get("/api/v1/surveys/{instance_id}") { request, context -> Response in
            let principal = try await reader(service, request)
            let id = try context.parameters.require("instance_id")
            guard let record = try await service.storage.survey(id) else {
                throw APIError.notFound(L("没有调查 \(id)", "there is no survey \(id)"))
            }
            try requireScope(principal, record.latest.unit)
            var object = revisionJSON(record.latest)
            object["state"] = .string(record.state.rawValue)
            return JSONResponse.make(.object(object))
        }

        router.get("/api/v1/surveys/{instance_id}/revisions") { request, context -> Response in
            let principal = try await reader(service, request)
            let id = try context.parameters.require("instance_id")
            let revisions = try await service.storage.revisions(of: id)
            guard let last = revisions.last else { throw APIError.notFound(L("没有调查 \(id)", "there is no survey \(id)")) }
            try requireScope(principal, last.unit)
            // A survey moved from another unit keeps its earlier revisions
            // there: a token sees only the revisions filed under its units.
            let visible = revisions.filter { UnitCode($0.unit).map(principal.covers) ?? false }
            return JSONResponse.make(["instance_id": .string(last.instanceID), "revisions": .array(visible.map { .object(revisionJSON($0)) })])
        }

        router.get("/api/v1/forms") { request, _ -> Response in
            _ = try await service.authenticate(request.headers[.authorization])
            let forms: [JSONValue] = service.published.map { published in
                let form = published.form
                return [
                    "id": .string(form.id), "version": .string(form.version), "hash": .string(published.hash),
                    "title": ["zh": .string(form.title.zh), "en": form.title.en.map(JSONValue.string) ?? .null],
                    "period_type": .string(form.periodType.rawValue), "unit_level": .string(form.unitLevel.rawValue),
                ]
            }
            return JSONResponse.make(["forms": .array(forms)])
        }

        router.get("/api/v1/forms/{id}/{version}") { request, context -> Response in
            _ = try await service.authenticate(request.headers[.authorization])
            let id = try context.parameters.require("id")
            let version = try context.parameters.require("version")
            guard let published = service.published.first(where: { $0.form.id == id && $0.form.version == version }) else {
                throw APIError.notFound(L("没有表单 \(id) 版本 \(version)", "there is no form \(id) version \(version)"))
            }
            let etag = "\"\(published.hash)\""
            if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: [.eTag: etag]) }
            return JSONResponse.make(
                ["id": .string(id), "version": .string(version), "hash": .string(published.hash), "source": .string(published.source)],
                headers: [.eTag: etag], for: request)
        }

        router.get("/api/v1/units") { request, _ -> Response in
            let principal = try await service.authenticate(request.headers[.authorization])
            let registry = try await service.registry()
            let units = registry.units.filter { principal.covers($0.code) }.sorted { $0.code < $1.code }
            let list: [JSONValue] = units.map { unit in
                [
                    "code": .string(unit.code.rawValue), "name": .string(unit.name), "level": .string(unit.level.rawValue),
                    "parent": unit.parent.map { .string($0.rawValue) } ?? .null,
                ]
            }
            let listJSON = JSONValue.array(list)
            let hash = SHA256.hex(of: listJSON.serialized().utf8)
            let etag = "\"\(hash)\""
            if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: [.eTag: etag]) }
            return JSONResponse.make(
                ["scope": .string(principal.unit.rawValue), "hash": .string(hash), "units": listJSON], headers: [.eTag: etag], for: request)
        }

        ReportPages.add(to: router, service: service)

        router.get("/api/v1/reports/{form}") { request, context -> Response in
            let principal = try await reader(service, request)
            let formID = try context.parameters.require("form")
            let query = request.uri.queryParameters
            let scopeText = query["scope"].map(String.init) ?? principal.unit.rawValue
            guard let scope = UnitCode(scopeText) else {
                throw APIError(400, "invalid_scope", L("scope 应为 12 位单位代码", "scope must be a 12-digit unit code"))
            }
            guard principal.covers(scope) else {
                throw APIError.forbidden(L("\(scope) 不在令牌的范围 \(principal.unit) 内", "\(scope) is outside the token's scope \(principal.unit)"))
            }
            guard let plan = service.reportPlans[formID] else {
                throw APIError.notFound(L("没有表单 “\(formID)”", "there is no form '\(formID)'"))
            }
            let period = query["period"].map(String.init) ?? Report.currentPeriod(plan.latest.periodType)
            let format = query["format"].map(String.init) ?? "json"
            guard format == "json" || format == "csv" else {
                throw APIError(400, "invalid_format", L("format 应为 json 或 csv", "format must be json or csv"))
            }
            let limit = query["limit"].flatMap { Int(String($0)) } ?? 50
            guard (1...10_000).contains(limit) else {
                throw APIError(400, "invalid_limit", L("limit 应在 1 到 10000 之间", "limit must be between 1 and 10000"))
            }
            let report = try await service.report(formID: formID, scope: scope, period: period, watchLimit: limit, missingLimit: limit)
            let language = RequestLanguage.of(request)
            if format == "csv" {
                var headers = HTTPFields()
                headers[.contentType] = "text/csv; charset=utf-8"
                headers[.contentDisposition] = "attachment; filename=\"\(formID)-\(scope)-\(period).csv\""
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: report.csv(language))))
            }
            return JSONResponse.make(report.json(language), for: request)
        }

        router.get("/api/v1/conflicts") { request, _ -> Response in
            let principal = try await reader(service, request)
            let all = request.uri.queryParameters["all"].map { $0 == "true" || $0 == "1" } ?? false
            let conflicts = try await service.storage.conflicts(under: principal.unit, includeResolved: all)
            return JSONResponse.make(["conflicts": .array(conflicts.map(conflictJSON))])
        }

        router.post("/api/v1/conflicts/{id}/resolve") { request, context -> Response in
            let principal = try await service.authenticate(request.headers[.authorization])
            guard principal.role.mayResolve else {
                throw APIError.forbidden(L("只有管理员令牌能处理冲突", "only an admin token can resolve conflicts"))
            }
            guard let id = context.parameters.get("id", as: Int64.self) else {
                throw APIError.notFound(L("冲突编号应为整数", "a conflict id is a whole number"))
            }
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: 64 * 1024)
            } catch is NIOTooManyBytesError {
                throw bodyTooLarge(64 * 1024)
            }
            let document = try service.decodeBody(Array(buffer.readableBytesView), gzip: false)
            guard case .object(let object) = document, object.keys.allSatisfy({ $0 == "keep" }), let keep = object["keep"]?.stringValue else {
                throw APIError.badRequest(L("请求体应为 {\"keep\": \"instance_id\"}", "the body must be {\"keep\": \"instance_id\"}"))
            }
            do {
                let resolved = try await service.storage.resolveConflict(id, keep: keep, by: principal, at: Date())
                return JSONResponse.make(conflictJSON(resolved))
            } catch let error as StorageError {
                switch error.kind {
                case .notFound: throw APIError.notFound(error.message)
                case .forbidden: throw APIError.forbidden(error.message)
                case .conflict: throw APIError(409, "conflict", error.message)
                case .invalid: throw APIError.badRequest(error.message)
                case .unavailable: throw APIError(503, "unavailable", error.message)
                }
            }
        }
        return router
    }

    static func bodyTooLarge(_ limit: Int) -> APIError {
        APIError(
            413, "payload_too_large", L("请求体超过 \(limit) 字节的上限", "the request body is larger than the limit of \(limit) bytes"),
            details: [("limit", .integer(limit))])
    }

    static func reader(_ service: SurveyService, _ request: Request) async throws -> Principal {
        let principal = try await service.authenticate(request.headers[.authorization])
        guard principal.role.mayRead else {
            throw APIError.forbidden(L("采集员令牌只能上报,不能查看", "a collector token can send surveys but not read them"))
        }
        return principal
    }

    static func requireScope(_ principal: Principal, _ unit: String) throws {
        guard let code = UnitCode(unit), principal.covers(code) else {
            throw APIError.forbidden(L("这份调查不在令牌的范围 \(principal.unit) 内", "this survey is outside the token's scope \(principal.unit)"))
        }
    }

    static func revisionJSON(_ record: RevisionRecord) -> JSONObject {
        let answers = (try? JSONParser().parse(record.answers)) ?? .object(JSONObject())
        var object = JSONObject(minimumCapacity: 12)
        object.appendUnique("instance_id", .string(record.instanceID))
        object.appendUnique("revision", .integer(record.revision))
        object.appendUnique("replaces", record.replaces.map(JSONValue.integer) ?? .null)
        object.appendUnique("form", .string(record.formID))
        object.appendUnique("version", .string(record.formVersion))
        object.appendUnique("unit", .string(record.unit))
        object.appendUnique("period", .string(record.period))
        object.appendUnique("content_hash", .string(record.contentHash))
        object.appendUnique("received_at", .string(Timestamp.iso(record.receivedAt)))
        object.appendUnique("finalized_at", record.finalizedAt.map(JSONValue.string) ?? .null)
        object.appendUnique("sent_by", record.sentBy.map(JSONValue.string) ?? .null)
        object.appendUnique("answers", answers)
        return object
    }

    static func conflictJSON(_ conflict: ConflictRecord) -> JSONValue {
        [
            "id": .integer(Int(conflict.id)), "form": .string(conflict.formID), "unit": .string(conflict.unit), "period": .string(conflict.period),
            "held_instance": .string(conflict.heldInstance), "current_instance": conflict.currentInstance.map(JSONValue.string) ?? .null,
            "created_at": .string(Timestamp.iso(conflict.createdAt)), "resolved_at": conflict.resolvedAt.map { .string(Timestamp.iso($0)) } ?? .null,
            "resolved_by": conflict.resolvedBy.map(JSONValue.string) ?? .null, "kept_instance": conflict.keptInstance.map(JSONValue.string) ?? .null,
        ]
    }

    /// The application, ready to `runService()`.
    public static func application(
        service: SurveyService, host: String, port: Int, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(service: service),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "vsurvey-server"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

extension Duration {
    /// Whole milliseconds, for log lines.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
