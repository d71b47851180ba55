import Foundation
import GRDB
import SurveyCore
import SurveySQL

/// SQLite through a GRDB `DatabasePool` (WAL, `synchronous = FULL`): one
/// writer, concurrent readers, and a checkpointer of its own.
public final class SQLiteEngine: SQLEngine {
    public let path: String
    public var location: String { path }
    public var dialect: SQLDialect { .sqlite }
    let pool: DatabasePool
    private let migrations: [SQLMigration]
    /// The file's identity when it was opened: a database moved or deleted
    /// under a running server would otherwise swallow writes unseen.
    private let identity: (device: UInt64, inode: UInt64)
    private let checkpointer: WALCheckpointer

    /// Opens (or creates, owner-only) the database at `path` and applies
    /// the `migrations` it lacks. A file that is not an SQLite database is
    /// refused and left untouched.
    public init(path: String, migrations: [SQLMigration]) throws {
        self.path = path
        self.migrations = migrations
        if let handle = FileHandle(forReadingAtPath: path) {
            let header = (try? handle.read(upToCount: 16)) ?? Data()
            try? handle.close()
            if !header.isEmpty, header != Data("SQLite format 3\u{0}".utf8) {
                throw SQLError(
                    .failed, "\(path) is not an SQLite database",
                    text: L("\(path) 不是 SQLite 数据库;文件未作改动", "\(path) is not an SQLite database; the file was left untouched"))
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
            try Self.migrator(migrations).migrate(pool)
            checkpointer = try WALCheckpointer(path: path)
        } catch let error as DatabaseError {
            let reason = error.message ?? "\(error.resultCode)"
            throw SQLError(.unavailable, reason, text: L("无法打开数据库 \(path):\(reason)", "cannot open the database \(path): \(reason)"))
        }
        identity = Self.identity(of: path) ?? (0, 0)
    }

    static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// Whether the file at `path` is still the one opened (not moved,
    /// deleted or replaced).
    public var isSameFile: Bool {
        guard let now = Self.identity(of: path) else { return false }
        return now == identity
    }

    /// GRDB's migrator over the migrations, which records them in `grdb_migrations`.
    static func migrator(_ migrations: [SQLMigration]) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in migrations {
            migrator.registerMigration(migration.id) { db in
                for statement in migration.statements { try db.execute(sql: statement) }
            }
        }
        return migrator
    }

    public func appliedMigrations() async throws -> [String] {
        let migrator = Self.migrator(migrations)
        return try await Self.mapping { try await pool.read { db in try migrator.completedMigrations(db) } }
    }

    public func close() { checkpointer.stop() }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await Self.mapping { try await pool.write { db in try body(SQLiteSession(db: db)) } }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await Self.mapping { try await pool.read { db in try body(SQLiteSession(db: db)) } }
    }

    /// SQLite's failures in the engine-neutral kinds.
    static func mapping<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError {
            let message = error.message ?? "\(error.resultCode)"
            switch error.resultCode {
            case .SQLITE_CONSTRAINT: throw SQLError(.constraint, message)
            case .SQLITE_BUSY, .SQLITE_LOCKED: throw SQLError(.busy, message)
            case .SQLITE_FULL: throw SQLError(.full, message)
            case .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CORRUPT, .SQLITE_NOTADB: throw SQLError(.unavailable, message)
            default: throw SQLError(.failed, message)
            }
        }
    }

    static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(
            values.map { value -> (any DatabaseValueConvertible)? in
                switch value {
                case .null: return nil
                case .integer(let integer): return integer
                case .real(let real): return real
                case .text(let text): return text
                }
            })
    }

    static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null, .blob: return .null
        case .int64(let integer): return .integer(integer)
        case .double(let real): return .real(real)
        case .string(let text): return .text(text)
        }
    }
}

/// A GRDB connection as a `SQLSession`; statements with values are
/// prepared once per connection and kept.
struct SQLiteSession: SQLSession {
    let db: Database

    var dialect: SQLDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        if arguments.isEmpty {
            // Schema statements, possibly several in one text.
            try db.execute(sql: sql)
        } else {
            try db.cachedStatement(sql: sql).execute(arguments: SQLiteEngine.arguments(arguments))
        }
    }

    func forEach(_ sql: String, _ arguments: [SQLValue], _ each: (SQLRow) throws -> Bool) throws {
        let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: SQLiteEngine.arguments(arguments))
        while let row = try rows.next() {
            let values = (0..<row.count).map { SQLiteEngine.value(row[$0] as DatabaseValue) }
            guard try each(SQLRow(values: values)) else { return }
        }
    }
}
