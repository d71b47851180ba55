import SurveyCore

/// A row read through a `SQLSession`: its values by position, in the
/// order of the select list.
public struct SQLRow: Sendable {
    public let values: [SQLValue]

    public init(values: [SQLValue]) { self.values = values }

    public subscript(_ index: Int) -> SQLValue { values[index] }

    public func text(_ index: Int) -> String { optionalText(index) ?? "" }

    public func optionalText(_ index: Int) -> String? {
        switch values[index] {
        case .text(let text): return text
        case .integer(let integer): return String(integer)
        case .real(let real): return String(real)
        case .null: return nil
        }
    }

    public func integer(_ index: Int) -> Int64 { optionalInteger(index) ?? 0 }

    public func optionalInteger(_ index: Int) -> Int64? {
        switch values[index] {
        case .integer(let integer): return integer
        case .real(let real): return Int64(exactly: real.rounded())
        case .text(let text): return Int64(text)
        case .null: return nil
        }
    }
}

/// Why a statement or a transaction failed, the same for every engine, so
/// that callers (and the HTTP layer's one error mapping) never look at an
/// engine's own error types.
public struct SQLError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A unique, check or not-null constraint refused a write (after
        /// any retries): the rows changed under the caller.
        case constraint
        /// The database is locked by another writer for longer than the wait.
        case busy
        /// The disk or the database is full.
        case full
        /// The database cannot be reached: a closed connection, a file
        /// that cannot be opened, a server that does not answer.
        case unavailable
        /// Anything else: a statement the database refused.
        case failed
    }

    public var kind: Kind
    /// The engine's own words, for logs.
    public var message: String
    /// What a person is told, when the engine has something to say.
    public var text: LocalizedText?

    public init(_ kind: Kind, _ message: String, text: LocalizedText? = nil) {
        self.kind = kind
        self.message = message
        self.text = text
    }

    public var description: String { message }
}

/// One connection inside a write transaction or a read, in its engine's
/// dialect. SQL is written with `?` placeholders; a PostgreSQL session
/// numbers them. Every value is bound, never written into the text.
public protocol SQLSession {
    var dialect: SQLDialect { get }
    func execute(_ sql: String, _ arguments: [SQLValue]) throws
    /// Reads rows one at a time; `each` returns false to stop early.
    func forEach(_ sql: String, _ arguments: [SQLValue], _ each: (SQLRow) throws -> Bool) throws
}

extension SQLSession {
    public func execute(_ sql: String) throws { try execute(sql, []) }

    public func execute(_ query: SQLQuery) throws { try execute(query.sql, query.arguments) }

    /// Inserts rows many to a statement, one round trip for each and well
    /// under both engines' limits on bound values. `head` is
    /// `INSERT INTO t (a, b, …) VALUES `; every row binds `columns` values.
    public func insertRows(_ head: String, columns: Int, _ rows: [[SQLValue]]) throws {
        let perStatement = max(1, 8_000 / max(1, columns))
        let tuple = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        for start in stride(from: 0, to: rows.count, by: perStatement) {
            let chunk = rows[start..<min(rows.count, start + perStatement)]
            try execute(head + Array(repeating: tuple, count: chunk.count).joined(separator: ", "), chunk.flatMap { $0 })
        }
    }

    public func all(_ sql: String, _ arguments: [SQLValue] = []) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        try forEach(sql, arguments) { row in
            rows.append(row)
            return true
        }
        return rows
    }

    public func all(_ query: SQLQuery) throws -> [SQLRow] { try all(query.sql, query.arguments) }

    public func one(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLRow? {
        var first: SQLRow?
        try forEach(sql, arguments) { row in
            first = row
            return false
        }
        return first
    }

    /// Runs an INSERT and returns the new row's `id`.
    public func insert(_ sql: String, _ arguments: [SQLValue]) throws -> Int64 {
        try one(sql + " RETURNING id", arguments)?.optionalInteger(0) ?? 0
    }

    /// Takes a transaction-scoped advisory lock on PostgreSQL, so that
    /// processes sharing a database take turns; SQLite has one writer
    /// at a time already.
    public func lock(_ key: Int64) throws {
        // Advisory locks are the cluster's, not the database's: the key is
        // combined with the database's name, so that two databases on one
        // server (a county's and a province's, or the tests') never wait
        // for each other.
        if dialect == .postgres { try execute("SELECT pg_advisory_xact_lock(? # hashtext(current_database())::bigint)", [.integer(key)]) }
    }
}

/// A database that runs transactions: SQLite (`SQLiteEngine`) or
/// PostgreSQL (`PostgresEngine`).
public protocol SQLEngine: Sendable {
    var dialect: SQLDialect { get }
    /// Where the data is, for logs and messages: a file path, or an
    /// address without its password.
    var location: String { get }
    /// Runs `body` in one write transaction: committed when it returns,
    /// rolled back when it throws.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// Runs `body` on a consistent snapshot.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// The ids of the migrations applied, in order.
    func appliedMigrations() async throws -> [String]
    /// Lets go of connections and threads.
    func close()
}
