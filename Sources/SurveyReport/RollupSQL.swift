import Foundation
import SurveyCore
import SurveySQL

/// Per-township totals kept beside a form's report table, so that a report
/// for a city, a province or the country adds up one row per township
/// (about 40,000 nationally) instead of every village's (490,000).
///
/// A rollup row holds the same accumulators as a totals row
/// (`ReportSQL.accumulators`): counts and sums, which add up. Each report
/// row carries the `mark` of the transaction that last wrote it
/// (`SQLDialect.changeMark`), and a removed row leaves its township in
/// `report_gone` with a mark too. A refresh recomputes, from the report
/// table, the townships whose rows have changed since the marks it saw
/// last, and the storage records how far it has seen (`report_rollup`).
/// The totals stay the report table's, computed by the same SQL: the
/// rollup only spares reading rows that have not changed.
public struct RollupSQL: Sendable {
    /// Townships: the first 9 digits of a unit code.
    public static let groupLength = 9

    public let sql: ReportSQL
    /// The rollup table's accumulator columns after `reporting` and `on_time`.
    public let columnCount: Int

    public init(_ sql: ReportSQL) throws(IndicatorSQLError) {
        self.sql = sql
        columnCount = try sql.accumulators(SQLBuilder(sql.dialect), dueBefore: 0, charts: true).select.count - 2
    }

    var dialect: SQLDialect { sql.dialect }
    var formID: String { sql.schema.formID }

    /// The rollup table's name: `rollup_` and the form id with `-` as `_`.
    public var tableName: String { "rollup_" + formID.replacingOccurrences(of: "-", with: "_") }

    var table: String { dialect.identifier(tableName) }
    var reportTable: String { dialect.identifier(sql.schema.tableName) }
    /// The accumulator columns after `reporting` and `on_time`.
    var columnNames: [String] { (0..<columnCount).map { "c\($0 + 1)" } }
    var accumulatorNames: [String] { ["reporting", "on_time"] + columnNames }

    /// The table, one row per period and township.
    public func createTable() -> String {
        let columns =
            ["period TEXT NOT NULL", "grp TEXT NOT NULL", "reporting BIGINT NOT NULL", "on_time BIGINT NOT NULL"]
            + columnNames.map { "\($0) DOUBLE PRECISION" } + ["PRIMARY KEY (period, grp)"]
        return "CREATE TABLE \(table) (\(columns.joined(separator: ", ")))\(dialect == .sqlite ? " WITHOUT ROWID" : "")"
    }

    /// What the table's rows mean: when it changes (a new form version's
    /// indicators), the table is made again.
    public var tableSignature: String {
        Digests.sha256Hex(((try? refresh(period: "", dueBefore: nil, townships: nil))?.insert.sql ?? "").utf8) + ":\(columnCount)"
    }

    /// The townships of a period whose rollup rows may be out of date: a
    /// report row written, or removed, at or after `since`.
    public func dirty(period: String, since: Int64) -> SQLQuery {
        let builder = SQLBuilder(dialect)
        let text = """
            SELECT substr(unit, 1, \(Self.groupLength)) AS grp FROM \(reportTable)
            WHERE period = \(builder.bind(.text(period))) AND mark >= \(builder.bind(.integer(since)))
            UNION SELECT grp FROM report_gone
            WHERE form_id = \(builder.bind(.text(formID))) AND period = \(builder.bind(.text(period))) AND mark >= \(builder.bind(.integer(since)))
            """
        return SQLQuery(sql: text, arguments: builder.arguments)
    }

    /// How many townships a refresh computes in one statement: each is a
    /// range of the report table's key in the statement's WHERE.
    public static let townshipsPerStatement = 200

    /// A refresh of one period's rows, for the given `townships` (at most
    /// `townshipsPerStatement`) or, with nil, for every township: `delete`
    /// removes their rows, `insert` writes them again from the report table
    /// (or updates a row that a transaction seen only by the insert added).
    /// `dueBefore` is the period's due time, for `on_time`.
    ///
    /// The townships are bound as ranges of the key rather than joined from
    /// a subquery: just after a year's surveys arrive, PostgreSQL may still
    /// believe the period empty and join every row with every changed
    /// township (minutes, where ranges take milliseconds).
    public func refresh(period: String, dueBefore: Int64?, townships: [String]?) throws(IndicatorSQLError) -> (delete: SQLQuery, insert: SQLQuery) {
        let deleteBuilder = SQLBuilder(dialect)
        var deleteText = "DELETE FROM \(table) WHERE period = \(deleteBuilder.bind(.text(period)))"
        if let townships {
            deleteText += " AND grp IN (\(townships.map { deleteBuilder.bind(.text($0)) }.joined(separator: ", ")))"
        }

        let builder = SQLBuilder(dialect)
        let grp = "substr(unit, 1, \(Self.groupLength))"
        let periodValue = "CAST(\(builder.bind(.text(period))) AS TEXT)"
        let accumulators = try sql.accumulators(builder, dueBefore: dueBefore, charts: true)
        precondition(accumulators.select.count == columnCount + 2, "the rollup's columns are those of the totals")
        let names = accumulatorNames
        // The period in every range, so that each is one search of the key:
        // SQLite then reads the ranges one by one (a "multi-index OR", 10 ms
        // for 200 townships of a national table, where the period outside
        // the ranges made it test every row of the period: 3.8 s), and
        // PostgreSQL joins index scans of them.
        let filter =
            townships.map { townships in
                townships.map { township in
                    let (low, high) = sql.scopeBounds(township)
                    return "(period = \(builder.bind(.text(period))) AND unit BETWEEN \(builder.bind(.text(low))) AND \(builder.bind(.text(high))))"
                }.joined(separator: " OR ")
            } ?? "period = \(builder.bind(.text(period)))"
        let insertText = """
            INSERT INTO \(table) (period, grp, \(names.joined(separator: ", ")))
            SELECT \(periodValue), \(grp), \(accumulators.select.joined(separator: ", "))
            FROM \(reportTable)
            WHERE \(filter)
            GROUP BY \(grp)
            ON CONFLICT (period, grp) DO UPDATE SET \(names.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
            """
        return (SQLQuery(sql: deleteText, arguments: deleteBuilder.arguments), SQLQuery(sql: insertText, arguments: builder.arguments))
    }

    /// What a period's rows were computed with: a refresh starts over when
    /// this changes (the period's due time, or the indicators).
    public func periodSignature(period: String, dueBefore: Int64?) throws(IndicatorSQLError) -> String {
        let insert = try refresh(period: period, dueBefore: dueBefore, townships: nil).insert
        return Digests.sha256Hex((insert.sql + "\u{1}" + insert.arguments.map { "\($0)" }.joined(separator: "\u{1}")).utf8)
    }

    /// The totals of a scope from its townships' rows, in the shape of
    /// `ReportSQL.totals` (the same `layout` and `histograms`): one row per
    /// group of `groupLength` digits (at most 9). With `dueBefore` nil,
    /// `on_time` is 0, as in `ReportSQL.totals`; otherwise the rows' own,
    /// which a refresh computed with the period's due time.
    public func totals(scopePrefix: String, period: String, groupLength: Int, dueBefore: Int64?, charts: Bool = true) throws(IndicatorSQLError)
        -> TotalsQuery
    {
        precondition(groupLength <= Self.groupLength, "a rollup row is a township")
        let shape = try sql.accumulators(SQLBuilder(dialect), dueBefore: dueBefore, charts: charts)
        let builder = SQLBuilder(dialect)
        var select = [
            "substr(grp, 1, CAST(\(builder.bind(.integer(Int64(groupLength)))) AS INTEGER)) AS g",
            "CAST(SUM(reporting) AS BIGINT)",
            dueBefore == nil ? "0" : "CAST(SUM(on_time) AS BIGINT)",
        ]
        select += columnNames.map { "CAST(SUM(\($0)) AS DOUBLE PRECISION)" }
        // The scope's unit codes, cut to townships.
        let (low, high) = sql.scopeBounds(scopePrefix)
        let text = """
            SELECT \(select.joined(separator: ", ")) FROM \(table)
            WHERE period = \(builder.bind(.text(period))) AND grp BETWEEN \(builder.bind(.text(String(low.prefix(Self.groupLength))))) \
            AND \(builder.bind(.text(String(high.prefix(Self.groupLength)))))
            GROUP BY g
            """
        return TotalsQuery(query: SQLQuery(sql: text, arguments: builder.arguments), layout: shape.layout, histograms: shape.histograms)
    }
}
