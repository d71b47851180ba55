import Foundation
import SurveyCore
import SurveySQL

/// The server's storage rules, written once over `SQLEngine`: SQLite and
/// PostgreSQL differ only in their engine and in how they are opened. Each
/// method is one transaction; the rules that must hold across servers (one
/// current survey per form, unit and period; one row per survey revision)
/// are unique constraints, so that a second writer fails rather than
/// doubles, and its engine retries.
protocol RelationalStorage: ServerStorage {}

enum StorageTime {
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
    static func date(_ milliseconds: Int64?) -> Date? { milliseconds.map(date) }
}

extension RelationalStorage {
    // MARK: Tokens

    static var tokenColumnNames: [String] { ["id", "name", "role", "unit", "created_at", "revoked_at"] }
    static var tokenColumns: String { tokenColumnNames.joined(separator: ", ") }

    /// A token row; nil if its role or unit cannot be read, so that a
    /// damaged row never grants anything.
    static func token(_ row: SQLRow) -> TokenRecord? {
        guard let role = Role(rawValue: row.text(2)), let unit = UnitCode(row.text(3)) else { return nil }
        return TokenRecord(
            id: row.integer(0), name: row.text(1), role: role, unit: unit, createdAt: StorageTime.date(row.integer(4)),
            revokedAt: StorageTime.date(row.optionalInteger(5)))
    }

    public func createToken(name: String, role: Role, unit: UnitCode, hash: String) async throws -> TokenRecord {
        do {
            return try await sql.write { session in
                if try session.one("SELECT 1 FROM token WHERE name = ?", [.text(name)]) != nil {
                    throw StorageError(.conflict, L("已有名为 “\(name)” 的令牌", "a token named '\(name)' already exists"))
                }
                let id = try session.insert(
                    "INSERT INTO token (name, role, unit, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                    [.text(name), .text(role.rawValue), .text(unit.rawValue), .text(hash), .integer(StorageTime.milliseconds(Date()))])
                return Self.token(try session.one("SELECT \(Self.tokenColumns) FROM token WHERE id = ?", [.integer(id)])!)!
            }
        } catch let error as SQLError where error.kind == .constraint {
            // Another server made the same name at the same moment.
            throw StorageError(.conflict, L("已有名为 “\(name)” 的令牌", "a token named '\(name)' already exists"))
        }
    }

    public func tokens() async throws -> [TokenRecord] {
        try await sql.read { session in try session.all("SELECT \(Self.tokenColumns) FROM token ORDER BY id").compactMap(Self.token) }
    }

    public func revokeToken(_ reference: String) async throws -> TokenRecord? {
        try await sql.write { session in
            let row =
                try Int64(reference).flatMap { try session.one("SELECT \(Self.tokenColumns) FROM token WHERE id = ?", [.integer($0)]) }
                ?? session.one("SELECT \(Self.tokenColumns) FROM token WHERE name = ?", [.text(reference)])
            guard let row else { return nil }
            let id = row.integer(0)
            try session.execute(
                "UPDATE token SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", [.integer(StorageTime.milliseconds(Date())), .integer(id)])
            // Its sign-ins to the report pages end with it.
            try session.execute("DELETE FROM web_session WHERE token_id = ?", [.integer(id)])
            return try session.one("SELECT \(Self.tokenColumns) FROM token WHERE id = ?", [.integer(id)]).flatMap(Self.token)
        }
    }

    public func principal(tokenHash: String) async throws -> Principal? {
        try await sql.read { session in
            try session.one("SELECT \(Self.tokenColumns) FROM token WHERE hash = ? AND revoked_at IS NULL", [.text(tokenHash)])
                .flatMap { Self.token($0)?.principal }
        }
    }

    // MARK: Sessions

    public func createSession(hash: String, tokenID: Int64, at time: Date, expiresAt: Date) async throws {
        try await sql.write { session in
            let now = StorageTime.milliseconds(time)
            try session.execute("DELETE FROM web_session WHERE expires_at <= ?", [.integer(now)])
            try session.execute(
                "INSERT INTO web_session (hash, token_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                [.text(hash), .integer(tokenID), .integer(now), .integer(StorageTime.milliseconds(expiresAt))])
        }
    }

    public func principal(sessionHash: String, at time: Date) async throws -> Principal? {
        let columns = Self.tokenColumnNames.map { "t." + $0 }.joined(separator: ", ")
        return try await sql.read { session in
            try session.one(
                """
                SELECT \(columns) FROM web_session s JOIN token t ON t.id = s.token_id
                WHERE s.hash = ? AND s.expires_at > ? AND t.revoked_at IS NULL
                """,
                [.text(sessionHash), .integer(StorageTime.milliseconds(time))]
            ).flatMap { Self.token($0)?.principal }
        }
    }

    public func endSession(hash: String) async throws {
        try await sql.write { session in try session.execute("DELETE FROM web_session WHERE hash = ?", [.text(hash)]) }
    }

    // MARK: Units

    public func replaceUnits(_ units: [OrgUnit]) async throws -> Int {
        try await sql.write { session in
            try session.execute("DELETE FROM unit", [])
            for unit in units {
                try session.execute(
                    "INSERT INTO unit (code, name, level, parent) VALUES (?, ?, ?, ?)",
                    [.text(unit.code.rawValue), .text(unit.name), .text(unit.level.rawValue), .of(unit.parent?.rawValue)])
            }
            try session.execute("UPDATE meta SET value = value + 1 WHERE key = ?", [.text("registry_revision")])
            return Int(try session.one("SELECT count(*) FROM unit")?.integer(0) ?? 0)
        }
    }

    public func units() async throws -> [OrgUnit] {
        try await sql.read { session in
            // Rows are read one at a time: a province's registry is hundreds
            // of thousands of rows.
            var units: [OrgUnit] = []
            units.reserveCapacity(Int(try session.one("SELECT count(*) FROM unit")?.integer(0) ?? 0))
            try session.forEach("SELECT code, name, level, parent FROM unit ORDER BY code", []) { row in
                if let code = UnitCode(row.text(0)), let level = UnitLevel(rawValue: row.text(2)) {
                    units.append(OrgUnit(code: code, name: row.text(1), level: level, parent: row.optionalText(3).flatMap(UnitCode.init)))
                }
                return true
            }
            return units
        }
    }

    public func unit(_ code: UnitCode) async throws -> (unit: OrgUnit?, registrySize: Int) {
        try await sql.read { session in
            let size = Int(try session.one("SELECT count(*) FROM unit")?.integer(0) ?? 0)
            let row = try session.one("SELECT code, name, level, parent FROM unit WHERE code = ?", [.text(code.rawValue)])
            let unit = row.flatMap { row -> OrgUnit? in
                guard let code = UnitCode(row.text(0)), let level = UnitLevel(rawValue: row.text(2)) else { return nil }
                return OrgUnit(code: code, name: row.text(1), level: level, parent: row.optionalText(3).flatMap(UnitCode.init))
            }
            return (unit, size)
        }
    }

    public func registryRevision() async throws -> Int {
        try await sql.read { session in
            Int(try session.one("SELECT value FROM meta WHERE key = ?", [.text("registry_revision")])?.integer(0) ?? 0)
        }
    }

    // MARK: Surveys

    public func ingest(
        _ candidates: [IngestCandidate], by principal: Principal, at time: Date, hook: @escaping CurrentSurveyHook,
        finish: (@Sendable (any SQLSession) throws -> Void)? = nil
    ) async throws
        -> [StoreOutcome]
    {
        let now = StorageTime.milliseconds(time)
        return try await sql.write { session in
            var outcomes: [StoreOutcome] = []
            outcomes.reserveCapacity(candidates.count)
            for candidate in candidates {
                outcomes.append(try SurveyRules.apply(candidate, by: principal, now: now, hook: hook, session: session))
            }
            try finish?(session)
            return outcomes
        }
    }

    static var revisionColumns: String {
        """
        i.instance_id, s.revision, s.replaces, s.form_id, s.form_version, s.unit, s.period, s.content_hash, s.answers,
        s.received_at, s.finalized_at, (SELECT t.name FROM token t WHERE t.id = s.token_id) AS sent_by, s.checks
        """
    }

    static func revision(_ row: SQLRow) -> RevisionRecord {
        RevisionRecord(
            instanceID: row.text(0), revision: Int(row.integer(1)), replaces: row.optionalInteger(2).map { Int($0) }, formID: row.text(3),
            formVersion: row.text(4), unit: row.text(5), period: row.text(6), contentHash: row.text(7), answers: row.text(8),
            receivedAt: StorageTime.date(row.integer(9)), finalizedAt: row.optionalText(10), sentBy: row.optionalText(11), checks: row.optionalText(12))
    }

    public func revisions(of instanceID: String) async throws -> [RevisionRecord] {
        try await sql.read { session in
            try session.all(
                "SELECT \(Self.revisionColumns) FROM submission s JOIN instance i ON i.id = s.instance WHERE i.instance_id = ? ORDER BY s.revision",
                [.text(instanceID.lowercased())]
            ).map(Self.revision)
        }
    }

    public func survey(_ instanceID: String) async throws -> SurveyRecord? {
        try await sql.read { session in
            guard
                let row = try session.one(
                    """
                    SELECT \(Self.revisionColumns), i.state FROM instance i
                    JOIN submission s ON s.instance = i.id AND s.revision = i.revision
                    WHERE i.instance_id = ?
                    """, [.text(instanceID.lowercased())])
            else { return nil }
            return SurveyRecord(latest: Self.revision(row), state: InstanceState(rawValue: row.text(13)) ?? .current)
        }
    }

    public func conflicts(under unit: UnitCode, includeResolved: Bool) async throws -> [ConflictRecord] {
        try await sql.read { session in
            try session.all(
                "\(SurveyRules.conflictSelect) WHERE c.unit LIKE ? \(includeResolved ? "" : "AND c.resolved_at IS NULL") ORDER BY c.id",
                [.text(unit.prefix + "%")]
            ).map(SurveyRules.conflict)
        }
    }

    public func conflict(_ id: Int64) async throws -> ConflictRecord? {
        try await sql.read { session in try session.one("\(SurveyRules.conflictSelect) WHERE c.id = ?", [.integer(id)]).map(SurveyRules.conflict) }
    }

    public func resolveConflict(
        _ id: Int64, keep: String, comment: String?, by actor: Actor, at time: Date,
        reportRow: @escaping @Sendable (_ formID: String, _ version: String, _ answers: String) -> [SQLValue]?, hook: @escaping CurrentSurveyHook
    ) async throws -> ConflictRecord {
        let now = StorageTime.milliseconds(time)
        let keep = keep.lowercased()
        do {
            return try await sql.write { session in
                try SurveyRules.resolve(id, keep: keep, comment: comment, by: actor, now: now, reportRow: reportRow, hook: hook, session: session)
            }
        } catch let error as SQLError where error.kind == .constraint {
            throw StorageError(
                .conflict, L("冲突 \(id) 的状态已改变;请重新列出冲突", "the surveys of conflict \(id) have changed; list the conflicts again"))
        }
    }

    public func counts() async throws -> StorageCounts {
        try await sql.read { session in
            let row = try session.one(
                """
                SELECT (SELECT count(*) FROM submission), (SELECT count(*) FROM instance),
                       (SELECT count(*) FROM instance WHERE state = 'current'), (SELECT count(*) FROM instance WHERE state = 'held'),
                       (SELECT count(*) FROM conflict WHERE resolved_at IS NULL)
                """)!
            return StorageCounts(
                revisions: Int(row.integer(0)), instances: Int(row.integer(1)), current: Int(row.integer(2)), held: Int(row.integer(3)),
                openConflicts: Int(row.integer(4)))
        }
    }

    public func currentSurveys(formID: String, after: Int64, limit: Int, in session: any SQLSession) throws
        -> [(id: Int64, unit: String, period: String, createdAt: Int64, formVersion: String, answers: String)]
    {
        // By id: the bound on `s.instance` too lets PostgreSQL's merge join
        // start at the page instead of reading every submission before it
        // (each page took 0.7 s at 500,000 surveys). SQLite, without
        // statistics, would rather read every current survey of the form
        // from its partial index and sort them, for each page (1.4 to 6 s a
        // page at 980,000 surveys): NOT INDEXED keeps it on the id.
        let byID = session.dialect == .sqlite ? " NOT INDEXED" : ""
        return try session.all(
            """
            SELECT i.id, i.unit, i.period, i.created_at, s.form_version, s.answers
            FROM instance i\(byID) JOIN submission s ON s.instance = i.id AND s.revision = i.revision
            WHERE i.form_id = ? AND i.state = 'current' AND i.id > ? AND s.instance > ?
            ORDER BY i.id LIMIT ?
            """, [.text(formID), .integer(after), .integer(after), .integer(Int64(limit))]
        ).map { row in (row.integer(0), row.text(1), row.text(2), row.integer(3), row.text(4), row.text(5)) }
    }

    /// A cheap query that proves the database answers.
    func ping() async throws {
        _ = try await sql.read { session in try session.one("SELECT value FROM meta WHERE key = ?", [.text("registry_revision")]) != nil }
    }
}

/// The ingest and resolution rules, inside one transaction.
enum SurveyRules {
    static var conflictSelect: String {
        """
        SELECT c.id, c.form_id, c.unit, c.period, c.held_instance,
               (SELECT i.instance_id FROM instance i
                WHERE i.form_id = c.form_id AND i.unit = c.unit AND i.period = c.period AND i.state = 'current') AS current_instance,
               c.created_at, c.resolved_at, c.resolved_by, c.kept_instance, c.comment
        FROM conflict c
        """
    }

    static func conflict(_ row: SQLRow) -> ConflictRecord {
        ConflictRecord(
            id: row.integer(0), formID: row.text(1), unit: row.text(2), period: row.text(3), heldInstance: row.text(4),
            currentInstance: row.optionalText(5), createdAt: StorageTime.date(row.integer(6)), resolvedAt: StorageTime.date(row.optionalInteger(7)),
            resolvedBy: row.optionalText(8), keptInstance: row.optionalText(9), comment: row.optionalText(10))
    }

    static let instanceByID = "SELECT id, form_id, unit, period, revision, state, created_at FROM instance WHERE instance_id = ?"
    static let instanceLocked = instanceByID + " FOR UPDATE"

    /// One survey's rules, inside the batch's transaction.
    static func apply(_ candidate: IngestCandidate, by principal: Principal, now: Int64, hook: CurrentSurveyHook, session: any SQLSession) throws
        -> StoreOutcome
    {
        let survey = candidate.survey
        // PostgreSQL: the row stays locked to the end of the transaction, so
        // that a second server holding a later revision of the same survey
        // waits and then reads it as this one leaves it. (SQLite has one
        // writer at a time.)
        let instance = try session.one(session.dialect == .postgres ? instanceLocked : instanceByID, [.text(survey.instanceID)])
        guard let instance else {
            return try create(candidate, by: principal, now: now, hook: hook, session: session)
        }
        let reference = instance.integer(0)
        let storedForm = instance.text(1)
        let storedUnit = instance.text(2)
        let storedPeriod = instance.text(3)
        let storedRevision = Int(instance.integer(4))
        if let code = UnitCode(storedUnit), !principal.covers(code) {
            return StoreOutcome(
                .forbidden, L("这个 instance_id 属于令牌范围之外的调查;未保存", "this instance_id belongs to a survey outside the token's scope; nothing was stored"))
        }
        // The same id and revision: a resend, or different content.
        if let stored = try session.one(
            "SELECT content_hash FROM submission WHERE instance = ? AND revision = ?", [.integer(reference), .integer(Int64(survey.revision))])
        {
            if stored.text(0) == candidate.contentHash {
                // A resend of a held survey (its first answer lost on the
                // way) is still held: the device must not count it as sent.
                if instance.text(5) == InstanceState.held.rawValue {
                    let conflict = try session.one(
                        "SELECT id FROM conflict WHERE held_instance = ? AND resolved_at IS NULL ORDER BY id DESC LIMIT 1", [.text(survey.instanceID)])
                    return StoreOutcome(
                        .held,
                        L("已收到过同一修订;仍待县里处理", "this revision was already received; it is still held for the county to resolve"),
                        conflictID: conflict?.integer(0), serverRevision: storedRevision)
                }
                return StoreOutcome(.duplicate, L("已收到过同一修订,内容相同", "this revision was already received with the same content"))
            }
            return StoreOutcome(
                .mismatch,
                L(
                    "服务器已有修订 \(survey.revision),内容不同;不会覆盖。请修改后作为新修订发送",
                    "the server holds revision \(survey.revision) with different content; it is never overwritten. Edit the survey to send a new revision"))
        }
        if storedForm != survey.formID {
            return StoreOutcome(
                .mismatch,
                L(
                    "该 instance_id 属于表单 “\(storedForm)”,不能改为 “\(survey.formID)”",
                    "this instance_id belongs to form '\(storedForm)'; it cannot become '\(survey.formID)'"))
        }
        if survey.revision < storedRevision {
            return StoreOutcome(
                .stale, L("服务器已有更新的修订 \(storedRevision)", "the server already holds a newer revision, \(storedRevision)"),
                serverRevision: storedRevision)
        }
        try insertSubmission(candidate, instance: reference, by: principal, now: now, session: session)
        let storedState = InstanceState(rawValue: instance.text(5)) ?? .current
        let moved = storedUnit != candidate.unit.rawValue || storedPeriod != survey.period
        var state = storedState
        var conflictID: Int64?
        if moved || storedState == .superseded {
            // The survey arrives anew where the revision puts it: a held
            // survey that moves leaves its conflict behind (closed, nothing
            // chosen), and a survey that was set aside and is edited comes
            // back to the county's attention. Where another survey is
            // current, it is held; otherwise it is the current one.
            if storedState == .held {
                try session.execute(
                    "UPDATE conflict SET resolved_at = ?, resolved_by = ? WHERE held_instance = ? AND resolved_at IS NULL",
                    [.integer(now), .text(principal.name), .text(survey.instanceID)])
            }
            if let other = try currentInstance(form: survey.formID, unit: candidate.unit.rawValue, period: survey.period, session: session),
                other != survey.instanceID
            {
                state = .held
                conflictID = try openConflict(candidate, now: now, session: session)
            } else {
                state = .current
            }
        }
        try session.execute(
            "UPDATE instance SET unit = ?, period = ?, revision = ?, state = ?, updated_at = ? WHERE id = ?",
            [
                .text(candidate.unit.rawValue), .text(survey.period), .integer(Int64(survey.revision)), .text(state.rawValue), .integer(now),
                .integer(reference),
            ])
        try hook(
            CurrentSurveyChange(
                formID: survey.formID, formVersion: survey.formVersion, reportRow: candidate.reportRow, instance: reference,
                createdAt: instance.integer(6), left: storedState == .current && (moved || state != .current) ? (storedUnit, storedPeriod) : nil,
                now: state == .current ? (candidate.unit.rawValue, survey.period) : nil), session)
        if conflictID != nil {
            return StoreOutcome(
                .held, L("该单位和报告期已有另一份调查;已保存,待县里处理", "another survey is current for this unit and period; stored and held for the county to resolve"),
                conflictID: conflictID, serverRevision: survey.revision)
        }
        let note = state == .held ? L("(仍待县里处理)", " (still held for the county)") : L("", "")
        return StoreOutcome(
            .updated, L("已保存修订 \(survey.revision)\(note.zh)", "revision \(survey.revision) stored\(note.en ?? "")"), serverRevision: survey.revision)
    }

    static func create(_ candidate: IngestCandidate, by principal: Principal, now: Int64, hook: CurrentSurveyHook, session: any SQLSession) throws
        -> StoreOutcome
    {
        let survey = candidate.survey
        let current = try currentInstance(form: survey.formID, unit: candidate.unit.rawValue, period: survey.period, session: session)
        let state: InstanceState = current == nil ? .current : .held
        let reference = try session.insert(
            """
            INSERT INTO instance (instance_id, form_id, unit, period, revision, state, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(survey.instanceID), .text(survey.formID), .text(candidate.unit.rawValue), .text(survey.period),
                .integer(Int64(survey.revision)), .text(state.rawValue), .integer(now), .integer(now),
            ])
        try insertSubmission(candidate, instance: reference, by: principal, now: now, session: session)
        if let current {
            let conflictID = try openConflict(candidate, now: now, session: session)
            return StoreOutcome(
                .held,
                L(
                    "\(candidate.unit) \(survey.period) 已有另一份调查(\(current));已保存,待县里处理",
                    "\(candidate.unit) already has another survey for \(survey.period) (\(current)); stored and held for the county to resolve"),
                conflictID: conflictID, serverRevision: survey.revision)
        }
        try hook(
            CurrentSurveyChange(
                formID: survey.formID, formVersion: survey.formVersion, reportRow: candidate.reportRow, instance: reference, createdAt: now,
                left: nil, now: (candidate.unit.rawValue, survey.period)), session)
        return StoreOutcome(.created, L("已保存", "stored"), serverRevision: survey.revision)
    }

    static func insertSubmission(_ candidate: IngestCandidate, instance: Int64, by principal: Principal, now: Int64, session: any SQLSession) throws {
        let survey = candidate.survey
        try session.execute(
            """
            INSERT INTO submission (instance, revision, replaces, form_id, form_version, unit, period, content_hash, answers,
                                    received_at, finalized_at, token_id, checks, flags)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(instance), .integer(Int64(survey.revision)), .of(survey.replaces), .text(survey.formID), .text(survey.formVersion),
                .text(candidate.unit.rawValue), .text(survey.period), .text(candidate.contentHash), .text(candidate.storedAnswers),
                .integer(now), .of(survey.finalizedAt), .integer(principal.tokenID),
                .of(candidate.checks.map { $0.json.serialized() }), .integer(Int64(candidate.checks?.flags ?? 0)),
            ])
    }

    static func currentInstance(form: String, unit: String, period: String, session: any SQLSession) throws -> String? {
        try session.one(
            "SELECT instance_id FROM instance WHERE form_id = ? AND period = ? AND unit = ? AND state = 'current'", [.text(form), .text(period), .text(unit)]
        )?.text(0)
    }

    static func openConflict(_ candidate: IngestCandidate, now: Int64, session: any SQLSession) throws -> Int64 {
        try session.insert(
            "INSERT INTO conflict (form_id, unit, period, held_instance, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(candidate.survey.formID), .text(candidate.unit.rawValue), .text(candidate.survey.period), .text(candidate.survey.instanceID), .integer(now)])
    }

    static func resolve(
        _ id: Int64, keep: String, comment: String?, by actor: Actor, now: Int64, reportRow: (String, String, String) -> [SQLValue]?, hook: CurrentSurveyHook,
        session: any SQLSession
    ) throws
        -> ConflictRecord
    {
        guard let row = try session.one("\(conflictSelect) WHERE c.id = ?", [.integer(id)]) else {
            throw StorageError(.notFound, L("没有编号为 \(id) 的冲突", "there is no conflict \(id)"))
        }
        let conflict = Self.conflict(row)
        guard let code = UnitCode(conflict.unit), actor.covers(code) else {
            throw StorageError(.forbidden, L("冲突 \(id) 不在令牌的范围内", "conflict \(id) is outside the token's scope"))
        }
        if conflict.resolvedAt != nil {
            throw StorageError(.conflict, L("冲突 \(id) 已处理过", "conflict \(id) is already resolved"))
        }
        // The held survey must still be held where the conflict says.
        let held = try session.one("SELECT form_id, unit, period, state FROM instance WHERE instance_id = ?", [.text(conflict.heldInstance)])
        guard let held, held.text(3) == "held", held.text(0) == conflict.formID, held.text(1) == conflict.unit, held.text(2) == conflict.period
        else {
            throw StorageError(
                .conflict,
                L("冲突 \(id) 中暂存的调查已改变(移到别处或已处理);请重新列出冲突", "the held survey of conflict \(id) has changed (moved or settled); list the conflicts again"))
        }
        let candidates = [conflict.heldInstance] + (conflict.currentInstance.map { [$0] } ?? [])
        guard candidates.contains(keep) else {
            throw StorageError(
                .invalid, L("keep 应为 \(candidates.joined(separator: " 或 ")) 之一", "keep must be one of \(candidates.joined(separator: ", "))"))
        }
        if let other = candidates.first(where: { $0 != keep }) {
            try session.execute("UPDATE instance SET state = 'superseded', updated_at = ? WHERE instance_id = ?", [.integer(now), .text(other)])
        }
        try session.execute("UPDATE instance SET state = 'current', updated_at = ? WHERE instance_id = ?", [.integer(now), .text(keep)])
        // The report row becomes the kept survey's.
        if let kept = try session.one(
            """
            SELECT i.id, i.created_at, s.form_version, s.answers FROM instance i
            JOIN submission s ON s.instance = i.id AND s.revision = i.revision WHERE i.instance_id = ?
            """, [.text(keep)])
        {
            try hook(
                CurrentSurveyChange(
                    formID: conflict.formID, formVersion: kept.text(2), reportRow: reportRow(conflict.formID, kept.text(2), kept.text(3)),
                    instance: kept.integer(0), createdAt: kept.integer(1), left: nil, now: (conflict.unit, conflict.period)), session)
        }
        let note = comment?.trimmingSpaces
        try session.execute(
            "UPDATE conflict SET resolved_at = ?, resolved_by = ?, kept_instance = ?, comment = ? WHERE id = ?",
            [.integer(now), .text(actor.name), .text(keep), .of(note?.isEmpty == false ? note : nil), .integer(id)])
        var details = JSONObject()
        details.appendUnique("kept", .string(keep))
        if let other = candidates.first(where: { $0 != keep }) { details.appendUnique("set_aside", .string(other)) }
        if let note, !note.isEmpty { details.appendUnique("comment", .string(note)) }
        try AuditLog.insert(
            AuditEntry(actor: actor, action: "conflict.resolve", target: String(id), unit: conflict.unit, details: details), now: now, session: session)
        return Self.conflict(try session.one("\(conflictSelect) WHERE c.id = ?", [.integer(id)])!)
    }
}
