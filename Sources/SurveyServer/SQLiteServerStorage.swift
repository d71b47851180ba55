import Foundation
import GRDB
import SurveyCore
import SurveyReport
import Synchronization

/// The server's storage in one SQLite file (GRDB `DatabasePool`, WAL,
/// `synchronous = FULL`): enough for a county and more. Each batch is one
/// write transaction, so a crash leaves it wholly stored or wholly absent.
public final class SQLiteServerStorage: RelationalStorage {
    public let path: String
    public var location: String { path }
    let pool: DatabasePool
    let engine: any SQLEngine
    let reportPlans = ReportPlanStore()
    /// The file's identity when it was opened: a database moved or deleted
    /// under a running server would otherwise swallow writes unseen.
    private let identity: (device: UInt64, inode: UInt64)
    private let checkpointer: WALCheckpointer

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
        engine = GRDBEngine(pool: pool)
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

    /// The shared migrations (`ServerSchema`) through GRDB's migrator, which
    /// records them in `grdb_migrations`.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in ServerSchema.migrations(.sqlite) {
            migrator.registerMigration(migration.id) { db in
                for statement in migration.statements { try db.execute(sql: statement) }
            }
        }
        return migrator
    }

    /// The ids of the migrations applied, in order.
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try Self.migrator.completedMigrations(db) }
    }

    public func checkHealth() async throws {
        guard let now = Self.identity(of: path), now == identity else {
            throw StorageError(
                .unavailable,
                L("数据库文件 \(path) 已被移走或替换;请重启服务器", "the database file \(path) was moved or replaced; restart the server"))
        }
        try await ping()
    }
}
