import Foundation
import Hummingbird
import SurveyCore

/// Held surveys: the open conflicts under the caller's unit, and an admin's resolution.
enum ConflictRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)

        routes.on(.get, "/api/v1/conflicts", requires: .read) { request, _, principal -> Response in
            let all: Bool
            switch request.uri.queryParameters["all"].map(String.init) {
            case nil, "false", "0": all = false
            case "true", "1": all = true
            case let other?:
                throw ServiceError(
                    .invalid, "invalid_all", L("all 应为 true、false、1 或 0,而不是 “\(other)”", "all must be true, false, 1 or 0, not '\(other)'"))
            }
            let conflicts = try await service.conflicts(for: principal, includeResolved: all)
            return JSONResponse.make(["conflicts": .array(conflicts.map(conflictJSON))])
        }

        routes.on(.get, "/api/v1/conflicts/{id}", requires: .read) { request, context, principal -> Response in
            let detail = try await service.conflictDetail(try id(context), for: principal)
            let language = RequestLanguage.of(request)
            func rival(_ survey: SurveyDetail?) -> JSONValue {
                guard let survey else { return .null }
                let latest = survey.record.latest
                return [
                    "instance_id": .string(latest.instanceID), "revision": .integer(latest.revision), "state": .string(survey.record.state.rawValue),
                    "received_at": .string(Timestamp.iso(latest.receivedAt)), "sent_by": latest.sentBy.map(JSONValue.string) ?? .null,
                    "readable": .array((survey.revisions.last?.lines ?? []).map { SurveyRoutes.lineJSON($0, language) }),
                ]
            }
            var object = conflictJSON(detail.conflict).objectValue ?? JSONObject()
            object.appendUnique("held", rival(detail.held))
            object.appendUnique("current", rival(detail.current))
            object.appendUnique("differences", .array(detail.differences.map { SurveyRoutes.changeJSON($0, language) }))
            return JSONResponse.make(.object(object))
        }

        routes.on(.post, "/api/v1/conflicts/{id}/resolve", requires: .resolve) { request, context, principal -> Response in
            let id = try id(context)
            let buffer = try await request.bytes(upTo: 64 * 1024)
            let document = try service.decodeBody(Array(buffer.readableBytesView), gzip: false)
            guard case .object(let object) = document, object.keys.allSatisfy({ $0 == "keep" || $0 == "comment" }),
                let keep = object["keep"]?.stringValue
            else {
                throw ServiceError.invalid(
                    L("请求体应为 {\"keep\": \"instance_id\", \"comment\": \"…\"}", "the body must be {\"keep\": \"instance_id\", \"comment\": \"…\"}"))
            }
            let comment = try RequestFields.comment(object)
            return JSONResponse.make(
                conflictJSON(try await service.resolveConflict(id, keep: keep, comment: comment, by: principal, address: context.remoteAddress)))
        }
        return routes
    }

    static func id(_ context: ServerRequestContext) throws(ServiceError) -> Int64 {
        guard let id = context.parameters.get("id", as: Int64.self) else {
            throw ServiceError.notFound(L("冲突编号应为整数", "a conflict id is a whole number"))
        }
        return id
    }

    static func conflictJSON(_ conflict: ConflictRecord) -> JSONValue {
        [
            "id": .integer(Int(conflict.id)), "form": .string(conflict.formID), "unit": .string(conflict.unit), "period": .string(conflict.period),
            "held_instance": .string(conflict.heldInstance), "current_instance": conflict.currentInstance.map(JSONValue.string) ?? .null,
            "created_at": .string(Timestamp.iso(conflict.createdAt)), "resolved_at": conflict.resolvedAt.map { .string(Timestamp.iso($0)) } ?? .null,
            "resolved_by": conflict.resolvedBy.map(JSONValue.string) ?? .null, "kept_instance": conflict.keptInstance.map(JSONValue.string) ?? .null,
            "comment": conflict.comment.map(JSONValue.string) ?? .null,
        ]
    }
}
