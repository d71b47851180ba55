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

        routes.on(.get, "/api/v1/surveys", requires: .read) { request, _, principal -> Response in
            let page = try await service.browse(try query(request, principal), for: principal)
            let language = RequestLanguage.of(request)
            return JSONResponse.make([
                "surveys": .array(page.surveys.map { listingJSON($0, township: page.townships[$0.unit], language) }),
                "next_cursor": page.next.map { .string(String($0)) } ?? .null,
            ])
        }

        // The latest revision as stored, and as a person reads it: the
        // answers by section, the review and the levels that approve.
        routes.on(.get, "/api/v1/surveys/{instance_id}", requires: .read) { request, context, principal -> Response in
            let detail = try await service.detail(of: try context.parameters.require("instance_id"), for: principal)
            let language = RequestLanguage.of(request)
            var object = revisionJSON(detail.record.latest)
            object["state"] = .string(detail.record.state.rawValue)
            object.appendUnique("unit_name", detail.unitName.map(JSONValue.string) ?? .null)
            object.appendUnique("township", detail.township.map { ["code": .string($0.code.rawValue), "name": .string($0.name)] } ?? .null)
            var review = ReviewRoutes.statusJSON(detail.review, language).objectValue ?? JSONObject()
            review.appendUnique("levels", .array(detail.levels.map { .string($0.rawValue) }))
            review.appendUnique("comment", detail.reviewComment.map(JSONValue.string) ?? .null)
            review.appendUnique("reviewer", detail.reviewer.map(JSONValue.string) ?? .null)
            object.appendUnique("review", .object(review))
            object.appendUnique("readable", .array((detail.revisions.last?.lines ?? []).map { lineJSON($0, language) }))
            object.appendUnique("checks", checksJSON(detail.record.latest, service, language))
            return JSONResponse.make(.object(object))
        }

        // Every revision the caller may see, each with what changed since the one before.
        routes.on(.get, "/api/v1/surveys/{instance_id}/revisions", requires: .read) { request, context, principal -> Response in
            let detail = try await service.detail(of: try context.parameters.require("instance_id"), for: principal)
            let language = RequestLanguage.of(request)
            return JSONResponse.make([
                "instance_id": .string(detail.record.latest.instanceID),
                "revisions": .array(
                    detail.revisions.map { revision in
                        var object = revisionJSON(revision.record)
                        object.appendUnique("changes", .array(revision.changes.map { changeJSON($0, language) }))
                        return .object(object)
                    }),
            ])
        }
        return routes
    }

    /// What the soft checks found in a revision at ingest, with the
    /// warnings' messages in `language`; null when nothing fired.
    static func checksJSON(_ record: RevisionRecord, _ service: SurveyService, _ language: Language) -> JSONValue {
        guard let checks = SurveyChecks.read(record.checks, form: service.catalog.form(record.formID, version: record.formVersion)) else { return .null }
        var object = JSONObject(minimumCapacity: 3)
        object.appendUnique("flags", .array(SurveyChecks.Flag.allCases.filter { checks.flags & $0.rawValue != 0 }.map { .string($0.name) }))
        object.appendUnique(
            "warnings",
            .array(
                checks.warnings.map { warning in
                    [
                        "warning": .string(warning.name), "path": .string(warning.path), "field": .string(warning.field),
                        "message": .string(warning.message.text(language)), "confirmed": .bool(warning.confirmed),
                        "explanation": warning.explanation.map(JSONValue.string) ?? .null,
                    ]
                }))
        object.appendUnique(
            "changes",
            .array(
                checks.changes.map { change in
                    ["field": .string(change.field), "value": .number(change.value), "previous": .number(change.previous)]
                }))
        return .object(object)
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

    /// A browse request's parameters, each checked.
    static func query(_ request: Request, _ principal: Principal) throws(ServiceError) -> SurveyQuery {
        let parameters = request.uri.queryParameters
        func text(_ name: String) -> String? { parameters[name[...]].map(String.init).flatMap { $0.isEmpty ? nil : $0 } }
        func raw(_ name: String) -> String? { RequestFields.raw(request, name) }
        var query = SurveyQuery(scope: try RequestFields.scope(raw("scope"), default: principal.unit))
        query.formID = text("form")
        query.period = text("period")
        // `review=approved@township` says both at once, as the workspace's filter does.
        let review = raw("review")?.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        query.review = try RequestFields.reviewState(review?.first)
        query.reviewLevel = try RequestFields.reviewLevel(review.flatMap { $0.count == 2 ? $0[1] : nil } ?? raw("level"))
        // A pending survey has no decision, so no level to match.
        if query.review == nil || query.review == .pending { query.reviewLevel = nil }
        if let state = raw("state") {
            if state == "all" {
                query.state = nil
            } else if let known = InstanceState(rawValue: state) {
                query.state = known
            } else {
                throw ServiceError(.invalid, "invalid_state", L("state 应为 current、held、superseded 或 all", "state must be current, held, superseded or all"))
            }
        }
        if let q = text("q") {
            guard q.count <= 100 else { throw ServiceError(.invalid, "invalid_q", L("q 最多 100 个字", "q may have at most 100 characters")) }
            query.text = q
        }
        if let flag = raw("flag"), !flag.isEmpty {
            if flag == "any" {
                query.flags = SurveyChecks.Flag.allCases.reduce(0) { $0 | $1.rawValue }
            } else if let known = SurveyChecks.Flag(name: flag) {
                query.flags = known.rawValue
            } else {
                throw ServiceError(
                    .invalid, "invalid_flag", L("flag 应为 unconfirmed、confirmed、changed 或 any", "flag must be unconfirmed, confirmed, changed or any"))
            }
        }
        query.after = try RequestFields.integer(raw("cursor"), name: "cursor", range: 0...RequestFields.largestCursor) ?? 0
        query.limit = Int(try RequestFields.integer(raw("limit"), name: "limit", range: 1...500) ?? 50)
        return query
    }

    static func listingJSON(_ listing: SurveyListing, township: OrgUnit?, _ language: Language) -> JSONValue {
        var object = JSONObject(minimumCapacity: 16)
        object.appendUnique("instance_id", .string(listing.instanceID))
        object.appendUnique("form", .string(listing.formID))
        object.appendUnique("version", .string(listing.formVersion))
        object.appendUnique("unit", .string(listing.unit))
        object.appendUnique("unit_name", listing.unitName.map(JSONValue.string) ?? .null)
        object.appendUnique("township", township.map { ["code": .string($0.code.rawValue), "name": .string($0.name)] } ?? .null)
        object.appendUnique("period", .string(listing.period))
        object.appendUnique("revision", .integer(listing.revision))
        object.appendUnique("state", .string(listing.state.rawValue))
        object.appendUnique("first_received_at", .string(Timestamp.iso(listing.firstReceivedAt)))
        object.appendUnique("received_at", .string(Timestamp.iso(listing.receivedAt)))
        object.appendUnique("sent_by", listing.sentBy.map(JSONValue.string) ?? .null)
        var review = ReviewRoutes.statusJSON(listing.review, language).objectValue ?? JSONObject()
        review.appendUnique("comment", listing.reviewComment.map(JSONValue.string) ?? .null)
        review.appendUnique("reviewer", listing.reviewer.map(JSONValue.string) ?? .null)
        review.appendUnique("reviewed_at", listing.reviewedAt.map { .string(Timestamp.iso($0)) } ?? .null)
        object.appendUnique("review", .object(review))
        object.appendUnique("flags", .array(SurveyChecks.Flag.allCases.filter { listing.flags & $0.rawValue != 0 }.map { .string($0.name) }))
        return .object(object)
    }

    static func lineJSON(_ line: ReadableLine, _ language: Language) -> JSONValue {
        [
            "kind": .string(line.kind.rawValue), "depth": .integer(line.depth), "path": .string(line.path), "label": .string(line.label.text(language)),
            "value": line.value.map { .string($0.text(language)) } ?? .null, "computed": .bool(line.computed),
        ]
    }

    static func changeJSON(_ change: AnswerChange, _ language: Language) -> JSONValue {
        [
            "path": .string(change.path), "label": .string(change.label.text(language)),
            "before": change.before.map { .string($0.text(language)) } ?? .null, "after": change.after.map { .string($0.text(language)) } ?? .null,
        ]
    }
}
