import Foundation
import SurveyCore
import SurveySQL

/// What `StorageCopy.copy` moved, table by table, with the checksums of
/// both sides.
public struct CopySummary: Sendable {
    public struct Table: Sendable {
        public var name: String
        public var rows: Int
        public var sourceChecksum: String
        public var destinationChecksum: String
        public var matches: Bool { sourceChecksum == destinationChecksum }
    }
    public var tables: [Table] = []
    public var reportRows = 0
    public var matches: Bool { tables.allSatisfy(\.matches) }
}

/// Moves a server's data from one store to another (a county's SQLite file
/// onto a provincial PostgreSQL server), keeping every id, then compares
/// each table's rows and a SHA-256 over them on both sides.
public enum StorageCopy {
    struct TableCopy {
        let name: String
        let key: String
        let columns: [String]
        /// Whether `id` is an identity column whose sequence must move on.
        let identity: Bool
    }

    static let tables = [
        TableCopy(name: "unit", key: "code", columns: ["code", "name", "level", "parent"], identity: false),
        TableCopy(name: "token", key: "id", columns: ["id", "name", "role", "unit", "hash", "created_at", "revoked_at"], identity: true),
        TableCopy(
            name: "instance", key: "id",
            columns: ["id", "instance_id", "form_id", "unit", "period", "revision", "state", "created_at", "updated_at"], identity: true),
        TableCopy(
            name: "submission", key: "id",
            columns: [
                "id", "instance", "revision", "replaces", "form_id", "form_version", "unit", "period", "content_hash", "answers", "received_at",
                "finalized_at", "token_id", "checks", "flags",
            ], identity: true),
        TableCopy(
            name: "conflict", key: "id",
            columns: ["id", "form_id", "unit", "period", "held_instance", "created_at", "resolved_at", "resolved_by", "kept_instance", "comment"],
            identity: true),
        TableCopy(
            name: "review", key: "instance",
            columns: ["instance", "revision", "state", "level", "prior_state", "prior_level", "comment", "reviewer", "reviewed_at", "event"],
            identity: false),
        TableCopy(
            name: "review_event", key: "id",
            columns: ["id", "instance", "revision", "action", "actor_level", "state", "level", "comment", "reviewer", "token_id", "address", "at"],
            identity: true),
        TableCopy(
            name: "person", key: "id",
            columns: ["id", "name", "role", "unit", "password", "created_at", "password_changed_at", "disabled_at"], identity: true),
        TableCopy(
            name: "audit", key: "id",
            columns: ["id", "at", "actor", "role", "actor_unit", "token_id", "action", "target", "unit", "details", "address"], identity: true),
    ]

    public enum Failure: Error, CustomStringConvertible {
        case destinationNotEmpty(LocalizedText)
        case unsupported
        public var message: LocalizedText {
            switch self {
            case .destinationNotEmpty(let what):
                return L("目标库已有\(what.zh);只能复制到新库", "the destination already holds \(what.text(.en)); copy only into a new database")
            case .unsupported: return L("两边都须是 SQLite 或 PostgreSQL 存储", "both stores must be SQLite or PostgreSQL storages")
            }
        }
        public var description: String { message.text(.en) }
    }

    /// Copies everything from `source` into the empty `destination`, a page
    /// of rows per transaction, then builds the destination's report
    /// tables for the forms of `catalog` and compares both sides. `progress` gets the
    /// step (a table copied, its checksum on one side, a report table
    /// built) and its rows so far.
    public static func copy(
        from source: any ServerStorage, to destination: any ServerStorage, catalog: FormCatalog,
        progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> CopySummary {
        guard let from = source as? any RelationalStorage, let to = destination as? any RelationalStorage else { throw Failure.unsupported }
        let held = try await to.sql.read { session in
            try ["unit", "token", "instance"].first { table in try session.one("SELECT 1 FROM \(table) LIMIT 1") != nil }
        }
        if let held {
            throw Failure.destinationNotEmpty(
                held == "unit" ? L("单位名录", "a unit registry") : held == "token" ? L("令牌", "tokens") : L("调查", "surveys"))
        }
        var summary = CopySummary()
        for table in tables {
            let head = "INSERT INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES "
            var copied = 0
            try await forEachPage(of: table, in: from) { page in
                try await to.sql.write { session in
                    try session.insertRows(head, columns: table.columns.count, page.map(\.values))
                }
                copied += page.count
                progress(table.name, copied)
            }
            if table.identity, to.sql.dialect == .postgres {
                try await to.sql.write { session in
                    try session.execute(
                        "SELECT setval(pg_get_serial_sequence('\(table.name)', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM \(table.name)), false)", [])
                }
            }
            summary.tables.append(
                CopySummary.Table(
                    name: table.name, rows: copied,
                    sourceChecksum: try await checksum(table, in: from) { progress("\(table.name) checksum (source)", $0) },
                    destinationChecksum: try await checksum(table, in: to) { progress("\(table.name) checksum (destination)", $0) }))
        }
        let revision = try await from.registryRevision()
        try await to.sql.write { session in
            try session.execute("UPDATE meta SET value = ? WHERE key = ?", [.integer(Int64(revision)), .text("registry_revision")])
        }
        summary.reportRows = try await SurveyService(storage: to, catalog: catalog).prepareReports(progress: progress)
        // Fresh statistics, so that the first reports are planned for the
        // tables' real size rather than waiting for autovacuum to notice.
        if to.sql.dialect == .postgres { try await to.sql.write { session in try session.execute("ANALYZE", []) } }
        return summary
    }

    /// A table's rows in key order, a page of 2,000 at a time (one read
    /// each): a PostgreSQL reply is read whole.
    static func forEachPage(of table: TableCopy, in storage: any RelationalStorage, _ body: ([SQLRow]) async throws -> Void) async throws {
        let columns = table.columns.joined(separator: ", ")
        var after: SQLValue? = nil
        while true {
            let bound = after
            let page = try await storage.sql.read { session in
                try session.all(
                    "SELECT \(columns) FROM \(table.name)\(bound == nil ? "" : " WHERE \(table.key) > ?") ORDER BY \(table.key) LIMIT 2000",
                    bound.map { [$0] } ?? [])
            }
            guard let last = page.last else { return }
            after = last[0]
            try await body(page)
        }
    }

    /// SHA-256 over a table's rows in key order, each value as text: a
    /// chain, each row hashed with the digest of the rows before it.
    static func checksum(_ table: TableCopy, in storage: any RelationalStorage, progress: (Int) -> Void = { _ in }) async throws -> String {
        var chain = Digests.sha256([])
        var rows = 0
        try await forEachPage(of: table, in: storage) { page in
            rows += page.count
            progress(rows)
            for row in page {
                var bytes = chain
                for value in row.values {
                    switch value {
                    case .null: bytes.append(0)
                    case .integer(let integer): bytes += Array(String(integer).utf8)
                    case .real(let real): bytes += Array(String(real).utf8)
                    case .text(let string): bytes += Array(string.utf8)
                    }
                    bytes.append(0x1F)
                }
                chain = Digests.sha256(bytes)
            }
        }
        return chain.map { String(format: "%02x", $0) }.joined()
    }
}
