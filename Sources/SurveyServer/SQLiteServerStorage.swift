import Foundation
import GRDB
import SurveyCore
import SurveyReport
import Synchronization

/// The server's storage in one SQLite file (GRDB `DatabasePool`, WAL,
/// `synchronous = FULL`): enough for a county and more. Each batch is one
/// write transaction, so a crash leaves it wholly stored or wholly absent.
public final class SQLiteServerStorage: ServerStorage {
    public let path: String
    let pool: DatabasePool
    /// The file's identity when it was opened: a database moved or deleted
    /// under a running server would otherwise swallow writes unseen.
    private let identity: (device: UInt64, inode: UInt64)
    private let checkpointer: WALCheckpointer
    /// The report tables' plans by form id, set by `prepareReports`.
    let reportPlans = Mutex<[String: ReportPlan]>([:])

    public var reportDialect: SQLDialect { .sqlite }

    public init(path: String) throws {
        self.path = path
        if let handle = FileHandle(forReadingAtPath: path) {
            let header = (try? handle.read(upToCount: 16)) ?? Data()
            try? handle.close()
            if !header.isEmpty, header != Data("SQLite format 3\u{0}".utf8) {
                throw StorageError(
                    .invalid, L("\(path) 不是 SQLite 数据库;文件未作改动", "\(path) is not an SQLite database; the file was left untouched"))
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // The writer keeps up to 64 MiB of pages, so that the indexes a
            // batch touches stay in memory even with half a million surveys;
            // its checkpoints are the checkpointer's (`WALCheckpointer`).
            // Readers keep SQLite's 2 MiB.
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA cache_size = -65536")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(WALCheckpointer.writerBound)")
            }
        }
        do {
            let previousMask = umask(0o077)
            defer { umask(previousMask) }
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            try Self.migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw StorageError(
                .unavailable,
                L("无法打开数据库 \(path):\(error.message ?? "\(error.resultCode)")", "cannot open the database \(path): \(error.message ?? "\(error.resultCode)")"))
        }
        identity = Self.identity(of: path) ?? (0, 0)
        do {
            checkpointer = try WALCheckpointer(path: path)
        } catch {
            throw StorageError(.unavailable, L("无法打开数据库 \(path):\(error)", "cannot open the database \(path): \(error)"))
        }
    }

    static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 server") { db in
            try db.execute(
                sql: """
                    CREATE TABLE token (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        role TEXT NOT NULL CHECK (role IN ('collector', 'viewer', 'admin')),
                        unit TEXT NOT NULL CHECK (length(unit) = 12 AND unit NOT GLOB '*[^0-9]*'),
                        hash TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER
                    );
                    CREATE TABLE unit (
                        code TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        level TEXT NOT NULL,
                        parent TEXT
                    ) WITHOUT ROWID;
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                    INSERT INTO meta (key, value) VALUES ('registry_revision', 0);
                    CREATE TABLE submission (
                        id INTEGER PRIMARY KEY,
                        instance INTEGER NOT NULL,
                        revision INTEGER NOT NULL,
                        replaces INTEGER,
                        form_id TEXT NOT NULL,
                        form_version TEXT NOT NULL,
                        unit TEXT NOT NULL,
                        period TEXT NOT NULL,
                        content_hash TEXT NOT NULL,
                        answers TEXT NOT NULL,
                        received_at INTEGER NOT NULL,
                        finalized_at TEXT,
                        token_id INTEGER
                    );
                    CREATE UNIQUE INDEX submission_revision ON submission (instance, revision);
                    CREATE TABLE instance (
                        id INTEGER PRIMARY KEY,
                        instance_id TEXT NOT NULL UNIQUE,
                        form_id TEXT NOT NULL,
                        unit TEXT NOT NULL,
                        period TEXT NOT NULL,
                        revision INTEGER NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('current', 'held', 'superseded')),
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE UNIQUE INDEX instance_one_current ON instance (form_id, unit, period) WHERE state = 'current';
                    CREATE INDEX instance_unit ON instance (unit, period);
                    CREATE TABLE conflict (
                        id INTEGER PRIMARY KEY,
                        form_id TEXT NOT NULL,
                        unit TEXT NOT NULL,
                        period TEXT NOT NULL,
                        held_instance TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        resolved_at INTEGER,
                        resolved_by TEXT,
                        kept_instance TEXT
                    );
                    CREATE INDEX conflict_unit ON conflict (unit);
                    """)
        }
        // No query reads instance by (unit, period): the one-current index
        // serves them. Dropping it spares every ingest a random index insert
        // (about 16% more surveys per second into a 490,000-survey database).
        migrator.registerMigration("v2 drop instance_unit") { db in
            try db.execute(sql: "DROP INDEX IF EXISTS instance_unit")
        }
        // Period before unit: a new period's surveys fill one part of the
        // index in unit order, instead of a page next to each unit's earlier
        // periods all over it.
        migrator.registerMigration("v3 one current by period") { db in
            try db.execute(
                sql: """
                    DROP INDEX instance_one_current;
                    CREATE UNIQUE INDEX instance_one_current ON instance (form_id, period, unit) WHERE state = 'current';
                    """)
        }
        return migrator
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
    static func date(_ milliseconds: Int64?) -> Date? { milliseconds.map(date) }

    // MARK: Tokens

    /// A token row; nil if its role or unit cannot be read, so that a
    /// damaged row never grants anything.
    static func token(_ row: Row) -> TokenRecord? {
        guard let role = Role(rawValue: row["role"]), let unit = UnitCode(row["unit"] as String) else { return nil }
        return TokenRecord(
            id: row["id"], name: row["name"], role: role, unit: unit,
            createdAt: date(row["created_at"] as Int64), revokedAt: date(row["revoked_at"] as Int64?))
    }

    public func createToken(name: String, role: Role, unit: UnitCode, hash: String) async throws -> TokenRecord {
        try await pool.write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM token WHERE name = ?", arguments: [name]) != nil {
                throw StorageError(.conflict, L("已有名为 “\(name)” 的令牌", "a token named '\(name)' already exists"))
            }
            try db.execute(
                sql: "INSERT INTO token (name, role, unit, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [name, role.rawValue, unit.rawValue, hash, Self.milliseconds(Date())])
            let row = try Row.fetchOne(db, sql: "SELECT * FROM token WHERE id = ?", arguments: [db.lastInsertedRowID])!
            return Self.token(row)!
        }
    }

    public func tokens() async throws -> [TokenRecord] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM token ORDER BY id").compactMap(Self.token) }
    }

    public func revokeToken(_ reference: String) async throws -> TokenRecord? {
        try await pool.write { db in
            let row =
                try Int64(reference).flatMap { try Row.fetchOne(db, sql: "SELECT * FROM token WHERE id = ?", arguments: [$0]) }
                ?? Row.fetchOne(db, sql: "SELECT * FROM token WHERE name = ?", arguments: [reference])
            guard let row else { return nil }
            let id: Int64 = row["id"]
            try db.execute(
                sql: "UPDATE token SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", arguments: [Self.milliseconds(Date()), id])
            return try Row.fetchOne(db, sql: "SELECT * FROM token WHERE id = ?", arguments: [id]).flatMap(Self.token)
        }
    }

    public func principal(tokenHash: String) async throws -> Principal? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM token WHERE hash = ? AND revoked_at IS NULL", arguments: [tokenHash]
            ).flatMap { Self.token($0)?.principal }
        }
    }

    // MARK: Units

    public func replaceUnits(_ units: [OrgUnit]) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM unit")
            let insert = try db.cachedStatement(sql: "INSERT INTO unit (code, name, level, parent) VALUES (?, ?, ?, ?)")
            for unit in units {
                try insert.execute(arguments: [unit.code.rawValue, unit.name, unit.level.rawValue, unit.parent?.rawValue])
            }
            try db.execute(sql: "UPDATE meta SET value = value + 1 WHERE key = 'registry_revision'")
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM unit") ?? 0
        }
    }

    public func units() async throws -> [OrgUnit] {
        try await pool.read { db in
            // A cursor reads one row at a time: a province's registry is
            // hundreds of thousands of rows, and copying them all first would
            // take several times the memory of the units themselves.
            var units: [OrgUnit] = []
            units.reserveCapacity(try Int.fetchOne(db, sql: "SELECT count(*) FROM unit") ?? 0)
            let rows = try Row.fetchCursor(db, sql: "SELECT code, name, level, parent FROM unit ORDER BY code")
            while let row = try rows.next() {
                guard let code = UnitCode(row[0] as String), let level = UnitLevel(rawValue: row[2]) else { continue }
                units.append(OrgUnit(code: code, name: row[1], level: level, parent: (row[3] as String?).flatMap(UnitCode.init)))
            }
            return units
        }
    }

    public func registryRevision() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'registry_revision'") ?? 0 }
    }

    // MARK: Surveys

    public func ingest(_ candidates: [IngestCandidate], by principal: Principal, at time: Date) async throws -> [StoreOutcome] {
        let now = Self.milliseconds(time)
        let plans = reportPlans.withLock { $0 }
        return try await pool.write { db in
            var outcomes: [StoreOutcome] = []
            outcomes.reserveCapacity(candidates.count)
            for candidate in candidates {
                outcomes.append(try Self.apply(candidate, by: principal, now: now, plan: plans[candidate.survey.formID], db: db))
            }
            return outcomes
        }
    }

    /// One survey's rules, inside the batch's transaction.
    static func apply(_ candidate: IngestCandidate, by principal: Principal, now: Int64, plan: ReportPlan?, db: Database) throws -> StoreOutcome {
        let survey = candidate.survey
        let instance = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, form_id, unit, period, revision, state, created_at FROM instance WHERE instance_id = ?"),
            arguments: [survey.instanceID])
        guard let instance else {
            return try create(candidate, by: principal, now: now, plan: plan, db: db)
        }
        let reference: Int64 = instance["id"]
        if let code = UnitCode(instance["unit"] as String), !principal.covers(code) {
            return StoreOutcome(
                .forbidden, L("这个 instance_id 属于令牌范围之外的调查;未保存", "this instance_id belongs to a survey outside the token's scope; nothing was stored"))
        }
        // The same id and revision: a resend, or different content.
        let sameRevision = try db.cachedStatement(sql: "SELECT content_hash FROM submission WHERE instance = ? AND revision = ?")
        if let storedHash = try String.fetchOne(sameRevision, arguments: [reference, survey.revision]) {
            if storedHash == candidate.contentHash {
                return StoreOutcome(.duplicate, L("已收到过同一修订,内容相同", "this revision was already received with the same content"))
            }
            return StoreOutcome(
                .mismatch,
                L(
                    "服务器已有修订 \(survey.revision),内容不同;不会覆盖。请修改后作为新修订发送",
                    "the server holds revision \(survey.revision) with different content; it is never overwritten. Edit the survey to send a new revision"))
        }
        let storedUnit: String = instance["unit"]
        let storedRevision: Int = instance["revision"]
        let storedForm: String = instance["form_id"]
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
        try insertSubmission(candidate, instance: reference, by: principal, now: now, db: db)
        let storedState = InstanceState(rawValue: instance["state"]) ?? .current
        let moved = storedUnit != candidate.unit.rawValue || (instance["period"] as String) != survey.period
        var state = storedState
        var conflictID: Int64?
        if moved || storedState == .superseded {
            // The survey arrives anew where the revision puts it: a held
            // survey that moves leaves its conflict behind (closed, nothing
            // chosen), and a survey that was set aside and is edited comes
            // back to the county's attention. Where another survey is
            // current, it is held; otherwise it is the current one.
            if storedState == .held {
                try db.execute(
                    sql: "UPDATE conflict SET resolved_at = ?, resolved_by = ? WHERE held_instance = ? AND resolved_at IS NULL",
                    arguments: [now, principal.name, survey.instanceID])
            }
            if let other = try currentInstance(form: survey.formID, unit: candidate.unit.rawValue, period: survey.period, db: db),
                other != survey.instanceID
            {
                state = .held
                conflictID = try openConflict(candidate, now: now, db: db)
            } else {
                state = .current
            }
        }
        try db.execute(
            sql: "UPDATE instance SET unit = ?, period = ?, revision = ?, state = ?, updated_at = ? WHERE id = ?",
            arguments: [candidate.unit.rawValue, survey.period, survey.revision, state.rawValue, now, reference])
        let storedPeriod: String = instance["period"]
        try updateReportRow(
            plan: plan, formVersion: survey.formVersion, row: candidate.reportRow, instance: reference, createdAt: instance["created_at"],
            left: storedState == .current && (moved || state != .current) ? (storedUnit, storedPeriod) : nil,
            now: state == .current ? (candidate.unit.rawValue, survey.period) : nil, db: db)
        if conflictID != nil {
            return StoreOutcome(
                .held, L("该单位和报告期已有另一份调查;已保存,待县里处理", "another survey is current for this unit and period; stored and held for the county to resolve"),
                conflictID: conflictID, serverRevision: survey.revision)
        }
        let note = state == .held ? L("(仍待县里处理)", " (still held for the county)") : L("", "")
        return StoreOutcome(
            .updated, L("已保存修订 \(survey.revision)\(note.zh)", "revision \(survey.revision) stored\(note.en ?? "")"), serverRevision: survey.revision)
    }

    static func create(_ candidate: IngestCandidate, by principal: Principal, now: Int64, plan: ReportPlan?, db: Database) throws -> StoreOutcome {
        let survey = candidate.survey
        let current = try currentInstance(form: survey.formID, unit: candidate.unit.rawValue, period: survey.period, db: db)
        let state: InstanceState = current == nil ? .current : .held
        try db.cachedStatement(
            sql: """
                INSERT INTO instance (instance_id, form_id, unit, period, revision, state, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [survey.instanceID, survey.formID, candidate.unit.rawValue, survey.period, survey.revision, state.rawValue, now, now])
        let reference = db.lastInsertedRowID
        try insertSubmission(candidate, instance: reference, by: principal, now: now, db: db)
        if current == nil {
            try updateReportRow(
                plan: plan, formVersion: survey.formVersion, row: candidate.reportRow, instance: reference, createdAt: now, left: nil,
                now: (candidate.unit.rawValue, survey.period), db: db)
        }
        if let current {
            let conflictID = try openConflict(candidate, now: now, db: db)
            return StoreOutcome(
                .held,
                L(
                    "\(candidate.unit) \(survey.period) 已有另一份调查(\(current));已保存,待县里处理",
                    "\(candidate.unit) already has another survey for \(survey.period) (\(current)); stored and held for the county to resolve"),
                conflictID: conflictID, serverRevision: survey.revision)
        }
        return StoreOutcome(.created, L("已保存", "stored"), serverRevision: survey.revision)
    }

    static func insertSubmission(_ candidate: IngestCandidate, instance: Int64, by principal: Principal, now: Int64, db: Database) throws {
        let survey = candidate.survey
        try db.cachedStatement(
            sql: """
                INSERT INTO submission (instance, revision, replaces, form_id, form_version, unit, period, content_hash, answers,
                                        received_at, finalized_at, token_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            instance, survey.revision, survey.replaces, survey.formID, survey.formVersion, candidate.unit.rawValue, survey.period,
            candidate.contentHash, candidate.storedAnswers, now, survey.finalizedAt, principal.tokenID,
        ])
    }

    static func currentInstance(form: String, unit: String, period: String, db: Database) throws -> String? {
        try String.fetchOne(
            db.cachedStatement(sql: "SELECT instance_id FROM instance WHERE form_id = ? AND unit = ? AND period = ? AND state = 'current'"),
            arguments: [form, unit, period])
    }

    static func openConflict(_ candidate: IngestCandidate, now: Int64, db: Database) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO conflict (form_id, unit, period, held_instance, created_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [candidate.survey.formID, candidate.unit.rawValue, candidate.survey.period, candidate.survey.instanceID, now])
        return db.lastInsertedRowID
    }

    static func revision(_ row: Row) -> RevisionRecord {
        RevisionRecord(
            instanceID: row["instance_id"], revision: row["revision"], replaces: row["replaces"], formID: row["form_id"],
            formVersion: row["form_version"], unit: row["unit"], period: row["period"], contentHash: row["content_hash"],
            answers: row["answers"], receivedAt: date(row["received_at"] as Int64), finalizedAt: row["finalized_at"], sentBy: row["sent_by"])
    }

    static let revisionColumns = """
        i.instance_id, s.revision, s.replaces, s.form_id, s.form_version, s.unit, s.period, s.content_hash, s.answers,
        s.received_at, s.finalized_at, (SELECT t.name FROM token t WHERE t.id = s.token_id) AS sent_by
        """

    public func revisions(of instanceID: String) async throws -> [RevisionRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.revisionColumns) FROM submission s JOIN instance i ON i.id = s.instance WHERE i.instance_id = ? ORDER BY s.revision",
                arguments: [instanceID.lowercased()]
            ).map(Self.revision)
        }
    }

    public func survey(_ instanceID: String) async throws -> SurveyRecord? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT \(Self.revisionColumns), i.state FROM instance i
                        JOIN submission s ON s.instance = i.id AND s.revision = i.revision
                        WHERE i.instance_id = ?
                        """, arguments: [instanceID.lowercased()])
            else { return nil }
            return SurveyRecord(latest: Self.revision(row), state: InstanceState(rawValue: row["state"]) ?? .current)
        }
    }

    static let conflictSelect = """
        SELECT c.*, (SELECT i.instance_id FROM instance i
                     WHERE i.form_id = c.form_id AND i.unit = c.unit AND i.period = c.period AND i.state = 'current') AS current_instance
        FROM conflict c
        """

    static func conflict(_ row: Row) -> ConflictRecord {
        ConflictRecord(
            id: row["id"], formID: row["form_id"], unit: row["unit"], period: row["period"], heldInstance: row["held_instance"],
            currentInstance: row["current_instance"], createdAt: date(row["created_at"] as Int64), resolvedAt: date(row["resolved_at"] as Int64?),
            resolvedBy: row["resolved_by"], keptInstance: row["kept_instance"])
    }

    public func conflicts(under unit: UnitCode, includeResolved: Bool) async throws -> [ConflictRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "\(Self.conflictSelect) WHERE c.unit LIKE ? || '%' \(includeResolved ? "" : "AND c.resolved_at IS NULL") ORDER BY c.id",
                arguments: [unit.prefix]
            ).map(Self.conflict)
        }
    }

    public func conflict(_ id: Int64) async throws -> ConflictRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "\(Self.conflictSelect) WHERE c.id = ?", arguments: [id]).map(Self.conflict)
        }
    }

    public func resolveConflict(_ id: Int64, keep: String, by principal: Principal, at time: Date) async throws -> ConflictRecord {
        let now = Self.milliseconds(time)
        let keep = keep.lowercased()
        do {
            return try await resolve(id, keep: keep, by: principal, now: now)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StorageError(
                .conflict, L("冲突 \(id) 的状态已改变;请重新列出冲突", "the surveys of conflict \(id) have changed; list the conflicts again"))
        }
    }

    private func resolve(_ id: Int64, keep: String, by principal: Principal, now: Int64) async throws -> ConflictRecord {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "\(Self.conflictSelect) WHERE c.id = ?", arguments: [id]) else {
                throw StorageError(.notFound, L("没有编号为 \(id) 的冲突", "there is no conflict \(id)"))
            }
            let conflict = Self.conflict(row)
            guard let code = UnitCode(conflict.unit), principal.covers(code) else {
                throw StorageError(.forbidden, L("冲突 \(id) 不在令牌的范围内", "conflict \(id) is outside the token's scope"))
            }
            if conflict.resolvedAt != nil {
                throw StorageError(.conflict, L("冲突 \(id) 已处理过", "conflict \(id) is already resolved"))
            }
            // The held survey must still be held where the conflict says.
            let held = try Row.fetchOne(
                db, sql: "SELECT form_id, unit, period, state FROM instance WHERE instance_id = ?", arguments: [conflict.heldInstance])
            guard let held, held["state"] == "held", held["form_id"] == conflict.formID, held["unit"] == conflict.unit,
                held["period"] == conflict.period
            else {
                throw StorageError(
                    .conflict,
                    L("冲突 \(id) 中暂存的调查已改变(移到别处或已处理);请重新列出冲突", "the held survey of conflict \(id) has changed (moved or settled); list the conflicts again"))
            }
            let candidates = [conflict.heldInstance] + (conflict.currentInstance.map { [$0] } ?? [])
            guard candidates.contains(keep) else {
                throw StorageError(
                    .invalid,
                    L("keep 应为 \(candidates.joined(separator: " 或 ")) 之一", "keep must be one of \(candidates.joined(separator: ", "))"))
            }
            let other = candidates.first { $0 != keep }
            if let other {
                try db.execute(
                    sql: "UPDATE instance SET state = 'superseded', updated_at = ? WHERE instance_id = ?", arguments: [now, other])
            }
            try db.execute(sql: "UPDATE instance SET state = 'current', updated_at = ? WHERE instance_id = ?", arguments: [now, keep])
            // The report row becomes the kept survey's.
            if let plan = reportPlans.withLock({ $0[conflict.formID] }),
                let kept = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT i.id, i.created_at, s.form_version, s.answers FROM instance i
                        JOIN submission s ON s.instance = i.id AND s.revision = i.revision WHERE i.instance_id = ?
                        """, arguments: [keep])
            {
                try Self.updateReportRow(
                    plan: plan, formVersion: kept["form_version"], row: plan.row(version: kept["form_version"], answers: kept["answers"]),
                    instance: kept["id"], createdAt: kept["created_at"], left: nil, now: (conflict.unit, conflict.period), db: db)
            }
            try db.execute(
                sql: "UPDATE conflict SET resolved_at = ?, resolved_by = ?, kept_instance = ? WHERE id = ?",
                arguments: [now, principal.name, keep, id])
            return Self.conflict(try Row.fetchOne(db, sql: "\(Self.conflictSelect) WHERE c.id = ?", arguments: [id])!)
        }
    }

    public func counts() async throws -> StorageCounts {
        try await pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM submission) AS revisions,
                           (SELECT count(*) FROM instance) AS instances,
                           (SELECT count(*) FROM instance WHERE state = 'current') AS current,
                           (SELECT count(*) FROM instance WHERE state = 'held') AS held,
                           (SELECT count(*) FROM conflict WHERE resolved_at IS NULL) AS open_conflicts
                    """)!
            return StorageCounts(
                revisions: row["revisions"], instances: row["instances"], current: row["current"], held: row["held"],
                openConflicts: row["open_conflicts"])
        }
    }

    public func checkHealth() async throws {
        guard let now = Self.identity(of: path), now == identity else {
            throw StorageError(
                .unavailable,
                L("数据库文件 \(path) 已被移走或替换;请重启服务器", "the database file \(path) was moved or replaced; restart the server"))
        }
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'registry_revision'") }
    }
}
