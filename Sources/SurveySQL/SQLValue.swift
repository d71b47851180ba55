/// A value bound into SQL or read back from a row, the same in every engine.
public enum SQLValue: Sendable, Equatable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public static func of(_ text: String?) -> SQLValue { text.map(SQLValue.text) ?? .null }
    public static func of(_ integer: Int64?) -> SQLValue { integer.map(SQLValue.integer) ?? .null }
    public static func of(_ integer: Int?) -> SQLValue { integer.map { .integer(Int64($0)) } ?? .null }
}

/// SQL text with its bound values, in order. Every value from a form or a
/// request is bound, never written into the text.
public struct SQLQuery: Sendable, Equatable {
    public var sql: String
    public var arguments: [SQLValue]

    public init(sql: String, arguments: [SQLValue]) {
        self.sql = sql
        self.arguments = arguments
    }

    /// Adds a clause and the values its `?`s bind, as a query built from
    /// optional filters does.
    public mutating func append(_ clause: String, _ values: SQLValue...) {
        sql += clause
        arguments += values
    }
}
