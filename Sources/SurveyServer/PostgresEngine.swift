import Foundation
import Logging
import NIOCore
import PostgresNIO
import SurveyCore
import SurveyReport

/// PostgreSQL through PostgresNIO's connection pool. The storage rules are
/// synchronous (`SQLSession`), so a transaction runs on a thread of its own
/// that waits for each statement's reply; several transactions run at once,
/// one per leased connection. A write that loses a race for a unique key or
/// a serialization check is run again from the start, which then sees the
/// winner's rows: the outcome is the one a single server would give.
struct PostgresEngine: SQLEngine {
    let client: PostgresClient
    let logger: Logger

    var dialect: SQLDialect { .postgres }

    /// How often a write that lost a race is run again.
    static let attempts = 8

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await transaction(readOnly: false, body)
            } catch is PostgresRetry where attempt < Self.attempts {
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
            } catch let error as PostgresRetry {
                throw SQLConstraintViolation(message: error.message)
            }
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await transaction(readOnly: true, body)
    }

    /// Runs `body` outside any transaction (CREATE DATABASE and the like).
    func autocommit<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await transaction(readOnly: false, inTransaction: false, body)
    }

    private func transaction<T: Sendable>(readOnly: Bool, inTransaction: Bool = true, _ body: @escaping @Sendable (any SQLSession) throws -> T)
        async throws -> T
    {
        let logger = logger
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

    func execute(_ sql: String, _ arguments: [ReportValue]) throws {
        _ = try run(Self.query(sql, arguments))
    }

    func forEach(_ sql: String, _ arguments: [ReportValue], _ each: (SQLRow) throws -> Bool) throws {
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
                    throw StorageError(.unavailable, L("数据库连接中断,语句没有回答", "the database connection closed before the statement was answered"))
                }
                closedSince = closedSince ?? Date()
            } else if Date() > deadline {
                logger.error("no answer from PostgreSQL; closing the connection", metadata: ["seconds": "\(Int(Self.statementTimeout))"])
                connection.close().whenComplete { _ in }
                throw StorageError(
                    .unavailable,
                    L("数据库 \(Int(Self.statementTimeout)) 秒内没有回答", "the database did not answer within \(Int(Self.statementTimeout)) s"))
            }
        }
        // The semaphore's signal orders the callback's write before this read.
        return try answer.result!.get()
    }

    /// Where the event loop leaves a statement's answer for the waiting thread.
    final class AnswerBox: @unchecked Sendable {
        var result: Result<PostgresQueryResult, any Error>?
    }

    /// `?` placeholders numbered as PostgreSQL wants them (`$1`, `$2`…);
    /// report SQL comes numbered already. The server's SQL has no `?` in
    /// its string literals.
    static func query(_ sql: String, _ arguments: [ReportValue]) -> PostgresQuery {
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

    static func value(_ cell: PostgresCell) -> ReportValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map(ReportValue.integer) ?? .null
        case .float4, .float8: return (try? cell.decode(Double.self)).map(ReportValue.real) ?? .null
        case .numeric: return (try? cell.decode(String.self)).flatMap(Double.init).map(ReportValue.real) ?? .null
        case .bool: return (try? cell.decode(Bool.self)).map { .integer($0 ? 1 : 0) } ?? .null
        default: return (try? cell.decode(String.self)).map(ReportValue.text) ?? .null
        }
    }

    /// Unique keys and serialization failures become `PostgresRetry`; a
    /// check constraint is a constraint violation as in SQLite.
    static func mapped(_ error: any Error) -> any Error {
        guard let error = error as? PSQLError else { return error }
        guard let state = error.serverInfo?[.sqlState] else {
            // No server answer: the connection broke or could not be made.
            return StorageError(.unavailable, L("数据库连接中断:\(error.code)", "the database connection failed: \(error.code)"))
        }
        let message = error.serverInfo?[.message] ?? state
        switch state {
        case "23505", "40001", "40P01": return PostgresRetry(message: message)
        case "23514", "23502": return SQLConstraintViolation(message: message)
        default: return PostgresFailure(state: state, message: message)
        }
    }
}

/// A statement PostgreSQL refused for another reason, in its own words
/// (PostgresNIO's error describes itself generically).
struct PostgresFailure: Error, CustomStringConvertible {
    var state: String
    var message: String
    var description: String { "PostgreSQL \(state): \(message)" }
}
