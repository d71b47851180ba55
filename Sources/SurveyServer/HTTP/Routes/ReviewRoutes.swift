import Foundation
import Hummingbird
import SurveyCore

/// Review by level: one survey's decision, many at once, a survey's
/// history, and the feed of decisions devices fetch when they sync.
enum ReviewRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)

        routes.on(.post, "/api/v1/surveys/{instance_id}/review", requires: .review) { request, context, principal -> Response in
            let id = try context.parameters.require("instance_id")
            let body = try await RequestFields.object(request, service, allowed: ["action", "comment", "revision"])
            guard let revision = revisionNumber(body["revision"]) else {
                throw ServiceError(
                    .invalid, "revision_required",
                    L("请求体须给出 revision:你看到的修订号(1 到 2147483647)", "the body must give revision: the revision you saw (1 to 2147483647)"))
            }
            let outcome = try await service.reviewOne(
                ReviewTarget(instanceID: id, revision: revision), action: try action(body), comment: try RequestFields.comment(body), by: principal,
                address: context.remoteAddress)
            return JSONResponse.make(outcomeJSON(outcome, RequestLanguage.of(request)))
        }

        routes.on(.post, "/api/v1/reviews", requires: .review) { request, context, principal -> Response in
            let body = try await RequestFields.object(request, service, allowed: ["action", "comment", "surveys"])
            guard case .array(let items)? = body["surveys"] else {
                throw ServiceError.invalid(
                    L("surveys 应为 [{\"instance_id\": …, \"revision\": N}] 数组", "surveys must be an array of {\"instance_id\": …, \"revision\": N}"))
            }
            var targets: [ReviewTarget] = []
            for (index, item) in items.enumerated() {
                guard case .object(let object) = item, object.keys.allSatisfy({ $0 == "instance_id" || $0 == "revision" }),
                    let id = object["instance_id"]?.stringValue, let revision = revisionNumber(object["revision"])
                else {
                    throw ServiceError.invalid(
                        L(
                            "surveys[\(index)] 应为 {\"instance_id\": \"…\", \"revision\": N}",
                            "surveys[\(index)] must be {\"instance_id\": \"…\", \"revision\": N}"))
                }
                targets.append(ReviewTarget(instanceID: id, revision: revision))
            }
            let outcomes = try await service.review(
                targets, action: try action(body), comment: try RequestFields.comment(body), by: principal, address: context.remoteAddress)
            let language = RequestLanguage.of(request)
            let done = outcomes.filter { $0.refusal == nil }.count
            return JSONResponse.make([
                "results": .array(outcomes.map { outcomeJSON($0, language) }),
                "summary": ["done": .integer(done), "refused": .integer(outcomes.count - done)],
            ])
        }

        routes.on(.get, "/api/v1/reviews", requires: .signedIn) { request, _, principal -> Response in
            let query = request.uri.queryParameters
            let after = try RequestFields.integer(query["after"].map(String.init), name: "after", range: 0...RequestFields.largestCursor) ?? 0
            let limit = Int(try RequestFields.integer(query["limit"].map(String.init), name: "limit", range: 1...1000) ?? 500)
            let notices = try await service.reviewNotices(after: after, limit: limit, for: principal)
            return JSONResponse.make([
                "reviews": .array(notices.map(\.json)), "next": .integer(Int(notices.last?.event ?? after)),
            ])
        }

        routes.on(.get, "/api/v1/surveys/{instance_id}/reviews", requires: .read) { request, context, principal -> Response in
            let id = try context.parameters.require("instance_id")
            let events = try await service.reviewHistory(of: id, for: principal)
            let language = RequestLanguage.of(request)
            return JSONResponse.make(["instance_id": .string(id.lowercased()), "reviews": .array(events.map { eventJSON($0, language) })])
        }
        return routes
    }

    // MARK: Reading requests

    /// A revision number: a whole number from 1 (written `3` or `3.0`, as JSON allows).
    static func revisionNumber(_ value: JSONValue?) -> Int? {
        switch value {
        case .integer(let number)?: return (1...2_147_483_647).contains(number) ? number : nil
        case .number(let number)?:
            guard number.rounded() == number, number >= 1, number <= 2_147_483_647 else { return nil }
            return Int(number)
        default: return nil
        }
    }

    static func action(_ body: JSONObject) throws(ServiceError) -> ReviewAction {
        guard let text = body["action"]?.stringValue, let action = ReviewAction(rawValue: text) else {
            throw ServiceError(.invalid, "invalid_action", L("action 应为 approve、return 或 reopen", "action must be approve, return or reopen"))
        }
        return action
    }

    // MARK: JSON

    static func statusJSON(_ status: ReviewStatus, _ language: Language) -> JSONValue {
        [
            "state": .string(status.state.rawValue), "level": status.level.map { .string($0.rawValue) } ?? .null,
            "label": .string(status.label.text(language)),
        ]
    }

    static func outcomeJSON(_ outcome: ReviewOutcome, _ language: Language) -> JSONValue {
        var object = JSONObject()
        object.appendUnique("instance_id", .string(outcome.instanceID))
        object.appendUnique("ok", .bool(outcome.refusal == nil))
        object.appendUnique("revision", outcome.revision.map(JSONValue.integer) ?? .null)
        object.appendUnique("review", outcome.status.map { statusJSON($0, language) } ?? .null)
        if let refusal = outcome.refusal {
            let error = ServiceError(refusal)
            object.appendUnique(
                "error",
                ["code": .string(error.code), "status": .integer(Int(HTTPErrors.status(error.kind).code)), "message": .string(error.message.text(language))])
        }
        if let event = outcome.event { object.appendUnique("event", .integer(Int(event))) }
        return .object(object)
    }

    static func eventJSON(_ event: ReviewEvent, _ language: Language) -> JSONValue {
        [
            "event": .integer(Int(event.id)), "revision": .integer(event.revision), "action": .string(event.action.rawValue),
            "actor_level": event.actorLevel.map { .string($0.rawValue) } ?? .null, "review": statusJSON(event.status, language),
            "comment": event.comment.map(JSONValue.string) ?? .null, "reviewer": .string(event.reviewer), "at": .string(Timestamp.iso(event.at)),
        ]
    }
}
