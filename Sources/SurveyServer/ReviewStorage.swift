import Foundation
import SurveyCore
import SurveySQL

/// One survey a reviewer acts on, and the revision the reviewer saw.
public struct ReviewTarget: Sendable, Equatable {
    public var instanceID: String
    public var revision: Int

    public init(instanceID: String, revision: Int) {
        self.instanceID = instanceID
        self.revision = revision
    }
}

/// The answer for one survey of a review request.
public struct ReviewOutcome: Sendable {
    public var instanceID: String
    /// The survey's review after the request (unchanged when refused);
    /// nil when there is no such survey or it is out of scope.
    public var status: ReviewStatus?
    /// The survey's current revision.
    public var revision: Int?
    /// Why nothing was done; nil when it was.
    public var refusal: StorageError?
    /// The decision's event number, when one was made.
    public var event: Int64?
}

/// One review decision, as the history lists it.
public struct ReviewEvent: Sendable, Equatable {
    public var id: Int64
    public var revision: Int
    public var action: ReviewAction
    /// The level the reviewer acted at.
    public var actorLevel: UnitLevel?
    /// The state it left the survey in.
    public var status: ReviewStatus
    public var comment: String?
    public var reviewer: String
    public var address: String?
    public var at: Date
}

/// Which surveys a browse asks for.
public struct SurveyQuery: Sendable, Equatable {
    public var scope: UnitCode
    public var formID: String?
    public var period: String?
    public var review: ReviewState?
    /// With `review`: only those decided at this level (approved by the
    /// township, returned by the county).
    public var reviewLevel: UnitLevel?
    /// nil: every state.
    public var state: InstanceState? = .current
    /// Matches unit codes (from their start) and unit names (anywhere).
    public var text: String?
    /// Only surveys whose current revision has one of these check flags
    /// (`SurveyChecks.Flag` bits); 0: any survey.
    public var flags: Int = 0
    /// The store id after which the page starts.
    public var after: Int64 = 0
    public var limit: Int = 50
    /// Whether each listing carries the survey's answers (for exports).
    public var answers = false

    public init(scope: UnitCode) { self.scope = scope }
}

/// A survey as a list of surveys shows it.
public struct SurveyListing: Sendable, Equatable {
    /// The store's id: the cursor of the next page.
    public var id: Int64
    public var instanceID: String
    public var formID: String
    public var formVersion: String
    public var unit: String
    public var unitName: String?
    public var period: String
    public var revision: Int
    public var state: InstanceState
    public var firstReceivedAt: Date
    /// When the current revision arrived, and which token sent it.
    public var receivedAt: Date
    public var sentBy: String?
    public var review: ReviewStatus
    public var reviewComment: String?
    public var reviewer: String?
    public var reviewedAt: Date?
    /// The current revision's answers as kept (JSON text), when asked for.
    public var answers: String?
    /// What the soft checks found in the current revision (`SurveyChecks.Flag` bits).
    public var flags: Int = 0
}

/// The rules of review by level, apart from storage: which decisions may
/// follow which, at which level.
enum ReviewRules {
    /// The state after `action` by a reviewer at `level` (one of `levels`,
    /// lowest first) on a survey whose review is `current`; `prior` is what
    /// a returned survey was before it was returned.
    static func decide(_ action: ReviewAction, current: ReviewStatus, prior: ReviewStatus?, at level: UnitLevel, levels: [UnitLevel]) -> Result<
        ReviewStatus, StorageError
    > {
        guard let k = levels.firstIndex(of: level) else {
            return .failure(
                StorageError(
                    .forbidden,
                    L(
                        "本表单由\(levels.map(\.label.zh).joined(separator: "、"))审核,\(level.label.zh)级不能审核",
                        "this form is reviewed by the \(levels.map { $0.label.text(.en) }.joined(separator: ", then the ")); a \(level.label.text(.en)) cannot review it"
                    ),
                    code: "not_a_review_level"))
        }
        let index = current.level.flatMap { levels.firstIndex(of: $0) }
        func refuse(_ message: LocalizedText, _ code: String = "review_order") -> Result<ReviewStatus, StorageError> {
            .failure(StorageError(.conflict, message, code: code))
        }
        let stateLabel = current.label
        switch action {
        case .approve:
            switch current.state {
            case .pending:
                if k == 0 { break }
                return refuse(L("须先经\(levels[k - 1].label.zh)审核通过", "the \(levels[k - 1].label.text(.en)) must approve it first"))
            case .approved:
                let j = index ?? -1
                if j == k - 1 { break }
                if j >= k { return refuse(L("这份调查\(stateLabel.zh),无需再审", "it is already \(stateLabel.text(.en))"), "already_reviewed") }
                return refuse(L("须先经\(levels[j + 1].label.zh)审核通过", "the \(levels[j + 1].label.text(.en)) must approve it first"))
            case .accepted:
                return refuse(L("这份调查\(stateLabel.zh),无需再审", "it is already \(stateLabel.text(.en))"), "already_reviewed")
            case .returned:
                return refuse(
                    L("已被退回,等待修改后的新修订(或先撤销退回)", "it was returned; it waits for the corrected revision (or reopen it first)"), "returned")
            }
            return .success(ReviewStatus(k == levels.count - 1 ? .accepted : .approved, at: level))
        case .return:
            switch current.state {
            case .pending:
                break
            case .approved, .accepted:
                let j = index ?? 0
                if j > k {
                    return refuse(
                        L(
                            "这份调查\(stateLabel.zh);须由\(levels[j].label.zh)先撤销",
                            "it is already \(stateLabel.text(.en)); the \(levels[j].label.text(.en)) must reopen it first"))
                }
            case .returned:
                return refuse(L("已被退回", "it was already returned"), "returned")
            }
            return .success(ReviewStatus(.returned, at: level))
        case .reopen:
            switch current.state {
            case .pending:
                return refuse(L("待审核,没有可撤销的决定", "it is pending; there is no decision to reopen"), "nothing_to_reopen")
            case .approved, .accepted, .returned:
                let j = index ?? 0
                if j > k {
                    return refuse(
                        L(
                            "这是\(levels[j].label.zh)的决定,\(level.label.zh)级不能撤销",
                            "that decision is the \(levels[j].label.text(.en))'s; a \(level.label.text(.en)) cannot reopen it"))
                }
                if current.state == .returned { return .success(prior ?? .pending) }
                return .success(j == 0 ? .pending : ReviewStatus(.approved, at: levels[j - 1]))
            }
        }
    }

    /// The status a reviewer at `level` approves from, when `levels` (lowest
    /// first) include it: pending at the first level, approved by the level
    /// below at the next, as `decide` has it.
    static func awaiting(at level: UnitLevel, levels: [UnitLevel]) -> ReviewStatus? {
        guard let k = levels.firstIndex(of: level) else { return nil }
        return k == 0 ? .pending : ReviewStatus(.approved, at: levels[k - 1])
    }

    static func status(state: String?, level: String?) -> ReviewStatus? {
        guard let state = state.flatMap(ReviewState.init(rawValue:)) else { return nil }
        return ReviewStatus(state, at: level.flatMap(UnitLevel.init(rawValue:)))
    }

    static let instanceByID =
        "SELECT i.id, i.unit, i.revision, i.state, s.form_id, s.form_version FROM instance i JOIN submission s ON s.instance = i.id AND s.revision = i.revision WHERE i.instance_id = ?"

    /// One survey's review, inside the request's transaction.
    static func apply(
        _ target: ReviewTarget, action: ReviewAction, comment: String?, by actor: Actor, now: Int64, levels: (String, String) -> [UnitLevel],
        session: any SQLSession
    ) throws -> ReviewOutcome {
        let id = target.instanceID.lowercased()
        var outcome = ReviewOutcome(instanceID: id)
        func refused(_ error: StorageError) -> ReviewOutcome {
            outcome.refusal = error
            return outcome
        }
        // PostgreSQL: the instance stays locked to the end of the
        // transaction, so that a new revision arriving meanwhile waits.
        let lock = session.dialect == .postgres ? " FOR UPDATE OF i" : ""
        guard let row = try session.one(instanceByID + lock, [.text(id)]) else {
            return refused(StorageError(.notFound, L("没有调查 \(id)", "there is no survey \(id)"), code: "not_found"))
        }
        guard let unit = UnitCode(row.text(1)), actor.covers(unit) else {
            return refused(StorageError(.forbidden, L("这份调查不在 \(actor.unit) 的范围内", "this survey is outside the scope \(actor.unit)"), code: "forbidden"))
        }
        let reference = row.integer(0)
        let revision = Int(row.integer(2))
        outcome.revision = revision
        let review = try session.one(
            "SELECT revision, state, level, prior_state, prior_level FROM review WHERE instance = ?", [.integer(reference)])
        let current =
            review.flatMap { Int($0.integer(0)) == revision ? status(state: $0.text(1), level: $0.optionalText(2)) : nil } ?? .pending
        outcome.status = current
        guard row.text(3) == InstanceState.current.rawValue else {
            return refused(
                StorageError(
                    .conflict, L("这份调查暂存待处理冲突,不是当前调查;请先处理冲突", "this survey is held in a conflict, not current; resolve the conflict first"),
                    code: "not_current"))
        }
        guard target.revision == revision else {
            return refused(
                StorageError(
                    .conflict,
                    L(
                        "你看的是修订 \(target.revision),服务器现在是修订 \(revision);请重新打开调查再审核",
                        "you saw revision \(target.revision) but the server now holds revision \(revision); open the survey again before reviewing"),
                    code: "stale_revision"))
        }
        let comment = comment?.trimmingSpaces
        let note = comment?.isEmpty == false ? comment : nil
        if action == .return, note == nil {
            return refused(StorageError(.invalid, L("退回须写明原因(comment)", "a return needs a comment saying why"), code: "comment_required"))
        }
        guard let level = actor.unit.level else {
            return refused(
                StorageError(.forbidden, L("全国范围的操作员不审核调查", "the operator of the whole country does not review surveys"), code: "not_a_review_level"))
        }
        let prior = review.flatMap { status(state: $0.optionalText(3), level: $0.optionalText(4)) }
        let decided = decide(action, current: current, prior: prior, at: level, levels: levels(row.text(4), row.text(5)))
        let next: ReviewStatus
        switch decided {
        case .failure(let error): return refused(error)
        case .success(let status): next = status
        }
        let saved = action == .return ? current : (next.state == .returned ? prior : nil)
        let event = try session.insert(
            """
            INSERT INTO review_event (instance, revision, action, actor_level, state, level, comment, reviewer, token_id, address, at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(reference), .integer(Int64(revision)), .text(action.rawValue), .text(level.rawValue), .text(next.state.rawValue),
                .of(next.level?.rawValue), .of(note), .text(actor.name), .of(actor.tokenID), .of(actor.address), .integer(now),
            ])
        try session.execute(
            """
            INSERT INTO review (instance, revision, state, level, prior_state, prior_level, comment, reviewer, reviewed_at, event)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (instance) DO UPDATE SET revision = excluded.revision, state = excluded.state, level = excluded.level,
                prior_state = excluded.prior_state, prior_level = excluded.prior_level, comment = excluded.comment,
                reviewer = excluded.reviewer, reviewed_at = excluded.reviewed_at, event = excluded.event
            """,
            [
                .integer(reference), .integer(Int64(revision)), .text(next.state.rawValue), .of(next.level?.rawValue),
                .of(saved?.state.rawValue), .of(saved?.level?.rawValue), .of(note), .text(actor.name), .integer(now), .integer(event),
            ])
        var details = JSONObject()
        details.appendUnique("revision", .integer(revision))
        details.appendUnique("from", .string(current.description))
        details.appendUnique("to", .string(next.description))
        if let note { details.appendUnique("comment", .string(note)) }
        try AuditLog.insert(
            AuditEntry(actor: actor, action: "review.\(action.rawValue)", target: id, unit: unit.rawValue, details: details), now: now, session: session)
        outcome.status = next
        outcome.event = event
        return outcome
    }
}

extension RelationalStorage {
    public func review(
        _ targets: [ReviewTarget], action: ReviewAction, comment: String?, by actor: Actor, at time: Date,
        levels: @escaping @Sendable (_ formID: String, _ version: String) -> [UnitLevel]
    ) async throws -> [ReviewOutcome] {
        let now = StorageTime.milliseconds(time)
        return try await sql.write { session in
            try targets.map { try ReviewRules.apply($0, action: action, comment: comment, by: actor, now: now, levels: levels, session: session) }
        }
    }

    public func reviewHistory(of instanceID: String) async throws -> [ReviewEvent] {
        try await sql.read { session in
            try session.all(
                """
                SELECT e.id, e.revision, e.action, e.actor_level, e.state, e.level, e.comment, e.reviewer, e.address, e.at
                FROM review_event e JOIN instance i ON i.id = e.instance WHERE i.instance_id = ? ORDER BY e.id
                """, [.text(instanceID.lowercased())]
            ).compactMap { row in
                guard let action = ReviewAction(rawValue: row.text(2)), let status = ReviewRules.status(state: row.text(4), level: row.optionalText(5))
                else { return nil }
                return ReviewEvent(
                    id: row.integer(0), revision: Int(row.integer(1)), action: action, actorLevel: UnitLevel(rawValue: row.text(3)), status: status,
                    comment: row.optionalText(6), reviewer: row.text(7), address: row.optionalText(8), at: StorageTime.date(row.integer(9)))
            }
        }
    }

    public func reviewNotices(after: Int64, limit: Int, under unit: UnitCode, sentBy tokenID: Int64?) async throws -> [ReviewNotice] {
        var query = SQLQuery(
            sql: """
                SELECT e.id, i.instance_id, e.revision, e.state, e.level, e.action, e.comment, e.reviewer, e.at
                FROM review_event e JOIN instance i ON i.id = e.instance
                WHERE e.id > ? AND i.unit LIKE ?
                """, arguments: [.integer(after), .text(unit.prefix + "%")])
        if let tokenID {
            query.append(" AND EXISTS (SELECT 1 FROM submission s WHERE s.instance = e.instance AND s.token_id = ?)", .integer(tokenID))
        }
        query.append(" ORDER BY e.id LIMIT ?", .integer(Int64(limit)))
        let page = query
        return try await sql.read { session in
            try session.all(page).compactMap { row in
                guard let status = ReviewRules.status(state: row.text(3), level: row.optionalText(4)), let action = ReviewAction(rawValue: row.text(5))
                else { return nil }
                return ReviewNotice(
                    event: row.integer(0), instanceID: row.text(1), revision: Int(row.integer(2)), status: status, action: action,
                    comment: row.optionalText(6), reviewer: row.text(7), at: Timestamp.iso(StorageTime.date(row.integer(8))))
            }
        }
    }

    public func reviewCounts(under unit: UnitCode, formID: String, period: String) async throws -> [ReviewStatus: Int] {
        let counts = SQLQuery(
            sql: """
                SELECT CASE WHEN r.instance IS NULL OR r.revision <> i.revision THEN 'pending' ELSE r.state END,
                       CASE WHEN r.instance IS NULL OR r.revision <> i.revision THEN NULL ELSE r.level END, COUNT(*)
                FROM instance i LEFT JOIN review r ON r.instance = i.id
                WHERE i.form_id = ? AND i.period = ? AND i.state = 'current' AND i.unit LIKE ?
                GROUP BY 1, 2
                """, arguments: [.text(formID), .text(period), .text(unit.prefix + "%")])
        return try await sql.read { session in
            var result: [ReviewStatus: Int] = [:]
            for row in try session.all(counts) {
                guard let status = ReviewRules.status(state: row.text(0), level: row.optionalText(1)) else { continue }
                result[status, default: 0] += Int(row.integer(2))
            }
            return result
        }
    }

    public func browse(_ query: SurveyQuery) async throws -> [SurveyListing] {
        // By id, as the pages go: SQLite would rather read a form's and
        // period's current surveys from their partial index and sort them
        // all, for each page (see `currentSurveys`).
        let byID = self.sql.dialect == .sqlite ? " NOT INDEXED" : ""
        var sql = SQLQuery(
            sql: """
                SELECT i.id, i.instance_id, i.form_id, s.form_version, i.unit, u.name, i.period, i.revision, i.state, i.created_at, s.received_at,
                       (SELECT t.name FROM token t WHERE t.id = s.token_id), r.revision, r.state, r.level, r.comment, r.reviewer, r.reviewed_at,
                       s.flags\(query.answers ? ", s.answers" : "")
                FROM instance i\(byID)
                JOIN submission s ON s.instance = i.id AND s.revision = i.revision
                LEFT JOIN unit u ON u.code = i.unit
                LEFT JOIN review r ON r.instance = i.id
                WHERE i.id > ? AND i.unit LIKE ?
                """, arguments: [.integer(query.after), .text(query.scope.prefix + "%")])
        if let form = query.formID { sql.append(" AND i.form_id = ?", .text(form)) }
        if let period = query.period { sql.append(" AND i.period = ?", .text(period)) }
        if let state = query.state { sql.append(" AND i.state = ?", .text(state.rawValue)) }
        if query.flags != 0 { sql.append(" AND (s.flags & ?) <> 0", .integer(Int64(query.flags))) }
        switch query.review {
        case nil: break
        case .pending?: sql.append(" AND (r.instance IS NULL OR r.revision <> i.revision OR r.state = 'pending')")
        case let review?:
            sql.append(" AND r.revision = i.revision AND r.state = ?", .text(review.rawValue))
            if let level = query.reviewLevel { sql.append(" AND r.level = ?", .text(level.rawValue)) }
        }
        if let text = query.text?.trimmingSpaces, !text.isEmpty {
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(
                of: "_", with: "\\_")
            sql.append(" AND (i.unit LIKE ? ESCAPE '\\' OR u.name LIKE ? ESCAPE '\\')", .text(escaped + "%"), .text("%" + escaped + "%"))
        }
        sql.append(" ORDER BY i.id LIMIT ?", .integer(Int64(query.limit)))
        let page = sql
        return try await self.sql.read { session in
            try session.all(page).map { row in
                let revision = Int(row.integer(7))
                let reviewed = row.optionalInteger(12).map { Int($0) == revision } ?? false
                return SurveyListing(
                    id: row.integer(0), instanceID: row.text(1), formID: row.text(2), formVersion: row.text(3), unit: row.text(4),
                    unitName: row.optionalText(5),
                    period: row.text(6), revision: revision, state: InstanceState(rawValue: row.text(8)) ?? .current,
                    firstReceivedAt: StorageTime.date(row.integer(9)), receivedAt: StorageTime.date(row.integer(10)), sentBy: row.optionalText(11),
                    review: reviewed ? (ReviewRules.status(state: row.optionalText(13), level: row.optionalText(14)) ?? .pending) : .pending,
                    reviewComment: reviewed ? row.optionalText(15) : nil, reviewer: reviewed ? row.optionalText(16) : nil,
                    reviewedAt: reviewed ? StorageTime.date(row.optionalInteger(17)) : nil, answers: query.answers ? row.text(19) : nil,
                    flags: Int(row.integer(18)))
            }
        }
    }
}
