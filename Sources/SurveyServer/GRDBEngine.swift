import Foundation
import GRDB
import SurveyReport

/// SQLite through a GRDB `DatabasePool`: one writer, concurrent readers.
struct GRDBEngine: SQLEngine {
    let pool: DatabasePool

    var dialect: SQLDialect { .sqlite }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await Self.mapping { try await pool.write { db in try body(GRDBSession(db: db)) } }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await Self.mapping { try await pool.read { db in try body(GRDBSession(db: db)) } }
    }

    /// A refused constraint reads the same as in any engine.
    static func mapping<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw SQLConstraintViolation(message: error.message ?? "\(error.resultCode)")
        }
    }

    static func arguments(_ values: [ReportValue]) -> StatementArguments {
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

    static func value(_ value: DatabaseValue) -> ReportValue {
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
struct GRDBSession: SQLSession {
    let db: Database

    var dialect: SQLDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [ReportValue]) throws {
        if arguments.isEmpty {
            // Schema statements, possibly several in one text.
            try db.execute(sql: sql)
        } else {
            try db.cachedStatement(sql: sql).execute(arguments: GRDBEngine.arguments(arguments))
        }
    }

    func forEach(_ sql: String, _ arguments: [ReportValue], _ each: (SQLRow) throws -> Bool) throws {
        let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: GRDBEngine.arguments(arguments))
        while let row = try rows.next() {
            let values = (0..<row.count).map { GRDBEngine.value(row[$0] as DatabaseValue) }
            guard try each(SQLRow(values: values)) else { return }
        }
    }
}
