import Foundation
import SurveyReport

/// A row read through a `SQLSession`: its values by position, in the
/// order of the select list.
struct SQLRow {
    let values: [ReportValue]

    subscript(_ index: Int) -> ReportValue { values[index] }

    func text(_ index: Int) -> String { optionalText(index) ?? "" }

    func optionalText(_ index: Int) -> String? {
        switch values[index] {
        case .text(let text): return text
        case .integer(let integer): return String(integer)
        case .real(let real): return String(real)
        case .null: return nil
        }
    }

    func integer(_ index: Int) -> Int64 { optionalInteger(index) ?? 0 }

    func optionalInteger(_ index: Int) -> Int64? {
        switch values[index] {
        case .integer(let integer): return integer
        case .real(let real): return Int64(exactly: real.rounded())
        case .text(let text): return Int64(text)
        case .null: return nil
        }
    }
}

/// A unique or check constraint refused a write: the same in every engine.
struct SQLConstraintViolation: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// One connection inside a write transaction or a read, in its engine's
/// dialect. The server's own SQL is written once with `?` placeholders;
/// a PostgreSQL session numbers them. Report SQL comes already in the
/// dialect (`ReportSQL`). Every value is bound, never written into the text.
protocol SQLSession {
    var dialect: SQLDialect { get }
    func execute(_ sql: String, _ arguments: [ReportValue]) throws
    /// Reads rows one at a time; `each` returns false to stop early.
    func forEach(_ sql: String, _ arguments: [ReportValue], _ each: (SQLRow) throws -> Bool) throws
}

extension SQLSession {
    func execute(_ sql: String) throws { try execute(sql, []) }

    /// Inserts rows many to a statement, one round trip for each and well
    /// under both engines' limits on bound values. `head` is
    /// `INSERT INTO t (a, b, …) VALUES `; every row binds `columns` values.
    func insertRows(_ head: String, columns: Int, _ rows: [[ReportValue]]) throws {
        let perStatement = max(1, 8_000 / max(1, columns))
        let tuple = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        for start in stride(from: 0, to: rows.count, by: perStatement) {
            let chunk = rows[start..<min(rows.count, start + perStatement)]
            try execute(head + Array(repeating: tuple, count: chunk.count).joined(separator: ", "), chunk.flatMap { $0 })
        }
    }

    func all(_ sql: String, _ arguments: [ReportValue] = []) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        try forEach(sql, arguments) { row in
            rows.append(row)
            return true
        }
        return rows
    }

    func one(_ sql: String, _ arguments: [ReportValue] = []) throws -> SQLRow? {
        var first: SQLRow?
        try forEach(sql, arguments) { row in
            first = row
            return false
        }
        return first
    }

    /// Runs an INSERT and returns the new row's `id`.
    func insert(_ sql: String, _ arguments: [ReportValue]) throws -> Int64 {
        try one(sql + " RETURNING id", arguments)?.optionalInteger(0) ?? 0
    }
}

/// A database the storage runs its transactions on: SQLite (`GRDBEngine`)
/// or PostgreSQL.
protocol SQLEngine: Sendable {
    var dialect: SQLDialect { get }
    /// Runs `body` in one write transaction: committed when it returns,
    /// rolled back when it throws.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// Runs `body` on a consistent snapshot.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
}

/// Shorthands for values bound in the storage's SQL.
extension ReportValue {
    static func of(_ text: String?) -> ReportValue { text.map(ReportValue.text) ?? .null }
    static func of(_ integer: Int64?) -> ReportValue { integer.map(ReportValue.integer) ?? .null }
    static func of(_ integer: Int?) -> ReportValue { integer.map { .integer(Int64($0)) } ?? .null }
}
