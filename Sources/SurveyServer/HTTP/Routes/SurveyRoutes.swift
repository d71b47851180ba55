import Foundation
import Hummingbird
import Logging
import SurveyCore

/// Surveys: a device's batch, and a survey's latest revision and history.
enum SurveyRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)

        // Authorised and admitted (the token's batches in flight) before the body is read.
        routes.on(.post, "/api/v1/surveys", requires: .send) { request, context, principal -> Response in
            try await service.admittingIngest(for: principal) { try await ingest(request, context, principal, service) }
        }

        routes.on(.get, "/api/v1/surveys/{instance_id}", requires: .read) { _, context, principal -> Response in
            let record = try await service.survey(try context.parameters.require("instance_id"), for: principal)
            var object = revisionJSON(record.latest)
            object["state"] = .string(record.state.rawValue)
            return JSONResponse.make(.object(object))
        }

        routes.on(.get, "/api/v1/surveys/{instance_id}/revisions", requires: .read) { _, context, principal -> Response in
            let found = try await service.revisions(of: try context.parameters.require("instance_id"), for: principal)
            return JSONResponse.make(["instance_id": .string(found.instanceID), "revisions": .array(found.revisions.map { .object(revisionJSON($0)) })])
        }
        return routes
    }

    /// Reads, checks and stores one batch, and answers each survey in it.
    static func ingest(_ request: Request, _ context: ServerRequestContext, _ principal: Principal, _ service: SurveyService) async throws -> Response {
        let limits = service.limits
        let language = RequestLanguage.of(request)
        let started = ContinuousClock.now
        let buffer = try await request.bytes(upTo: limits.maxBodyBytes)
        let encoding = request.headers[.contentEncoding]?.lowercased()
        if let encoding, encoding != "gzip", encoding != "identity" {
            throw ServiceError(
                .unsupportedEncoding, "unsupported_encoding",
                L("不支持的 Content-Encoding “\(encoding)”(可用 gzip)", "unsupported Content-Encoding '\(encoding)' (use gzip)"))
        }
        let bytes = Array(buffer.readableBytesView)
        let document = try await SurveyService.offloaded { try service.decodeBody(bytes, gzip: encoding == "gzip") }
        context.logger.debug("body read", metadata: ["read_ms": .stringConvertible((ContinuousClock.now - started).milliseconds)])
        let results = try await service.ingest(document, by: principal, logger: context.logger)
        let reply = SurveyService.reply(results, language: language)
        context.logger.info(
            "batch answered",
            metadata: [
                "token": .string(principal.name), "surveys": .stringConvertible(results.count), "bytes": .stringConvertible(buffer.readableBytes),
                "summary": .string(reply.summary.serialized()), "elapsed_ms": .stringConvertible((ContinuousClock.now - started).milliseconds),
            ])
        return JSONResponse.make(reply.json, for: request)
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
}
