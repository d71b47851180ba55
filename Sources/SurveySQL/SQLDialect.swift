/// The SQL engines this project runs on. SQL is written once, with `?`
/// for every bound value in both (`SQLEngine` numbers them for
/// PostgreSQL); the dialect supplies the few words that differ.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// Whether `needle` occurs in `haystack`, as a boolean.
    public func contains(_ haystack: String, _ needle: String) -> String {
        switch self {
        case .sqlite: return "instr(\(haystack), \(needle)) > 0"
        case .postgres: return "strpos(\(haystack), \(needle)) > 0"
        }
    }

    /// A floating-point aggregate, so that both engines return a double.
    public func real(_ expression: String) -> String {
        "CAST(\(expression) AS DOUBLE PRECISION)"
    }

    /// A quoted identifier; names come from checked form ids and field names.
    public func identifier(_ name: String) -> String { "\"" + name + "\"" }

    /// A 64-bit integer column type.
    public var bigint: String { self == .postgres ? "BIGINT" : "INTEGER" }

    /// The clause that makes a keyed SQLite table store rows in key order.
    public var withoutRowID: String { self == .postgres ? "" : " WITHOUT ROWID" }
}

/// Collects bound values while SQL text is written left to right, and a
/// select list in which each distinct column is written once.
public final class SQLBuilder {
    public let dialect: SQLDialect
    public private(set) var arguments: [SQLValue] = []
    /// Select-list columns written with `column`, each once.
    public private(set) var columns: [String] = []
    private var columnKeys: [String: Int] = [:]

    public init(_ dialect: SQLDialect) { self.dialect = dialect }

    /// Adds a select-list column, or finds the same one (same text, same
    /// bound values) written before, and returns its position: aggregates
    /// that sum the same thing (every ratio over one total) share it.
    public func column(_ build: () throws -> String) rethrows -> Int {
        let mark = arguments.count
        let text = try build()
        let key = text + "\u{1}" + arguments[mark...].map { "\($0)" }.joined(separator: "\u{1}")
        if let existing = columnKeys[key] {
            arguments.removeSubrange(mark...)
            return existing
        }
        columnKeys[key] = columns.count
        columns.append(text)
        return columns.count - 1
    }

    /// Binds `value` and returns its placeholder.
    public func bind(_ value: SQLValue) -> String {
        arguments.append(value)
        return "?"
    }
}

/// One schema change, as a list of statements in one dialect. Each engine
/// applies those a database lacks, in order, and records their ids.
public struct SQLMigration: Sendable {
    public let id: String
    public let statements: [String]

    public init(id: String, statements: [String]) {
        self.id = id
        self.statements = statements
    }
}
