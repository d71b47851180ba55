import Foundation
import Logging
import NIOCore
import PostgresNIO
import SurveyCore
import SurveySQL

/// PostgreSQL through PostgresNIO's connection pool. SQL here is
/// synchronous (`SQLSession`), so a transaction runs on a thread of its own
/// that waits for each statement's reply; several transactions run at once,
/// one per leased connection. A write that loses a race for a unique key or
/// a serialization check is run again from the start, which then sees the
/// winner's rows: the outcome is the one a single process would give.
public final class PostgresEngine: SQLEngine {
    /// The address without its password, for logs and messages.
    public let location: String
    public var dialect: SQLDialect { .postgres }
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    /// How often a write that lost a race is run again.
    static let attempts = 8

    /// A key for `pg_advisory_xact_lock`: migrations run once even when
    /// several processes start together.
    static let migrationLock: Int64 = 0x5653_5256_4D49_4752

    /// Opens `url` (`postgres://user:password@host:port/database`, with
    /// `?sslmode=require` or `verify-full` for TLS) with a pool of at most
    /// `connections` connections, and applies the `migrations` the database
    /// lacks (none when nil: the database is only checked to answer).
    public init(url: String, connections: Int = 8, migrations: [SQLMigration]?, openTimeout: Duration = .seconds(15), logger: Logger? = nil) async throws {
        let (configuration, location) = try Self.configuration(url)
        var options = configuration
        options.options.maximumConnections = max(1, connections)
        options.options.connectTimeout = .seconds(10)
        self.location = location
        // The pool retries a connection that fails for as long as a lease
        // waits; what it met is kept to say why the database cannot be used.
        let failures = ConnectionFailures()
        let logger = logger ?? Logger(label: "vsurvey-postgres") { _ in failures }
        self.logger = logger
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
        do {
            try await Self.within(openTimeout) { [self] in
                if let migrations { try await self.migrate(migrations) } else { try await self.read { _ in () } }
            }
        } catch {
            runner.cancel()
            let seconds = Int(openTimeout.components.seconds)
            let reason = error is TimedOut ? failures.last ?? L("\(seconds) 秒内连不上", "no connection within \(seconds) s").text(.en) : Self.describe(error)
            throw SQLError(.unavailable, reason, text: L("无法打开数据库 \(location):\(reason)", "cannot open the database \(location): \(reason)"))
        }
    }

    deinit { runner.cancel() }

    /// Closes the pool's connections.
    public func close() { runner.cancel() }

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

    /// Proves the database answers within `limit` (a pool whose server is
    /// gone waits for a connection for ever).
    public func ping(within limit: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
        do {
            try await Self.within(limit, body)
        } catch is TimedOut {
            throw SQLError(
                .unavailable, "no answer within \(limit)",
                text: L("数据库 \(location) \(limit.components.seconds) 秒内无应答", "the database \(location) did not answer within \(limit.components.seconds) s"))
        } catch let error as SQLError {
            throw error
        } catch {
            throw SQLError(
                .unavailable, Self.describe(error),
                text: L("数据库 \(location) 无应答:\(Self.describe(error))", "the database \(location) does not answer: \(Self.describe(error))"))
        }
    }

    static func configuration(_ url: String) throws -> (PostgresClient.Configuration, String) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw SQLError(
                .failed, "not a postgres:// address",
                text: L("数据库地址应为 postgres://用户:密码@主机:端口/库名,而不是 “\(url)”", "a database address is postgres://user:password@host:port/database, not '\(url)'"))
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
            throw SQLError(.failed, "unknown sslmode", text: L("不认识的 sslmode “\(mode)”", "unknown sslmode '\(mode)'"))
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
        if let error = error as? SQLError { return error.message }
        return "\(error)"
    }

    /// Applies the migrations this database lacks, in one transaction under
    /// an advisory lock: a second process that starts at the same moment
    /// waits, then finds them applied.
    func migrate(_ migrations: [SQLMigration]) async throws {
        try await write { session in
            try session.lock(Self.migrationLock)
            try session.execute("CREATE TABLE IF NOT EXISTS schema_migration (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)", [])
            let applied = Set(try session.all("SELECT id FROM schema_migration").map { $0.text(0) })
            for migration in migrations where !applied.contains(migration.id) {
                for statement in migration.statements { try session.execute(statement, []) }
                try session.execute(
                    "INSERT INTO schema_migration (id, applied_at) VALUES (?, ?)",
                    [.text(migration.id), .integer(Int64((Date().timeIntervalSince1970 * 1000).rounded()))])
            }
        }
    }

    public func appliedMigrations() async throws -> [String] {
        try await read { session in try session.all("SELECT id FROM schema_migration ORDER BY applied_at, id").map { $0.text(0) } }
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
            throw SQLError(
                .failed, "bad database name",
                text: L("数据库名只能用小写字母、数字和下划线:“\(name)”", "a database name takes lowercase letters, digits and _ only: '\(name)'"))
        }
        return name
    }

    /// Runs a statement outside a transaction on the database of `url`.
    static func maintenance(_ url: String, _ sql: String) async throws {
        let engine = try await PostgresEngine(url: url, connections: 1, migrations: nil)
        defer { engine.close() }
        try await engine.transaction(readOnly: false, inTransaction: false) { session in try session.execute(sql, []) }
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await transaction(readOnly: false, body)
            } catch is PostgresRetry where attempt < Self.attempts {
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
            } catch let error as PostgresRetry {
                throw SQLError(.constraint, error.message)
            }
        }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await transaction(readOnly: true, body)
    }

    private func transaction<T: Sendable>(readOnly: Bool, inTransaction: Bool = true, _ body: @escaping @Sendable (any SQLSession) throws -> T)
        async throws -> T
    {
        let logger = logger
        do {
            return try await client.withConnection { connection in
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                    let thread = Thread {
                        let session = PostgresSession(connection: connection, logger: logger)
                        do {
                            if inTransaction { try session.execute(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", []) }
                            do {
                                let result = try body(session)
                                if inTransaction { try session.execute("COMMIT", []) }
                                continuation.resume(returning: result)
                            } catch {
                                if inTransaction { try? session.execute("ROLLBACK", []) }
                                throw error
                            }
                        } catch {
                            continuation.resume(throwing: PostgresSession.mapped(error))
                        }
                    }
                    thread.start()
                }
            }
        } catch let error as PSQLError {
            // A connection the pool could not lease or make.
            throw PostgresSession.mapped(error)
        }
    }
}

/// A write that lost a race (a unique key taken meanwhile, a serialization
/// failure, a deadlock): worth running again.
struct PostgresRetry: Error {
    var message: String
}

/// A leased connection inside a transaction, driven from one thread.
struct PostgresSession: SQLSession {
    let connection: PostgresConnection
    let logger: Logger

    var dialect: SQLDialect { .postgres }

    /// The longest a statement's answer is waited for on a connection that
    /// is still open: a safety net, far above any real statement.
    static let statementTimeout: TimeInterval = 600

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        _ = try run(Self.query(sql, arguments))
    }

    func forEach(_ sql: String, _ arguments: [SQLValue], _ each: (SQLRow) throws -> Bool) throws {
        let result = try run(Self.query(sql, arguments))
        for row in result.rows {
            guard try each(SQLRow(values: row.map(Self.value))) else { return }
        }
    }

    /// Sends a statement and waits for its answer. A connection that
    /// PostgreSQL closed under it (a restart) can leave a statement with no
    /// answer at all, so the wait also ends a second after the connection
    /// is seen closed, or after `statementTimeout` (the connection is then
    /// closed, which gives the pool a new one). Either way the request
    /// fails as unavailable instead of holding its thread for ever.
    func run(_ query: PostgresQuery) throws -> PostgresQueryResult {
        let future = connection.query(query, logger: logger)
        let done = DispatchSemaphore(value: 0)
        let answer = AnswerBox()
        future.whenComplete { result in
            answer.result = result
            done.signal()
        }
        let deadline = Date().addingTimeInterval(Self.statementTimeout)
        var closedSince: Date?
        while done.wait(timeout: .now() + 1) == .timedOut {
            if connection.isClosed {
                if let closedSince, Date().timeIntervalSince(closedSince) >= 1 {
                    throw SQLError(
                        .unavailable, "the connection closed before the statement was answered",
                        text: L("数据库连接中断,语句没有回答", "the database connection closed before the statement was answered"))
                }
                closedSince = closedSince ?? Date()
            } else if Date() > deadline {
                logger.error("no answer from PostgreSQL; closing the connection", metadata: ["seconds": "\(Int(Self.statementTimeout))"])
                connection.close().whenComplete { _ in }
                throw SQLError(
                    .unavailable, "no answer within \(Int(Self.statementTimeout)) s",
                    text: L("数据库 \(Int(Self.statementTimeout)) 秒内没有回答", "the database did not answer within \(Int(Self.statementTimeout)) s"))
            }
        }
        // The semaphore's signal orders the callback's write before this read.
        return try answer.result!.get()
    }

    /// Where the event loop leaves a statement's answer for the waiting thread.
    final class AnswerBox: @unchecked Sendable {
        var result: Result<PostgresQueryResult, any Error>?
    }

    /// `?` placeholders numbered as PostgreSQL wants them (`$1`, `$2`…).
    /// SQL in this project binds every value, so no `?` stands in a string
    /// literal.
    static func query(_ sql: String, _ arguments: [SQLValue]) -> PostgresQuery {
        var text = ""
        text.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        for character in sql {
            if character == "?" {
                number += 1
                text += "$\(number)"
            } else {
                text.append(character)
            }
        }
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .null: bindings.appendNull()
            case .integer(let integer): bindings.append(integer)
            case .real(let real): bindings.append(real)
            case .text(let text): bindings.append(text)
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: bindings)
    }

    static func value(_ cell: PostgresCell) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map(SQLValue.integer) ?? .null
        case .float4, .float8: return (try? cell.decode(Double.self)).map(SQLValue.real) ?? .null
        case .numeric: return (try? cell.decode(String.self)).flatMap(Double.init).map(SQLValue.real) ?? .null
        case .bool: return (try? cell.decode(Bool.self)).map { .integer($0 ? 1 : 0) } ?? .null
        default: return (try? cell.decode(String.self)).map(SQLValue.text) ?? .null
        }
    }

    /// Unique keys and serialization failures become `PostgresRetry`; a
    /// check constraint is a constraint violation as in SQLite.
    static func mapped(_ error: any Error) -> any Error {
        guard let error = error as? PSQLError else { return error }
        guard let state = error.serverInfo?[.sqlState] else {
            // No server answer: the connection broke or could not be made.
            return SQLError(.unavailable, "\(error.code)", text: L("数据库连接中断:\(error.code)", "the database connection failed: \(error.code)"))
        }
        let message = error.serverInfo?[.message] ?? state
        switch state {
        case "23505", "40001", "40P01": return PostgresRetry(message: message)
        case "23514", "23502": return SQLError(.constraint, message)
        // Disk full, out of memory, too many connections.
        case "53100", "53200", "53300": return SQLError(state == "53100" ? .full : .unavailable, "PostgreSQL \(state): \(message)")
        // The server shutting down or restarting under the connection.
        case "57P01", "57P02", "57P03": return SQLError(.unavailable, "PostgreSQL \(state): \(message)")
        default: return SQLError(.failed, "PostgreSQL \(state): \(message)")
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
