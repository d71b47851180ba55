import Foundation
import GRDB
import SurveyCore

/// A problem with the local survey database, said so a person can act on it.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case notADatabase, cannotOpen, outdated, notFound, ambiguous, duplicate, notAllowed, conflict, database }
    public var kind: Kind
    public var message: LocalizedText

    public init(_ kind: Kind, _ message: LocalizedText) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message.text(.en) }
}

/// Which surveys to list or export.
public struct SurveyFilter: Sendable {
    public var statuses: [SurveyStatus] = []
    public var formID: String?
    /// A unit code: the unit itself and every unit under it.
    public var unit: UnitCode?
    public var period: String?

    public init(statuses: [SurveyStatus] = [], formID: String? = nil, unit: UnitCode? = nil, period: String? = nil) {
        self.statuses = statuses
        self.formID = formID
        self.unit = unit
        self.period = period
    }
}

/// The field device's survey database: SQLite through GRDB, in WAL mode,
/// with versioned migrations. Every change is one short transaction that
/// is on disk before it returns, so a killed process or a power cut loses
/// nothing that was saved, and two processes can share the file.
public final class SurveyStore: Sendable {
    /// How a command uses the database: commands that only look (`list`,
    /// `show`, `export`, `report`, `status`, `backup`) open it read-only and
    /// never migrate or write, so looking cannot change or damage a file.
    public enum Access: Sendable { case readWrite, readOnly }

    public let path: String
    /// The open database: a pool on the file, or, for a read-only look into
    /// a directory that has no database yet, an empty one in memory.
    public let database: any DatabaseWriter
    public let access: Access

    /// The database file name inside the data directory.
    public static let fileName = "vsurvey.sqlite"

    /// The data directory: `--data-dir`, else `VSURVEY_HOME`, else
    /// `$XDG_DATA_HOME/vsurvey`, else `~/.local/share/vsurvey`.
    public static func dataDirectory(explicit: String?, environment: [String: String]) -> URL {
        if let explicit, !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        if let home = environment["VSURVEY_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("vsurvey")
        }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".local/share/vsurvey")
    }

    /// Opens the database in `directory`; read-write creates the directory
    /// and the database when they are missing, read-only creates nothing.
    public convenience init(directory: URL, access: Access = .readWrite) throws {
        let path = directory.appendingPathComponent(Self.fileName).path
        if access == .readOnly {
            try Self.refuseLostDatabase(path, in: directory)
            try self.init(path: path, access: .readOnly)
            return
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            // The system's reason (permission denied, read-only file system, a file in the way), in its words.
            let reason = Self.reason(creating: directory)
            throw StoreError(
                .cannotOpen,
                L(
                    "无法创建数据目录 \(directory.path):\(reason.zh)。请用 --data-dir 或 VSURVEY_HOME 指定一个可写的目录",
                    "cannot create the data directory \(directory.path): \(reason.en). Name a writable directory with --data-dir or VSURVEY_HOME"))
        }
        try Self.refuseLostDatabase(path, in: directory)
        try self.init(path: path)
    }

    /// Why `directory` cannot be made: the first part of its path that is
    /// a file, or is not writable, in words a person can act on.
    static func reason(creating directory: URL) -> (zh: String, en: String) {
        var path = directory.standardizedFileURL
        while path.path != "/" {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) {
                if !isDirectory.boolValue { return ("\(path.path) 是文件而不是目录", "\(path.path) is a file, not a directory") }
                if Glibc.access(path.path, W_OK) != 0 {
                    let why = String(cString: strerror(errno))
                    return ("没有在 \(path.path) 中创建目录的权限(\(why))", "no permission to create a directory in \(path.path) (\(why))")
                }
                break
            }
            path.deleteLastPathComponent()
        }
        return ("系统拒绝", "the system refused")
    }

    /// Copies the whole database, as it is at one moment, to a new file at
    /// `path` (SQLite's online backup: other commands may go on meanwhile),
    /// created owner-only and moved into place when complete. An existing
    /// file is not replaced.
    public func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.duplicate, L("\(path) 已存在;请换一个文件名", "\(path) already exists; choose another file name"))
        }
        let temporary = path + ".part"
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            let previousMask = umask(0o077)
            defer { umask(previousMask) }
            let destination = try DatabaseQueue(path: temporary)
            try database.backup(to: destination)
            try destination.close()
            guard rename(temporary, path) == 0 else { throw StoreError(.cannotOpen, L("无法写入 \(path)", "cannot write \(path)")) }
        } catch let error as DatabaseError {
            try? FileManager.default.removeItem(atPath: temporary)
            throw StoreError(
                .cannotOpen,
                L("无法写入备份 \(path):\(error.message ?? "\(error.resultCode)")", "cannot write the backup \(path): \(error.message ?? "\(error.resultCode)")"))
        }
    }

    /// What the client leaves in a data directory it has used: the server
    /// settings, the sync lock, the forms pulled from the server.
    static let signsOfUse = ["sync.json", "sync.lock", "forms"]

    /// Refuses to start afresh in a directory that has been used when its
    /// database is missing or empty: its surveys are somewhere else (a copy,
    /// a backup) or lost, and a new, empty database would hide that.
    static func refuseLostDatabase(_ path: String, in directory: URL) throws {
        var info = stat()
        let exists = stat(path, &info) == 0
        guard !exists || info.st_size == 0 else { return }
        guard let sign = signsOfUse.first(where: { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }) else { return }
        let what = exists ? L("是空文件", "is empty") : L("不存在", "is missing")
        throw StoreError(
            .notADatabase,
            L(
                "\(path) \(what.zh),但这个数据目录用过(有 \(sign)):其中的调查不在这里。未作任何改动。请从备份恢复 \(Self.fileName);若确要重新开始,请先把这个目录移走",
                "\(path) \(what.text(.en)) although this data directory has been used (it holds \(sign)): its surveys are not here. Nothing was changed. Restore \(Self.fileName) from a copy; to start afresh on purpose, move the directory away first"
            ))
    }

    /// Opens (creating if needed) the database file at `path` and brings
    /// its schema up to date; read-only opens an existing file as it is, and
    /// a missing or empty one as an empty database in memory. A file that is
    /// not an SQLite database is refused and left untouched.
    public init(path: String, access: Access = .readWrite) throws {
        self.path = path
        self.access = access
        try Self.checkHeader(path)
        var configuration = Configuration()
        // Another process may hold the write lock for a moment: wait for it.
        configuration.busyMode = .timeout(10)

        do {
            switch access {
            case .readWrite:
                let previousMask = umask(0o077)
                defer { umask(previousMask) }
                // Opened under the migration lock: turning a new file to WAL
                // while another process does the same can fail at once with
                // "database is locked", whatever the busy timeout.
                let pool = try Self.migrating(path) {
                    let pool = try DatabasePool(path: path, configuration: configuration)
                    // Each commit reaches the disk before it returns. Set after opening:
                    // GRDB sets NORMAL on the writer when it turns WAL on.
                    try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
                    try Self.migrator.migrate(pool)
                    return pool
                }
                Self.restrictPermissions(path)
                database = pool
            case .readOnly:
                var info = stat()
                guard stat(path, &info) == 0, info.st_size > 0 else {
                    let empty = try DatabaseQueue()
                    try Self.migrator.migrate(empty)
                    database = empty
                    return
                }
                configuration.readonly = true
                let previousMask = umask(0o077)
                defer { umask(previousMask) }
                let pool = try DatabasePool(path: path, configuration: configuration)
                guard try pool.read({ try Self.migrator.hasCompletedMigrations($0) }) else {
                    throw StoreError(
                        .outdated,
                        L(
                            "\(path) 由较早版本的 vsurvey 建立,需要先升级;运行一个会写入的命令(如 vsurvey sync 或 vsurvey fill)即可升级,数据不会丢失",
                            "\(path) was made by an earlier vsurvey and must be upgraded first; any command that writes (vsurvey sync, vsurvey fill) upgrades it, keeping its data"
                        ))
                }
                database = pool
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw StoreError(
                .notADatabase,
                L(
                    "\(path) 已损坏或不是调查数据库;文件未作改动。请移走它,或用 --data-dir 指定其他目录",
                    "\(path) is damaged or not a survey database; the file was left untouched. Move it away, or choose another directory with --data-dir"))
        } catch let error as DatabaseError {
            throw StoreError(
                .cannotOpen,
                L("无法打开数据库 \(path):\(error.message ?? "\(error.resultCode)")", "cannot open the database \(path): \(error.message ?? "\(error.resultCode)")"))
        }
    }

    /// Keeps the database and its WAL files owner-only, even when they were
    /// created by something else with looser permissions.
    static func restrictPermissions(_ path: String) {
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            if stat(file, &info) == 0, info.st_mode & 0o077 != 0 { chmod(file, 0o600) }
        }
        let directory = (path as NSString).deletingLastPathComponent
        var info = stat()
        if stat(directory, &info) == 0, info.st_mode & 0o077 != 0, directory != "/tmp", !directory.isEmpty {
            chmod(directory, 0o700)
        }
    }

    /// Refuses a file that exists, is not empty and does not start with
    /// SQLite's header, before SQLite touches it.
    static func checkHeader(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if !header.isEmpty, header != Data("SQLite format 3\u{0}".utf8) {
            throw StoreError(
                .notADatabase,
                L(
                    "\(path) 不是调查数据库(不是 SQLite 文件);文件未作改动。请移走它,或用 --data-dir 指定其他目录",
                    "\(path) is not a survey database (not an SQLite file); the file was left untouched. Move it away, or choose another directory with --data-dir"
                ))
        }
    }

    /// Runs `body` (opening the database, turning it to WAL, bringing the
    /// schema up to date) one process at a time. GRDB reads which
    /// migrations ran before it starts them, so two processes opening a new
    /// database at once could both run the first one, and both try to turn
    /// it to WAL: a lock file beside the database keeps them apart.
    /// The lock file is removed, still locked, once migrating is done: a
    /// process that waited on it then finds nothing to do, and one that
    /// comes later makes a new one and finds nothing to do either.
    static func migrating<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let lockPath = path + ".migrating"
        let descriptor = open(lockPath, O_CREAT | O_RDWR, 0o600)
        guard descriptor >= 0 else { return try body() }
        defer { close(descriptor) }
        flock(descriptor, LOCK_EX)
        defer { flock(descriptor, LOCK_UN) }
        let result = try body()
        unlink(lockPath)
        return result
    }

    /// The schema, one migration per shipped change. A shipped migration is
    /// never edited; changes come as new ones.
    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 surveys") { db in
            try db.create(table: "survey") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("instance_id", .text).notNull()
                t.column("revision", .integer).notNull()
                t.column("replaces_revision", .integer)
                t.column("form_id", .text).notNull()
                t.column("form_version", .text).notNull()
                t.column("unit_code", .text).notNull()
                t.column("period", .text).notNull()
                t.column("status", .text).notNull()
                    .check(sql: "status IN ('draft', 'finalized', 'sent', 'rejected', 'mismatch', 'held')")
                t.column("answers", .text).notNull()
                t.column("position", .text)
                t.column("created_at", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
                t.column("finalized_at", .datetime)
                t.uniqueKey(["instance_id", "revision"])
            }
            try db.create(index: "survey_by_unit", on: "survey", columns: ["form_id", "unit_code", "period"])
        }
        migrator.registerMigration("v2 sync bookkeeping") { db in
            try db.alter(table: "survey") { t in
                t.add(column: "sent_at", .datetime)
                t.add(column: "sync_attempts", .integer).notNull().defaults(to: 0)
                t.add(column: "last_error", .text)
                t.add(column: "server_receipt", .text)
            }
        }
        migrator.registerMigration("v3 change count") { db in
            try db.alter(table: "survey") { t in
                t.add(column: "change_count", .integer).notNull().defaults(to: 0)
            }
        }
        migrator.registerMigration("v4 sync schedule") { db in
            try db.alter(table: "survey") { t in
                t.add(column: "next_attempt_at", .datetime)
            }
            try db.create(table: "sync_state") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v5 reviews") { db in
            // What the township and the county decided about the surveys
            // this device sent, as the last sync heard it: one row per survey.
            try db.create(table: "review") { t in
                t.primaryKey("instance_id", .text)
                t.column("revision", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("level", .text)
                t.column("action", .text).notNull()
                t.column("comment", .text)
                t.column("reviewer", .text).notNull()
                t.column("reviewed_at", .text).notNull()
                t.column("event", .integer).notNull()
            }
        }
        migrator.registerMigration("v6 baselines and confirmations") { db in
            try db.alter(table: "survey") { t in
                t.add(column: "confirmations", .text).notNull().defaults(to: "[]")
            }
            // Last period's surveys of the units in the token's scope, as
            // the server holds them: one row per form, period and unit.
            try db.create(table: "baseline") { t in
                t.column("form_id", .text).notNull()
                t.column("period", .text).notNull()
                t.column("unit_code", .text).notNull()
                t.column("form_version", .text).notNull()
                t.column("instance_id", .text).notNull()
                t.column("revision", .integer).notNull()
                t.column("content_hash", .text).notNull()
                t.column("answers", .text).notNull()
                t.column("fetched_at", .datetime).notNull()
                t.primaryKey(["form_id", "period", "unit_code"])
            }
        }
        return migrator
    }

    // MARK: Baselines

    /// The baseline of a unit for a form and period, if the device holds one.
    public func baseline(formID: String, period: String, unit: String) throws -> StoredBaseline? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM baseline WHERE form_id = ? AND period = ? AND unit_code = ?", arguments: [formID, period, unit]
            ).map(StoredBaseline.init(row:))
        }
    }

    /// Every baseline the device holds (answers included when asked), by form, period and unit.
    public func baselines(formID: String? = nil, period: String? = nil, answers: Bool = false) throws -> [StoredBaseline] {
        try read { db in
            let columns = answers ? "*" : "form_id, period, unit_code, form_version, instance_id, revision, content_hash, '' AS answers, fetched_at"
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT \(columns) FROM baseline WHERE (? IS NULL OR form_id = ?) AND (? IS NULL OR period = ?)
                    ORDER BY form_id, period, unit_code
                    """,
                arguments: [formID, formID, period, period]
            ).map(StoredBaseline.init(row:))
        }
    }

    /// The content hash of each baseline held for a form and period, by unit.
    public func baselineHashes(formID: String, period: String) throws -> [String: String] {
        try read { db in
            var hashes: [String: String] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT unit_code, content_hash FROM baseline WHERE form_id = ? AND period = ?", arguments: [formID, period])
            {
                hashes[row["unit_code"]] = row["content_hash"]
            }
            return hashes
        }
    }

    /// Keeps baselines fetched from the server (replacing those of the same
    /// form, period and unit) and drops those of `gone` units, in one transaction.
    public func saveBaselines(_ baselines: [StoredBaseline], removing gone: [String] = [], formID: String, period: String) throws {
        try write { db in
            for baseline in baselines {
                try db.execute(
                    sql: """
                        INSERT INTO baseline (form_id, period, unit_code, form_version, instance_id, revision, content_hash, answers, fetched_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (form_id, period, unit_code) DO UPDATE SET form_version = excluded.form_version,
                            instance_id = excluded.instance_id, revision = excluded.revision, content_hash = excluded.content_hash,
                            answers = excluded.answers, fetched_at = excluded.fetched_at
                        """,
                    arguments: [
                        baseline.formID, baseline.period, baseline.unitCode, baseline.formVersion, baseline.instanceID, baseline.revision,
                        baseline.contentHash, baseline.answers, baseline.fetchedAt,
                    ])
            }
            for unit in gone {
                try db.execute(
                    sql: "DELETE FROM baseline WHERE form_id = ? AND period = ? AND unit_code = ?", arguments: [formID, period, unit])
            }
        }
    }

    /// Records the confirmations of a survey's doubtful answers (a draft
    /// in place; any revision that is not yet sent).
    public func setConfirmations(_ id: Int64, _ confirmations: [WarningConfirmation]) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE survey SET confirmations = ? WHERE id = ? AND status IN ('draft', 'finalized')",
                arguments: [WarningConfirmation.json(confirmations).serialized(), id])
            if db.changesCount == 0 {
                throw StoreError(.notAllowed, L("只有草稿和待上报的调查可以确认警示", "only a draft or a survey not yet sent takes confirmations"))
            }
        }
    }

    // MARK: Reviews

    /// Keeps the review decisions the server reported about this device's
    /// surveys (those of other surveys are skipped), in event order, and
    /// returns those kept.
    @discardableResult
    public func recordReviews(_ notices: [ReviewNotice]) throws -> [ReviewNotice] {
        try write { db in
            var kept: [ReviewNotice] = []
            for notice in notices.sorted(by: { $0.event < $1.event }) {
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM survey WHERE instance_id = ? LIMIT 1", arguments: [notice.instanceID]) == true else {
                    continue
                }
                try db.execute(
                    sql: """
                        INSERT INTO review (instance_id, revision, state, level, action, comment, reviewer, reviewed_at, event)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (instance_id) DO UPDATE SET revision = excluded.revision, state = excluded.state, level = excluded.level,
                            action = excluded.action, comment = excluded.comment, reviewer = excluded.reviewer,
                            reviewed_at = excluded.reviewed_at, event = excluded.event
                        WHERE excluded.event > review.event
                        """,
                    arguments: [
                        notice.instanceID, notice.revision, notice.status.state.rawValue, notice.status.level?.rawValue, notice.action.rawValue,
                        notice.comment, notice.reviewer, notice.at, notice.event,
                    ])
                kept.append(notice)
            }
            return kept
        }
    }

    /// The last review decision the device heard of for each of `instanceIDs`.
    public func reviews(of instanceIDs: [String]) throws -> [String: SurveyReview] {
        guard !instanceIDs.isEmpty else { return [:] }
        return try read { db in
            var result: [String: SurveyReview] = [:]
            // In pieces: SQLite limits the number of bound values.
            for start in stride(from: 0, to: instanceIDs.count, by: 500) {
                let part = Array(instanceIDs[start..<min(start + 500, instanceIDs.count)])
                let marks = part.map { _ in "?" }.joined(separator: ", ")
                for row in try Row.fetchAll(
                    db, sql: "SELECT * FROM review WHERE instance_id IN (\(marks))", arguments: StatementArguments(part))
                {
                    guard let review = SurveyReview(row: row) else { continue }
                    result[review.instanceID] = review
                }
            }
            return result
        }
    }

    /// Surveys whose latest revision the township or the county returned.
    public func returnedCount() throws -> Int {
        try read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM review r
                    WHERE r.state = 'returned' AND r.revision = (SELECT MAX(revision) FROM survey WHERE instance_id = r.instance_id)
                    """) ?? 0
        }
    }

    // MARK: Sync bookkeeping

    /// Finalized revisions waiting to be sent whose retry time has come,
    /// oldest first and each survey's revisions in order.
    /// A revision waits while an earlier revision of the same survey does,
    /// so that the server never receives revision n+1 before n.
    public func pendingForSync(now: Date = Date()) throws -> [StoredSurvey] {
        try read { db in
            try StoredSurvey.fetchAll(
                db,
                sql: """
                    SELECT * FROM survey WHERE status = 'finalized' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                      AND NOT EXISTS (
                        SELECT 1 FROM survey AS earlier
                        WHERE earlier.instance_id = survey.instance_id AND earlier.revision < survey.revision
                          AND earlier.status = 'finalized' AND earlier.next_attempt_at > ?)
                    ORDER BY finalized_at, instance_id, revision
                    """, arguments: [now, now])
        }
    }

    /// Finalized revisions waiting, however long until their retry.
    public func pendingCount() throws -> (count: Int, nextAttempt: Date?) {
        try read { db in
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM survey WHERE status = 'finalized'") ?? 0
            let next = try Date.fetchOne(db, sql: "SELECT min(next_attempt_at) FROM survey WHERE status = 'finalized'")
            return (count, next)
        }
    }

    /// What the server answered for one revision.
    public struct SyncOutcome: Sendable {
        public var id: Int64
        public var status: SurveyStatus
        /// The server's answer for this survey, as JSON text.
        public var receipt: String
        /// The reason, for surveys the server did not accept as sent.
        public var error: String?

        public init(id: Int64, status: SurveyStatus, receipt: String, error: String?) {
            self.id = id
            self.status = status
            self.receipt = receipt
            self.error = error
        }
    }

    /// Records a batch's answers in one transaction. Only revisions still
    /// `finalized` change: one edited meanwhile keeps its new state.
    public func recordSyncOutcomes(_ outcomes: [SyncOutcome], now: Date = Date()) throws {
        try write { db in
            for outcome in outcomes {
                try db.execute(
                    sql: """
                        UPDATE survey SET status = ?, server_receipt = ?, last_error = ?, sync_attempts = sync_attempts + 1,
                            sent_at = CASE WHEN ? THEN ? ELSE sent_at END, next_attempt_at = NULL, updated_at = ?
                        WHERE id = ? AND status = 'finalized'
                        """,
                    arguments: [
                        outcome.status.rawValue, outcome.receipt, outcome.error, outcome.status == .sent || outcome.status == .held, now, now, outcome.id,
                    ])
            }
        }
    }

    /// Records a failed attempt (network, timeout, server error): the
    /// revisions stay finalized and are tried again after `retryAt`.
    public func recordSyncFailure(ids: [Int64], error: String, retryAt: (StoredSurvey) -> Date) throws {
        try write { db in
            for id in ids {
                guard let survey = try StoredSurvey.fetchOne(db, key: id), survey.status == .finalized else { continue }
                try db.execute(
                    sql: "UPDATE survey SET sync_attempts = sync_attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                    arguments: [error, retryAt(survey), id])
            }
        }
    }

    /// Small named values about syncing (last success, server).
    public func syncValue(_ key: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM sync_state WHERE key = ?", arguments: [key]) }
    }

    public func setSyncValue(_ key: String, _ value: String) throws {
        try write { db in
            try db.execute(
                sql: "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [key, value])
        }
    }

    /// Counts of current surveys by status.
    public func statusCounts() throws -> [SurveyStatus: Int] {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT status, count(*) AS n FROM survey s
                    WHERE revision = (SELECT MAX(revision) FROM survey WHERE instance_id = s.instance_id) GROUP BY status
                    """)
            var counts: [SurveyStatus: Int] = [:]
            for row in rows { if let status = SurveyStatus(rawValue: row["status"]) { counts[status] = row["n"] } }
            return counts
        }
    }

    // MARK: Reading

    /// The current (latest) revision of each survey matching `filter`,
    /// newest change first. Without `answers`, their text is left out (empty),
    /// which keeps listing thousands of surveys fast.
    public func list(_ filter: SurveyFilter = SurveyFilter(), answers: Bool = true) throws -> [StoredSurvey] {
        try read { db in
            let columns =
                answers
                ? "*"
                : "id, instance_id, revision, replaces_revision, form_id, form_version, unit_code, period, status, '' AS answers, position, created_at, updated_at, finalized_at, sent_at, sync_attempts, last_error, server_receipt, change_count, next_attempt_at"
            var sql = "SELECT \(columns) FROM survey s WHERE revision = (SELECT MAX(revision) FROM survey WHERE instance_id = s.instance_id)"
            var arguments = StatementArguments()
            if !filter.statuses.isEmpty {
                sql += " AND status IN (\(filter.statuses.map { _ in "?" }.joined(separator: ", ")))"
                _ = arguments.append(contentsOf: StatementArguments(filter.statuses.map(\.rawValue)))
            }
            if let formID = filter.formID {
                sql += " AND form_id = ?"
                _ = arguments.append(contentsOf: [formID])
            }
            if let unit = filter.unit {
                sql += " AND unit_code LIKE ? ESCAPE '\\'"
                _ = arguments.append(contentsOf: [unit.prefix + "%"])
            }
            if let period = filter.period {
                sql += " AND period = ?"
                _ = arguments.append(contentsOf: [period])
            }
            sql += " ORDER BY updated_at DESC, id DESC"
            return try StoredSurvey.fetchAll(db, sql: sql, arguments: arguments)
        }
    }

    /// Every revision of one survey, oldest first.
    public func revisions(of instanceID: String) throws -> [StoredSurvey] {
        try read { db in
            try StoredSurvey.filter(StoredSurvey.Columns.instanceID == instanceID).order(StoredSurvey.Columns.revision).fetchAll(db)
        }
    }

    /// The current revision of the survey whose instance id starts with
    /// `reference` (at least 4 characters, as `list` shows them).
    public func find(_ reference: String) throws -> StoredSurvey {
        let prefix = reference.lowercased()
        guard prefix.count >= 4, prefix.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw StoreError(
                .notFound, L("“\(reference)” 不是调查编号(至少 4 位,见 vsurvey list)", "'\(reference)' is not a survey id (at least 4 characters, see vsurvey list)"))
        }
        let found = try read { db in
            try StoredSurvey.fetchAll(
                db,
                sql: """
                    SELECT * FROM survey s WHERE instance_id LIKE ? ESCAPE '\\'
                    AND revision = (SELECT MAX(revision) FROM survey WHERE instance_id = s.instance_id)
                    """,
                arguments: [prefix + "%"])
        }
        guard let first = found.first else {
            throw StoreError(.notFound, L("没有编号为 \(reference) 的调查(见 vsurvey list)", "no survey with id \(reference) (see vsurvey list)"))
        }
        guard found.count == 1 else {
            throw StoreError(
                .ambiguous,
                L(
                    "编号 \(reference) 对应多份调查:\(found.map(\.shortID).joined(separator: "、"));请多写几位",
                    "id \(reference) matches several surveys: \(found.map(\.shortID).joined(separator: ", ")); type more of it"))
        }
        return first
    }

    /// The current revision of the survey for a form, unit and period, if any.
    public func existing(formID: String, unit: String, period: String) throws -> StoredSurvey? {
        try read { db in
            try StoredSurvey.fetchOne(
                db,
                sql: """
                    SELECT * FROM survey s WHERE form_id = ? AND unit_code = ? AND period = ?
                    AND revision = (SELECT MAX(revision) FROM survey WHERE instance_id = s.instance_id)
                    ORDER BY updated_at DESC LIMIT 1
                    """,
                arguments: [formID, unit, period])
        }
    }

    // MARK: Writing

    /// Stores a new survey. Refuses a second survey for the same form, unit
    /// and period: the existing one is to be edited instead.
    @discardableResult
    public func create(_ survey: StoredSurvey) throws -> StoredSurvey {
        try write { db in
            var survey = survey
            if let other = try StoredSurvey.fetchOne(
                db, sql: "SELECT * FROM survey WHERE form_id = ? AND unit_code = ? AND period = ? LIMIT 1",
                arguments: [survey.formID, survey.unitCode, survey.period])
            {
                throw StoreError(
                    .duplicate,
                    L(
                        "\(survey.unitCode) 在 \(survey.period) 已有一份“\(survey.formID)”调查(\(other.shortID));请用 vsurvey edit \(other.shortID) 修改",
                        "\(survey.unitCode) already has a '\(survey.formID)' survey for \(survey.period) (\(other.shortID)); change it with vsurvey edit \(other.shortID)"
                    ))
            }
            try survey.insert(db)
            return survey
        }
    }

    /// Saves a draft's answers and where entry stopped, and returns the new
    /// change count. Only drafts change in place; with `expectedChange`, a
    /// draft changed meanwhile by someone else is refused, not overwritten.
    @discardableResult
    public func saveDraft(_ id: Int64, answers: JSONObject, position: String?, expectedChange: Int? = nil, now: Date = Date()) throws -> Int {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE survey SET answers = ?, position = ?, updated_at = ?, change_count = change_count + 1
                    WHERE id = ? AND status = 'draft' AND (? IS NULL OR change_count = ?)
                    """,
                arguments: [JSONValue.object(answers).serialized(), position, now, id, expectedChange, expectedChange])
            if db.changesCount == 0 { throw try Self.whyUnchanged(db, id) }
            return try Int.fetchOne(db, sql: "SELECT change_count FROM survey WHERE id = ?", arguments: [id]) ?? 0
        }
    }

    /// Finalizes a draft with its checked answers (refused, like `saveDraft`,
    /// when the draft changed since `expectedChange`).
    public func finalize(_ id: Int64, answers: JSONObject, expectedChange: Int? = nil, now: Date = Date()) throws {
        try write { db in
            try Self.finalize(db, id, answers: answers, expectedChange: expectedChange, now: now)
        }
    }

    static func finalize(_ db: Database, _ id: Int64, answers: JSONObject, expectedChange: Int?, now: Date) throws {
        try db.execute(
            sql: """
                UPDATE survey SET answers = ?, status = 'finalized', position = NULL, finalized_at = ?, updated_at = ?,
                change_count = change_count + 1
                WHERE id = ? AND status = 'draft' AND (? IS NULL OR change_count = ?)
                """,
            arguments: [JSONValue.object(answers).serialized(), now, now, id, expectedChange, expectedChange])
        if db.changesCount == 0 { throw try whyUnchanged(db, id) }
    }

    /// Says why an update of a draft changed nothing.
    static func whyUnchanged(_ db: Database, _ id: Int64) throws -> StoreError {
        guard let row = try Row.fetchOne(db, sql: "SELECT status FROM survey WHERE id = ?", arguments: [id]) else {
            return StoreError(.conflict, L("这份草稿已在别处被删除", "this draft was discarded elsewhere"))
        }
        let status: SurveyStatus = row["status"]
        if status != .draft {
            return StoreError(
                .notAllowed,
                L("这份调查已\(status.label.zh),不能再作为草稿修改;请用 vsurvey edit", "this survey is \(status.label.en!) and no longer a draft; use vsurvey edit"))
        }
        return StoreError(
            .conflict,
            L(
                "这份草稿已在另一个窗口中被修改;请重新用 vsurvey resume 打开,以免覆盖",
                "this draft was changed in another window; open it again with vsurvey resume so that nothing is overwritten"))
    }

    /// Starts editing a survey: a draft is edited in place; any other
    /// status gets a new draft revision that names the one it replaces.
    ///
    /// With `answers`, they are stored in the same transaction (and the
    /// result finalized when `finalize` is set), so no half-made revision is
    /// ever left behind.
    public func edit(
        _ survey: StoredSurvey, answers: JSONObject? = nil, finalize: Bool = false, confirmations: [WarningConfirmation]? = nil, now: Date = Date()
    ) throws -> StoredSurvey {
        return try write { db in
            let confirmationText = confirmations.map { WarningConfirmation.json($0).serialized() }
            guard survey.status.editMakesRevision else {
                guard let answers, let id = survey.id else { return survey }
                var updated = survey
                try db.execute(
                    sql: """
                        UPDATE survey SET answers = ?, position = NULL, updated_at = ?, change_count = change_count + 1, confirmations = COALESCE(?, confirmations)
                        WHERE id = ? AND status = 'draft' AND change_count = ?
                        """,
                    arguments: [JSONValue.object(answers).serialized(), now, confirmationText, id, survey.changeCount])
                if let confirmationText { updated.confirmations = confirmationText }
                if db.changesCount == 0 { throw try Self.whyUnchanged(db, id) }
                updated.changeCount += 1
                if finalize {
                    try Self.finalize(db, id, answers: answers, expectedChange: updated.changeCount, now: now)
                    updated.status = .finalized
                    updated.changeCount += 1
                }
                updated.answers = JSONValue.object(answers).serialized()
                return updated
            }
            let latest = try Int.fetchOne(db, sql: "SELECT MAX(revision) FROM survey WHERE instance_id = ?", arguments: [survey.instanceID]) ?? survey.revision
            guard latest == survey.revision else {
                throw StoreError(.notAllowed, L("这份调查已有更新的修订 \(latest)", "this survey already has a newer revision \(latest)"))
            }
            var next = survey
            next.id = nil
            next.revision = survey.revision + 1
            next.replacesRevision = survey.revision
            next.status = .draft
            next.position = nil
            next.createdAt = now
            next.updatedAt = now
            next.finalizedAt = nil
            next.sentAt = nil
            next.syncAttempts = 0
            next.lastError = nil
            next.serverReceipt = nil
            next.changeCount = 0
            next.nextAttemptAt = nil
            if let confirmationText { next.confirmations = confirmationText }
            if let answers {
                next.answers = JSONValue.object(answers).serialized()
                if finalize {
                    next.status = .finalized
                    next.finalizedAt = now
                }
            }
            try next.insert(db)
            return next
        }
    }

    /// Deletes a draft revision. Finalized and sent revisions are never deleted.
    public func discard(_ survey: StoredSurvey) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM survey WHERE id = ? AND status = 'draft'", arguments: [survey.id])
            if db.changesCount == 0 {
                throw StoreError(.notAllowed, L("只能删除草稿", "only a draft can be discarded"))
            }
        }
    }

    // MARK: Access

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try translatingErrors { try database.read(body) }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        guard access == .readWrite else {
            throw StoreError(.notAllowed, L("数据库以只读方式打开", "the database was opened read-only"))
        }
        return try translatingErrors { try database.write(body) }
    }

    /// SQLite's errors as a `StoreError` a person can read; the store's own pass through.
    private func translatingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            switch error.resultCode.primaryResultCode {
            case .SQLITE_FULL:
                throw StoreError(
                    .database,
                    L(
                        "磁盘已满,这一步没有保存;此前保存的答案和调查都完好。腾出空间后再试(填写中断的可用 vsurvey resume 继续)",
                        "the disk is full and this step was not saved; everything saved before is intact. Free some space and try again (an interrupted survey goes on with vsurvey resume)"
                    ))
            case .SQLITE_READONLY, .SQLITE_PERM:
                throw StoreError(
                    .database,
                    L(
                        "数据库 \(path) 不可写(文件或目录只读?),没有保存;已有数据不受影响。请检查文件权限,或用 --data-dir 指定可写的目录",
                        "the database \(path) cannot be written (a read-only file or directory?); nothing was saved and what is there is intact. Check its permissions, or name a writable directory with --data-dir"
                    ))
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                throw StoreError(
                    .database,
                    L("数据库正被另一个 vsurvey 使用,等待超时;没有保存,请稍后重试", "another vsurvey kept the database busy too long; nothing was saved, try again shortly"))
            default:
                let detail = error.message ?? "\(error.resultCode)"
                throw StoreError(.database, L("数据库错误:\(detail)", "database error: \(detail)"))
            }
        }
    }
}
