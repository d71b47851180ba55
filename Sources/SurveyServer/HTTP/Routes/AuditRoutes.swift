import Foundation
import Hummingbird
import SurveyCore

/// The audit log: who reviewed, resolved, exported, signed in or changed a
/// token, when and from where; an admin's, within their unit.
enum AuditRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.on(.get, "/api/v1/audit", requires: .audit) { request, _, principal -> Response in
            let query = request.uri.queryParameters
            let before = try RequestFields.integer(query["cursor"].map(String.init), name: "cursor", range: 0...RequestFields.largestCursor)
            let limit = Int(try RequestFields.integer(query["limit"].map(String.init), name: "limit", range: 1...1000) ?? 100)
            let action = query["action"].map(String.init)
            if let action, !AuditAction.all.contains(action) {
                throw ServiceError(
                    .invalid, "invalid_action",
                    L("action 应为以下之一:\(AuditAction.all.joined(separator: "、"))", "action must be one of \(AuditAction.all.joined(separator: ", "))"))
            }
            let records = try await service.auditLog(for: principal, before: before, limit: limit + 1, action: action)
            let page = records.prefix(limit)
            return JSONResponse.make([
                "entries": .array(page.map(entryJSON)),
                "next_cursor": records.count > limit ? .string(String(page.last!.id)) : .null,
            ])
        }
        return routes
    }

    static func entryJSON(_ record: AuditRecord) -> JSONValue {
        [
            "id": .integer(Int(record.id)), "at": .string(Timestamp.iso(record.at)), "actor": .string(record.actor),
            "role": record.role.map(JSONValue.string) ?? .null, "actor_unit": record.actorUnit.map(JSONValue.string) ?? .null,
            "action": .string(record.action), "target": record.target.map(JSONValue.string) ?? .null,
            "unit": record.unit.map(JSONValue.string) ?? .null, "details": .object(record.details),
            "address": record.address.map(JSONValue.string) ?? .null,
        ]
    }
}
