import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SurveyCore

/// The server itself: health, the OpenAPI document and the handshake that
/// tells a device the API version and the batch limits.
enum SystemRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        let openAPI = ServerApplication.openAPIDocument()
        let limits = service.limits

        routes.get("/health") { request, context -> Response in
            do {
                try await service.checkHealth()
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

        routes.get("/api/v1/openapi.json") { _, _ -> Response in
            guard let openAPI else { throw ServiceError.notFound(L("找不到 OpenAPI 文档", "the OpenAPI document is missing")) }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: openAPI)))
        }

        let handshakeHeaders: HTTPFields = [
            .apiVersion: "\(ServerApplication.apiVersion)", .maxBatch: "\(limits.maxBatch)", .maxBody: "\(limits.maxBodyBytes)",
            .cacheControl: "no-store",
        ]
        routes.on(.head, "/api/v1/handshake") { _, _, _ -> Response in
            Response(status: .ok, headers: handshakeHeaders)
        }
        routes.on(.get, "/api/v1/handshake") { _, _, principal -> Response in
            var object: JSONObject = [
                "service": "vsurvey-server", "api_version": .integer(ServerApplication.apiVersion),
                "server_version": .string(ServerApplication.serverVersion), "max_batch": .integer(limits.maxBatch),
                "max_body_bytes": .integer(limits.maxBodyBytes), "max_decoded_bytes": .integer(limits.maxDecodedBytes), "gzip": true,
                "time": .string(Timestamp.iso(Date())),
            ]
            if let principal {
                object["token"] = ["name": .string(principal.name), "role": .string(principal.role.rawValue), "unit": .string(principal.unit.rawValue)]
            }
            return JSONResponse.make(.object(object), headers: handshakeHeaders)
        }
        return routes
    }
}
