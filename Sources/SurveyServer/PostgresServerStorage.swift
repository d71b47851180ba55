import Foundation
import Logging
import SurveyCore
import SurveyPostgres
import SurveySQL

/// The server's storage on PostgreSQL (`PostgresEngine`), for a province or
/// more, with as many server processes as wanted on one database. The
/// rules are those of the SQLite storage (`RelationalStorage`); what must
/// hold across processes is held by unique constraints, and a write that
/// loses a race is run again.
public final class PostgresServerStorage: RelationalStorage {
    let engine: PostgresEngine
    public var sql: any SQLEngine { engine }

    /// Opens `url` (`postgres://user:password@host:port/database`, with
    /// `?sslmode=require` or `verify-full` for TLS) with a pool of at most
    /// `connections` connections, and brings its schema up to date unless
    /// `migrate` is false; `openTimeout` bounds the wait for the first
    /// connection and the migrations.
    public init(url: String, connections: Int = 8, migrate: Bool = true, openTimeout: Duration = .seconds(15), logger: Logger? = nil) async throws {
        do {
            engine = try await PostgresEngine(
                url: url, connections: connections, migrations: migrate ? ServerSchema.migrations(.postgres) : nil, openTimeout: openTimeout,
                logger: logger)
        } catch let error as SQLError {
            throw StorageError(error.kind == .failed ? .invalid : .unavailable, error.text ?? L(error.message, error.message))
        }
    }

    /// Closes the pool's connections.
    public func close() { engine.close() }

    /// The ids of the migrations applied, in order.
    public func appliedMigrations() async throws -> [String] { try await engine.appliedMigrations() }

    /// Creates an empty database `name` on the server of `url`, for tests
    /// and benchmarks; returns its address.
    public static func createDatabase(named name: String, at url: String) async throws -> String {
        try await PostgresEngine.createDatabase(named: name, at: url)
    }

    /// Drops database `name` on the server of `url`, closing its connections.
    public static func dropDatabase(named name: String, at url: String) async throws {
        try await PostgresEngine.dropDatabase(named: name, at: url)
    }

    public func checkHealth() async throws {
        do {
            // A pool whose server is gone waits for a connection for ever.
            try await engine.ping(within: .seconds(5)) { [self] in try await self.ping() }
        } catch let error as SQLError {
            throw StorageError(.unavailable, error.text ?? L(error.message, error.message))
        }
    }
}
