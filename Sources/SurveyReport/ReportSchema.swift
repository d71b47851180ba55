import Foundation
import SurveyCore
import SurveySQL

/// How a report column holds its values.
public enum ColumnKind: String, Sendable {
    /// A number (integer or decimal questions, numeric calculations); empty is NULL.
    case number
    /// One choice or a text calculation; empty is NULL (read as '').
    case text
    /// Several choices, stored as ` a b c ` so that one choice is a
    /// substring search; empty is NULL.
    case choices
}

/// One column of a form's report table: a top-level question or
/// calculation that indicators can read.
public struct ReportColumn: Sendable, Equatable {
    public let field: String
    public let kind: ColumnKind
    /// Whether every value is a whole number (an INTEGER column).
    public let integer: Bool

    /// The column's SQL name: `f_` and the field name (field names are
    /// letters, digits and `_`, checked by the form loader).
    public var sqlName: String { "f_" + field }

    /// The column a field gets, or nil for fields reports cannot read
    /// (text answers, dates, notes, groups, repeats and what is inside them,
    /// calculations without a numeric, yes/no or text `data_type`).
    public static func of(_ field: Field) -> ReportColumn? {
        guard field.repeatIndex == nil else { return nil }
        switch field.type {
        case .integer: return ReportColumn(field: field.name, kind: .number, integer: true)
        case .decimal: return ReportColumn(field: field.name, kind: .number, integer: false)
        case .selectOne, .yesNo: return ReportColumn(field: field.name, kind: .text, integer: false)
        case .selectMultiple: return ReportColumn(field: field.name, kind: .choices, integer: false)
        case .calculate:
            switch field.dataType {
            case .integer: return ReportColumn(field: field.name, kind: .number, integer: true)
            case .decimal: return ReportColumn(field: field.name, kind: .number, integer: false)
            case .yesNo, .text: return ReportColumn(field: field.name, kind: .text, integer: false)
            case .date, nil: return nil
            }
        default: return nil
        }
    }
}

extension SQLValue {
    /// The value a report column keeps for a settled answer.
    public init(_ value: Value, column: ReportColumn) {
        if value.isEmpty {
            self = .null
            return
        }
        switch column.kind {
        case .number:
            let number = value.number
            if number.isNaN {
                self = .null
            } else if column.integer, number == number.rounded(), abs(number) < 9e15 {
                self = .integer(Int64(number))
            } else {
                self = .real(number)
            }
        case .text:
            self = .text(value.string)
        case .choices:
            if case .choices(let list) = value {
                self = list.isEmpty ? .null : .text(" " + list.joined(separator: " ") + " ")
            } else {
                self = .text(" " + value.string + " ")
            }
        }
    }
}

/// The report table of one form id: the union of the report columns of
/// all its versions, so that surveys of any version share one table. The
/// server keeps one row per unit and period for the current survey.
public struct ReportSchema: Sendable, Equatable {
    public let formID: String
    public let columns: [ReportColumn]
    /// The number columns that watch lists are ordered by (a watched
    /// indicator's detail that is a field), with their direction.
    /// PostgreSQL indexes them, so that a large scope's first units are
    /// read from the index instead of sending every flagged row.
    public let watchOrders: [WatchOrder]

    public struct WatchOrder: Sendable, Equatable, Hashable {
        public var column: String
        public var descending: Bool
    }

    /// The table's name: `report_` and the form id with `-` as `_`.
    public var tableName: String { "report_" + formID.replacingOccurrences(of: "-", with: "_") }

    /// Columns of all versions, oldest version first; a field whose kind
    /// changed between versions takes the newest version's kind.
    public init(formID: String, versions: [Form]) {
        self.formID = formID
        var columns: [ReportColumn] = []
        var position: [String: Int] = [:]
        for form in versions {
            for field in form.fields {
                guard let column = ReportColumn.of(field) else { continue }
                if let index = position[column.field] {
                    columns[index] = column
                } else {
                    position[column.field] = columns.count
                    columns.append(column)
                }
            }
        }
        self.columns = columns
        var orders: [WatchOrder] = []
        if let form = versions.last {
            for indicator in form.indicators where indicator.watch {
                guard case .top(let slot)? = indicator.detail?.bound,
                    let field = form.fields.first(where: { $0.slot == slot && $0.repeatIndex == nil }),
                    let column = columns.first(where: { $0.field == field.name }), column.kind == .number
                else { continue }
                let order = WatchOrder(column: column.sqlName, descending: indicator.descending)
                if !orders.contains(order) { orders.append(order) }
            }
        }
        watchOrders = orders
    }

    public func column(named field: String) -> ReportColumn? { columns.first { $0.field == field } }

    /// A description of the table: it is rebuilt when this changes (a new
    /// form version's columns, or a new layout of the table itself).
    public var signature: String {
        "marked;" + columns.map { "\($0.field):\($0.kind.rawValue)\($0.integer ? ":int" : "")" }.joined(separator: ",")
    }

    /// The signature in a dialect: on PostgreSQL the watch-list indexes
    /// belong to it too.
    public func signature(_ dialect: SQLDialect) -> String {
        dialect == .sqlite ? signature : signature + ";watch:" + watchOrders.map { $0.column + ($0.descending ? ":desc" : "") }.joined(separator: ",")
    }

    /// A survey's row values, in column order, from its settled top-level
    /// values (`ValidationResult.topValues` or `Form.topValues`).
    public func row(form: Form, topValues: [Value]) -> [SQLValue] {
        columns.map { column in
            guard let field = form.field(named: column.field), field.repeatIndex == nil, field.slot < topValues.count,
                ReportColumn.of(field) != nil
            else { return .null }
            return SQLValue(topValues[field.slot], column: column)
        }
    }
}

extension ReportSchema {
    /// The report table: one row per unit and period for the current survey,
    /// keyed so that a scope's rows are one range of the key. `mark` tells
    /// when a row was last written (`SQLDialect.changeMark`), so that the
    /// per-township rollups (`RollupSQL`) recompute only what changed.
    public func createTable(_ dialect: SQLDialect) -> [String] {
        let table = dialect.identifier(tableName)
        var columns = [
            "period TEXT NOT NULL", "unit TEXT NOT NULL", "instance BIGINT NOT NULL", "form_version TEXT NOT NULL", "reported_at BIGINT",
            "mark BIGINT NOT NULL DEFAULT 0",
        ]
        for column in self.columns {
            let type: String
            switch column.kind {
            case .number: type = column.integer ? "BIGINT" : "DOUBLE PRECISION"
            case .text, .choices: type = "TEXT"
            }
            columns.append("\(dialect.identifier(column.sqlName)) \(type)")
        }
        columns.append("PRIMARY KEY (period, unit)")
        let suffix = dialect == .sqlite ? " WITHOUT ROWID" : ""
        var statements = [
            "CREATE TABLE \(table) (\(columns.joined(separator: ", ")))\(suffix)",
            "CREATE INDEX \(dialect.identifier(tableName + "_mark")) ON \(table) (period, mark)",
        ]
        if dialect == .postgres {
            // Statistics kept fresh as a year's surveys arrive: by default
            // autovacuum analyzes only after a tenth of the table changed, and
            // until then plans take a new period for empty and scan all of it.
            statements.append(
                "ALTER TABLE \(table) SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = \(Self.analyzeThreshold))")
            for order in watchOrders {
                let name = dialect.identifier("\(tableName)_watch_\(order.column)\(order.descending ? "_desc" : "")")
                let key = dialect.identifier(order.column) + (order.descending ? " DESC NULLS LAST" : "")
                statements.append("CREATE INDEX \(name) ON \(table) (period, \(key), unit)")
            }
        }
        return statements
    }

    /// On PostgreSQL, the changed rows after which a report table's
    /// statistics are read again.
    public static let analyzeThreshold = 10_000

    /// Inserts or replaces the row of a unit and period: bind `period`,
    /// `unit`, `instance`, `form_version`, `reported_at`, then the columns.
    /// The row's `mark` is the writing transaction's.
    public func upsert(_ dialect: SQLDialect) -> String {
        let names = boundNames(dialect)
        let placeholders = Array(repeating: "?", count: names.count)
        let updates = (names.dropFirst(2) + ["mark"]).map { "\($0) = excluded.\($0)" }
        return """
            INSERT INTO \(dialect.identifier(tableName)) (\(names.joined(separator: ", ")), mark) \
            VALUES (\(placeholders.joined(separator: ", ")), \(dialect.changeMark))
            ON CONFLICT (period, unit) DO UPDATE SET \(updates.joined(separator: ", "))
            """
    }

    /// The columns a row binds, in order: `period`, `unit`, `instance`,
    /// `form_version`, `reported_at`, then the form's.
    public var boundColumns: Int { 5 + columns.count }

    func boundNames(_ dialect: SQLDialect) -> [String] {
        ["period", "unit", "instance", "form_version", "reported_at"] + columns.map { dialect.identifier($0.sqlName) }
    }

    /// `INSERT INTO <table> (<every column>) VALUES `, for writing a new
    /// table's rows (the values of `upsert` for each) many to a statement.
    public func insertHead(_ dialect: SQLDialect) -> String {
        let names = boundNames(dialect)
        return "INSERT INTO \(dialect.identifier(tableName)) (\(names.joined(separator: ", "))) VALUES "
    }

    /// Removes the row of a unit and period: bind `period`, `unit`.
    public func delete(_ dialect: SQLDialect) -> String {
        "DELETE FROM \(dialect.identifier(tableName)) WHERE period = ? AND unit = ?"
    }
}
