import Foundation
import Logging
import PostgresNIO
import SurveyCore
import SurveyReport

/// The server's storage on PostgreSQL, for a province or more, with as
/// many server processes as wanted on one database. The rules are those of
/// the SQLite storage (`RelationalStorage`); what must hold across
/// processes is held by unique constraints, and a write that loses a race
/// is run again (`PostgresEngine`).
public final class PostgresServerStorage: RelationalStorage {
    /// The address without its password, for logs and messages.
    public let location: String
    let client: PostgresClient
    let engine: any SQLEngine
    let reportPlans = ReportPlanStore()
    private let runner: Task<Void, Never>

    /// A key for `pg_advisory_xact_lock`: migrations run once even when
    /// several servers start together.
    static let migrationLock: Int64 = 0x5653_5256_4D49_4752

    /// Opens `url` (`postgres://user:password@host:port/database`, with
    /// `?sslmode=require` or `verify-full` for TLS) with a pool of at most
    /// `connections` connections, and brings its schema up to date.
    public init(url: String, connections: Int = 8, migrate: Bool = true, logger: Logger? = nil) async throws {
        let (configuration, location) = try Self.configuration(url)
        var options = configuration
        options.options.maximumConnections = max(1, connections)
        options.options.connectTimeout = .seconds(10)
        self.location = location
        // The pool retries a connection that fails for as long as a lease
        // waits; what it met is kept to say why the database cannot be used.
        let failures = ConnectionFailures()
        let logger = logger ?? Logger(label: "vsurvey-postgres") { _ in failures }
        client = PostgresClient(configuration: options, backgroundLogger: logger)
        let client = client
        // The pool leases connections only while it runs.
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        runner = Task {
            signal.finish()
            await client.run()
        }
        for await _ in started {}
        await Task.yield()
        engine = PostgresEngine(client: client, logger: logger)
        do {
            try await Self.within(.seconds(15)) { [self] in
                if migrate { try await self.migrate() } else { try await self.engine.read { _ in () } }
            }
        } catch {
            runner.cancel()
            let reason = error is TimedOut ? failures.last ?? L("15 秒内连不上", "no connection within 15 s").text(.en) : Self.describe(error)
            throw StorageError(.unavailable, L("无法打开数据库 \(location):\(reason)", "cannot open the database \(location): \(reason)"))
        }
    }

    struct TimedOut: Error {}

    /// Runs `body`, or throws `TimedOut` after `limit`.
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw TimedOut() }
            return value
        }
    }

    deinit { runner.cancel() }

    /// Closes the pool's connections.
    public func close() { runner.cancel() }

    static func configuration(_ url: String) throws -> (PostgresClient.Configuration, String) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw StorageError(
                .invalid,
                L("数据库地址应为 postgres://用户:密码@主机:端口/库名,而不是 “\(url)”", "a database address is postgres://user:password@host:port/database, not '\(url)'"))
        }
        let user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        let password = components.password.flatMap { $0.removingPercentEncoding }
        let database = String(components.path.drop { $0 == "/" })
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable", "allow", "prefer": tls = .disable
        case "require":
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            tlsConfiguration.certificateVerification = .none
            tls = .require(tlsConfiguration)
        case "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default:
            throw StorageError(.invalid, L("不认识的 sslmode “\(mode)”", "unknown sslmode '\(mode)'"))
        }
        let port = components.port ?? 5432
        let configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database.isEmpty ? nil : database, tls: tls)
        return (configuration, "postgres://\(user)@\(host):\(port)/\(database)")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            return "\(error.code)"
        }
        return "\(error)"
    }

    /// Applies the migrations this database lacks, in one transaction under
    /// an advisory lock: a second server that starts at the same moment
    /// waits, then finds them applied.
    func migrate() async throws {
        let migrations = ServerSchema.migrations(.postgres)
        try await engine.write { session in
            try session.execute("SELECT pg_advisory_xact_lock(?)", [.integer(Self.migrationLock)])
            try session.execute("CREATE TABLE IF NOT EXISTS schema_migration (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)", [])
            let applied = Set(try session.all("SELECT id FROM schema_migration").map { $0.text(0) })
            for migration in migrations where !applied.contains(migration.id) {
                for statement in migration.statements { try session.execute(statement, []) }
                try session.execute(
                    "INSERT INTO schema_migration (id, applied_at) VALUES (?, ?)", [.text(migration.id), .integer(StorageTime.milliseconds(Date()))])
            }
        }
    }

    /// Creates an empty database `name` (letters, digits and `_`) on the
    /// server of `url`, for tests and benchmarks; returns its address.
    public static func createDatabase(named name: String, at url: String) async throws -> String {
        try await maintenance(url, "CREATE DATABASE \(try checked(name))")
        var components = URLComponents(string: url)!
        components.path = "/" + name
        return components.string!
    }

    /// Drops database `name` on the server of `url`, closing its connections.
    public static func dropDatabase(named name: String, at url: String) async throws {
        try await maintenance(url, "DROP DATABASE IF EXISTS \(try checked(name)) WITH (FORCE)")
    }

    static func checked(_ name: String) throws -> String {
        guard !name.isEmpty, name.count <= 63, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else {
            throw StorageError(.invalid, L("数据库名只能用小写字母、数字和下划线:“\(name)”", "a database name takes lowercase letters, digits and _ only: '\(name)'"))
        }
        return name
    }

    /// Runs a statement outside a transaction on the database of `url`.
    static func maintenance(_ url: String, _ sql: String) async throws {
        let storage = try await PostgresServerStorage(url: url, connections: 1, migrate: false)
        defer { storage.close() }
        try await (storage.engine as! PostgresEngine).autocommit { session in try session.execute(sql, []) }
    }

    /// The ids of the migrations applied, in order.
    public func appliedMigrations() async throws -> [String] {
        try await engine.read { session in try session.all("SELECT id FROM schema_migration ORDER BY applied_at, id").map { $0.text(0) } }
    }

    public func checkHealth() async throws {
        do {
            // A pool whose server is gone waits for a connection for ever.
            try await Self.within(.seconds(5)) { [self] in try await self.ping() }
        } catch is TimedOut {
            throw StorageError(.unavailable, L("数据库 \(location) 5 秒内无应答", "the database \(location) did not answer within 5 s"))
        } catch {
            throw StorageError(
                .unavailable, L("数据库 \(location) 无应答:\(Self.describe(error))", "the database \(location) does not answer: \(Self.describe(error))"))
        }
    }
}

/// Keeps the last connection failure the pool logged, in words a person
/// can act on ("Connection refused", "database \"x\" does not exist").
/// A value, as every log handler must be: loggers copy it and set their
/// own metadata; the failure itself is shared, under a lock.
struct ConnectionFailures: LogHandler {
    final class Box: @unchecked Sendable {
        let lock = NSLock()
        var last: String?
    }
    let box = Box()
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    var last: String? { box.lock.withLock { box.last } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard let error = event.metadata?["psql_error"] ?? metadata["psql_error"] else { return }
        let text = "\(error)"
        let reason: String
        if let range = text.range(of: "(error set): ") {
            reason = String(text[range.upperBound...].prefix { $0 != ")" })
        } else if let range = text.range(of: "message: ") {
            reason = String(text[range.upperBound...].prefix { $0 != "," })
        } else if let range = text.range(of: "error: ") {
            reason = String(text[range.upperBound...].prefix { $0 != ")" })
        } else {
            reason = text
        }
        box.lock.withLock { box.last = reason }
    }
}
