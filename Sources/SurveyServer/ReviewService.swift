import Foundation
import SurveyCore

/// One revision of a survey as a person reads it, and what changed since
/// the revision before.
public struct ReadableRevision: Sendable {
    public var record: RevisionRecord
    /// Empty when the form version is not on the server.
    public var lines: [ReadableLine]
    public var changes: [AnswerChange]
}

/// Everything a reviewer reads about one survey.
public struct SurveyDetail: Sendable {
    public var record: SurveyRecord
    public var unitName: String?
    public var township: OrgUnit?
    public var review: ReviewStatus
    /// The levels that approve this survey's form, lowest first.
    public var levels: [UnitLevel]
    /// The comment and reviewer of the decision that stands, if any.
    public var reviewComment: String?
    public var reviewer: String?
    /// The revisions this caller may see, oldest first, each with its
    /// changes; the last is the current one.
    public var revisions: [ReadableRevision]
    public var history: [ReviewEvent]
}

/// A page of surveys and the cursor of the next page (nil: the last page).
public struct SurveyPage: Sendable {
    public var surveys: [SurveyListing]
    public var next: Int64?

    /// The township each listed survey's unit lies in, by code.
    public var townships: [String: OrgUnit]
}

extension SurveyService {
    /// The most surveys one review request may name.
    public static let maxReviewBatch = 500

    /// The levels that approve surveys of a form version (the form's
    /// latest version when that one is gone).
    public func reviewLevels(formID: String, version: String) -> [UnitLevel] { Self.reviewLevels(catalog, formID: formID, version: version) }

    static func reviewLevels(_ catalog: FormCatalog, formID: String, version: String) -> [UnitLevel] {
        (catalog.form(formID, version: version) ?? catalog.form(formID))?.reviewLevels ?? [.county]
    }

    /// Applies a review action to surveys; a reviewer's or an admin's, at
    /// their unit's level, within their scope. Each survey is answered on
    /// its own.
    public func review(
        _ targets: [ReviewTarget], action: ReviewAction, comment: String?, by principal: Principal, address: String?, at time: Date = Date()
    ) async throws -> [ReviewOutcome] {
        try principal.require(.review)
        guard !targets.isEmpty else { throw ServiceError.invalid(L("没有要审核的调查", "no surveys to review")) }
        guard targets.count <= Self.maxReviewBatch else {
            throw ServiceError(
                .tooLarge, "batch_too_large",
                L(
                    "一次最多审核 \(Self.maxReviewBatch) 份调查,本次有 \(targets.count) 份",
                    "one request may review at most \(Self.maxReviewBatch) surveys; this one has \(targets.count)"),
                details: [("limit", .integer(Self.maxReviewBatch))])
        }
        if let comment, comment.count > 2000 {
            throw ServiceError(.invalid, "comment_too_long", L("意见最多 2000 字", "a comment may have at most 2,000 characters"))
        }
        let catalog = catalog
        return try await storage.review(
            targets, action: action, comment: comment, by: Actor(principal, address: address), at: time,
            levels: { formID, version in Self.reviewLevels(catalog, formID: formID, version: version) })
    }

    /// One survey's review: its new state, or the refusal as an error.
    public func reviewOne(
        _ target: ReviewTarget, action: ReviewAction, comment: String?, by principal: Principal, address: String?, at time: Date = Date()
    ) async throws -> ReviewOutcome {
        let outcome = try await review([target], action: action, comment: comment, by: principal, address: address, at: time)[0]
        if let refusal = outcome.refusal {
            var error = ServiceError(refusal)
            if refusal.code == "stale_revision", let revision = outcome.revision { error.details.append(("current_revision", .integer(revision))) }
            throw error
        }
        return outcome
    }

    /// The review decisions about a survey in `principal`'s scope, oldest first.
    public func reviewHistory(of instanceID: String, for principal: Principal) async throws -> [ReviewEvent] {
        _ = try await survey(instanceID, for: principal)
        return try await storage.reviewHistory(of: instanceID)
    }

    /// The review decisions after event `after` that `principal` may hear
    /// of: a collector, about the surveys its token sent; a reader, about
    /// every survey in scope.
    public func reviewNotices(after: Int64, limit: Int, for principal: Principal) async throws -> [ReviewNotice] {
        try await storage.reviewNotices(
            after: after, limit: limit, under: principal.unit, sentBy: principal.role == .collector ? principal.tokenID : nil)
    }

    /// A page of surveys in `principal`'s scope.
    public func browse(_ query: SurveyQuery, for principal: Principal) async throws -> SurveyPage {
        try principal.require(.read)
        try principal.requireScope(query.scope)
        var asked = query
        asked.limit = query.limit + 1
        var surveys = try await storage.browse(asked)
        let more = surveys.count > query.limit
        if more { surveys.removeLast() }
        let registry = try await registry()
        var townships: [String: OrgUnit] = [:]
        for survey in surveys {
            if let township = UnitCode(survey.unit)?.township, let unit = registry.unit(township) { townships[survey.unit] = unit }
        }
        return SurveyPage(surveys: surveys, next: more ? surveys.last?.id : nil, townships: townships)
    }

    /// One survey as a reviewer reads it: answers by section, revisions
    /// with their changes, the review and its history.
    public func detail(of instanceID: String, for principal: Principal) async throws -> SurveyDetail {
        let record = try await survey(instanceID, for: principal)
        let found = try await revisions(of: instanceID, for: principal)
        let history = try await storage.reviewHistory(of: instanceID)
        let registry = try await registry()
        var revisions: [ReadableRevision] = []
        var previous: [ReadableLine]?
        for revision in found.revisions {
            var lines: [ReadableLine] = []
            if let form = catalog.form(revision.formID, version: revision.formVersion),
                let answers = (try? JSONParser().parse(revision.answers))?.objectValue
            {
                lines = ReadableSurvey.lines(form.settle(answers, today: CivilDate.today(now: revision.receivedAt)))
            }
            revisions.append(ReadableRevision(record: revision, lines: lines, changes: ReadableSurvey.changes(from: previous, to: lines)))
            previous = lines
        }
        let latest = record.latest
        let standing = history.last.flatMap { $0.revision == latest.revision ? $0 : nil }
        let code = UnitCode(latest.unit)
        let township = code?.township.flatMap { registry.unit($0) }
        return SurveyDetail(
            record: record, unitName: code.flatMap { registry.unit($0)?.name }, township: township, review: standing?.status ?? .pending,
            levels: reviewLevels(formID: latest.formID, version: latest.formVersion), reviewComment: standing?.comment, reviewer: standing?.reviewer,
            revisions: revisions, history: history)
    }

    // MARK: Audit

    /// Records an entry in the audit log.
    public func audit(_ entry: AuditEntry) async throws {
        try await storage.recordAudit(entry)
    }

    /// The audit log under `principal`'s unit, newest first; an admin's.
    public func auditLog(for principal: Principal, before: Int64?, limit: Int, action: String?) async throws -> [AuditRecord] {
        try principal.require(.audit)
        return try await storage.audit(under: principal.unit, before: before, limit: limit, action: action)
    }
}

/// A conflict with its rival surveys, as the county compares them.
public struct ConflictDetail: Sendable {
    public var conflict: ConflictRecord
    /// The held survey and the current one (when there still is one).
    public var held: SurveyDetail?
    public var current: SurveyDetail?
    /// How the held survey's answers differ from the current one's.
    public var differences: [AnswerChange]
}

extension SurveyService {
    /// A conflict in `principal`'s scope with its rivals side by side.
    public func conflictDetail(_ id: Int64, for principal: Principal) async throws -> ConflictDetail {
        let conflict = try await conflict(id, for: principal)
        func rival(_ instanceID: String?) async throws -> SurveyDetail? {
            guard let instanceID else { return nil }
            do {
                return try await detail(of: instanceID, for: principal)
            } catch let error as ServiceError where error.kind == .notFound || error.kind == .forbidden {
                return nil
            }
        }
        let held = try await rival(conflict.heldInstance)
        let current = try await rival(conflict.currentInstance == conflict.heldInstance ? nil : conflict.currentInstance)
        let differences =
            held.map { held in ReadableSurvey.changes(from: current?.revisions.last?.lines ?? [], to: held.revisions.last?.lines ?? []) } ?? []
        return ConflictDetail(conflict: conflict, held: held, current: current, differences: differences)
    }
}

/// Where one form's surveys of a period stand under a scope: what a
/// workspace's home shows.
public struct ReviewSummary: Sendable {
    public var form: Form
    public var period: String
    public var scope: UnitCode
    public var counts: [ReviewStatus: Int]
    /// Units under the scope that the form expects a survey from.
    public var expected: Int
    /// The status from which the asking reviewer decides (pending for the
    /// first level, approved by the level below for the next); nil for
    /// one who does not review this form.
    public var awaiting: ReviewStatus?

    public var received: Int { counts.values.reduce(0, +) }
    public var waiting: Int { awaiting.map { counts[$0] ?? 0 } ?? 0 }
    public var returned: Int { counts.filter { $0.key.state == .returned }.values.reduce(0, +) }
    public var accepted: Int { counts.filter { $0.key.state == .accepted }.values.reduce(0, +) }
}

extension SurveyService {
    /// Each published form's review counts for `period` (its current one
    /// when nil) under `principal`'s unit.
    public func reviewSummaries(period: String? = nil, for principal: Principal) async throws -> [ReviewSummary] {
        try principal.require(.read)
        let registry = try await registry()
        var summaries: [ReviewSummary] = []
        for form in catalog.latestForms {
            let id = form.id
            let asked = period ?? Period.current(form.periodType).description
            let counts = try await storage.reviewCounts(under: principal.unit, formID: id, period: asked)
            let expected = registry.units(under: principal.unit, level: form.unitLevel).count
            let awaiting = principal.role.mayReview ? principal.unit.level.flatMap { ReviewRules.awaiting(at: $0, levels: form.reviewLevels) } : nil
            summaries.append(ReviewSummary(form: form, period: asked, scope: principal.unit, counts: counts, expected: expected, awaiting: awaiting))
        }
        return summaries
    }
}
