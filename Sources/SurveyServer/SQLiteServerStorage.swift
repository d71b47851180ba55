import Foundation
import SurveyCore
import SurveySQL
import SurveySQLite

/// The server's storage in one SQLite file (`SQLiteEngine`: WAL,
/// `synchronous = FULL`): enough for a county and more. Each batch is one
/// write transaction, so a crash leaves it wholly stored or wholly absent.
public final class SQLiteServerStorage: RelationalStorage {
    public let path: String
    let engine: SQLiteEngine
    public var sql: any SQLEngine { engine }

    public init(path: String) throws {
        self.path = path
        do {
            engine = try SQLiteEngine(path: path, migrations: ServerSchema.migrations(.sqlite))
        } catch let error as SQLError {
            throw StorageError(error.kind == .failed ? .invalid : .unavailable, error.text ?? L(error.message, error.message))
        }
    }

    /// The ids of the migrations applied, in order.
    public func appliedMigrations() async throws -> [String] { try await engine.appliedMigrations() }

    public func checkHealth() async throws {
        guard engine.isSameFile else {
            throw StorageError(
                .unavailable,
                L("数据库文件 \(path) 已被移走或替换;请重启服务器", "the database file \(path) was moved or replaced; restart the server"))
        }
        try await ping()
    }
}
