import Foundation
import SurveyCore
import SurveySQL

extension SQLDialect {
    /// The mark of a report row written now, later than every mark a
    /// rollup has seen (`RollupSQL`). On PostgreSQL the writing
    /// transaction's id: a rollup is brought up to the oldest transaction
    /// still running, whose rows may not be visible yet. On SQLite, where
    /// one writer runs at a time, the report clock (`report_clock`), which
    /// every rollup refresh that finds changes moves on.
    var changeMark: String {
        switch self {
        case .sqlite: return "(SELECT value FROM report_clock)"
        case .postgres: return "CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)"
        }
    }
}

/// An indicator expression that SQL cannot compute exactly as the form's
/// evaluator does.
public struct IndicatorSQLError: Error, Sendable, CustomStringConvertible {
    public var indicator: String
    public var message: LocalizedText
    public var description: String { "indicator \(indicator): \(message.text(.en))" }
}

/// Translates indicator expressions into SQL over a form's report table,
/// with exactly the evaluator's meaning: an empty number is NULL and
/// compares false (but `!=` true), an empty choice reads as '', `and`, `or`
/// and `not` see only true or false. What cannot be kept exact (dates,
/// division, text functions, repeats) is refused with a reason, and the
/// form check reports it.
struct ExpressionTranslator {
    enum Kind { case number, text, choices, boolean }
    struct Typed {
        var sql: String
        var kind: Kind
        /// The constant '' (or an empty value): `= ''` tests for empty.
        var isEmptyConstant = false
        /// A bound constant.
        var isConstant = false
        /// A text column without its COALESCE, for tests where NULL may stand for false.
        var raw: String? = nil
    }

    let form: Form
    let schema: ReportSchema
    let builder: SQLBuilder
    /// Field names by top-level slot.
    let slotNames: [Int: String]

    init(form: Form, schema: ReportSchema, builder: SQLBuilder) {
        self.form = form
        self.schema = schema
        self.builder = builder
        var names: [Int: String] = [:]
        for field in form.fields where field.repeatIndex == nil && field.type.holdsValue { names[field.slot] = field.name }
        slotNames = names
    }

    struct Unsupported: Error { var message: LocalizedText }

    func unsupported(_ zh: String, _ en: String) -> Unsupported { Unsupported(message: L(zh, en)) }

    /// Translates an expression. `positive`: its truth is only ever tested
    /// (under CASE WHEN or WHERE, not under NOT or a comparison of truths),
    /// so a NULL may stand for false and the COALESCE that makes tests exact
    /// can go; SQL's AND and OR keep true exactly where the evaluator does.
    func translate(_ expression: BoundExpression, positive: Bool = false) throws(Unsupported) -> Typed {
        switch expression {
        case .constant(let value):
            switch value {
            case .empty: return Typed(sql: "NULL", kind: .number, isEmptyConstant: true)
            case .number(let number):
                if number == number.rounded(), abs(number) < 9e15 {
                    return Typed(sql: builder.bind(.integer(Int64(number))), kind: .number, isConstant: true)
                }
                return Typed(sql: builder.bind(.real(number)), kind: .number, isConstant: true)
            case .string(let text):
                return Typed(sql: builder.bind(.text(text)), kind: .text, isEmptyConstant: text.isEmpty, isConstant: true)
            case .bool(let flag): return Typed(sql: flag ? "TRUE" : "FALSE", kind: .boolean)
            default: throw unsupported("指标中不能使用这种常量", "this kind of constant cannot be used in an indicator")
            }
        case .top(let slot):
            guard let name = slotNames[slot], let column = schema.column(named: name), let field = form.field(named: name),
                ReportColumn.of(field) != nil
            else {
                throw unsupported(
                    "指标只能引用顶层的数字题、选择题、是非题和有 data_type 的计算项",
                    "an indicator can refer only to top-level number, choice and yes/no questions and typed calculations")
            }
            let quoted = builder.dialect.identifier(column.sqlName)
            switch column.kind {
            case .number: return Typed(sql: quoted, kind: .number)
            case .text: return Typed(sql: "COALESCE(\(quoted), '')", kind: .text, raw: quoted)
            case .choices: return Typed(sql: quoted, kind: .choices)
            }
        case .negate(let operand):
            let inner = try translate(operand)
            guard inner.kind == .number else { throw unsupported("只能对数字取负", "only a number can be negated") }
            return Typed(sql: "(-\(inner.sql))", kind: .number)
        case .binary(let op, let lhs, let rhs):
            return try binary(op, lhs, rhs, positive: positive)
        case .call(let function, let arguments):
            return try call(function, arguments, positive: positive)
        case .sameEntry, .acrossEntries, .entries:
            throw unsupported("指标不能直接引用重复组;请先用计算项汇总", "an indicator cannot read a repeat directly; sum it in a calculation first")
        case .current:
            throw unsupported("指标中不能使用 “.”", "'.' cannot be used in an indicator")
        case .literalRegex:
            throw unsupported("指标中不能使用正则表达式", "regular expressions cannot be used in an indicator")
        case .previous:
            throw unsupported("指标中不能使用 previous():报告按本期的调查计算", "previous() cannot be used in an indicator: a report counts this period's surveys")
        case .choiceColumn, .position, .indexedRepeat:
            throw unsupported("指标不能读取选项列或重复组条目", "an indicator cannot read choice columns or repeat entries")
        case .once, .uuid, .choiceName:
            throw unsupported("指标中不能使用 once()、uuid() 和 jr:choice-name();请在计算项中使用", "once(), uuid() and jr:choice-name() cannot be used in an indicator; use them in a calculation")
        }
    }

    /// A condition as CASE WHEN and WHERE test it: true exactly where the
    /// form's evaluator finds it true.
    func condition(_ expression: FormExpression) throws(Unsupported) -> String {
        boolean(try translate(expression.bound, positive: true), positive: true)
    }

    /// True or false, never NULL, as the evaluator's `boolean()` (in a
    /// positive place NULL may stand for false).
    func boolean(_ typed: Typed, positive: Bool = false) -> String {
        switch typed.kind {
        case .boolean: return typed.sql
        case .number: return positive ? "(\(typed.sql) <> 0)" : "COALESCE(\(typed.sql) <> 0, FALSE)"
        case .text: return "(\(typed.sql) <> '')"
        case .choices: return "(\(typed.sql) IS NOT NULL)"
        }
    }

    func isEmpty(_ typed: Typed) throws(Unsupported) -> String {
        switch typed.kind {
        case .number, .choices: return "(\(typed.sql) IS NULL)"
        case .text: return "(\(typed.sql) = '')"
        case .boolean: throw unsupported("真假值不会为空", "a true/false value is never empty")
        }
    }

    func binary(_ op: BinaryOperator, _ lhs: BoundExpression, _ rhs: BoundExpression, positive: Bool) throws(Unsupported) -> Typed {
        let logical = op == .and || op == .or
        let left = try translate(lhs, positive: positive && logical)
        let right = try translate(rhs, positive: positive && logical)
        switch op {
        case .and, .or:
            return Typed(
                sql: "(\(boolean(left, positive: positive)) \(op == .and ? "AND" : "OR") \(boolean(right, positive: positive)))", kind: .boolean)
        case .plus, .minus, .times:
            guard left.kind == .number, right.kind == .number, !left.isEmptyConstant, !right.isEmptyConstant else {
                throw unsupported("算术只能用于数字", "arithmetic applies only to numbers")
            }
            return Typed(sql: "(\(left.sql) \(op.rawValue) \(right.sql))", kind: .number)
        case .div, .mod:
            throw unsupported(
                "指标中不能使用 div 和 mod(除以零时结果不同);比率请用 ratio 指标", "div and mod cannot be used in an indicator (division by zero differs); use a ratio indicator")
        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual:
            return try comparison(op, left, right, positive: positive)
        }
    }

    func comparison(_ op: BinaryOperator, _ left: Typed, _ right: Typed, positive: Bool = false) throws(Unsupported) -> Typed {
        let equality = op == .equal || op == .notEqual
        // `${x} = ''`: whether x is empty.
        if left.isEmptyConstant || right.isEmptyConstant {
            guard equality else { throw unsupported("空值只能用 = 或 != 比较", "an empty value can only be compared with = or !=") }
            let other = left.isEmptyConstant ? right : left
            let test = try isEmpty(other)
            return Typed(sql: op == .equal ? test : "(NOT \(test))", kind: .boolean)
        }
        if left.kind == .boolean || right.kind == .boolean {
            guard equality else { throw unsupported("真假值只能用 = 或 != 比较", "true/false values can only be compared with = or !=") }
            return Typed(sql: "(\(boolean(left)) \(op == .equal ? "=" : "<>") \(boolean(right)))", kind: .boolean)
        }
        let sqlOperator = op == .notEqual ? "<>" : op.rawValue
        switch (left.kind, right.kind) {
        case (.number, .number):
            // An empty number compares false, except with != (true).
            if positive && op != .notEqual { return Typed(sql: "(\(left.sql) \(sqlOperator) \(right.sql))", kind: .boolean) }
            return Typed(sql: "COALESCE(\(left.sql) \(sqlOperator) \(right.sql), \(op == .notEqual ? "TRUE" : "FALSE"))", kind: .boolean)
        case (.text, .text):
            guard equality else { throw unsupported("文字只能用 = 或 != 比较", "text can only be compared with = or !=") }
            // A column equal to a non-empty constant: an empty column (NULL) is false either way.
            if positive && op == .equal, let raw = left.raw, right.isConstant {
                return Typed(sql: "(\(raw) = \(right.sql))", kind: .boolean)
            }
            if positive && op == .equal, let raw = right.raw, left.isConstant {
                return Typed(sql: "(\(left.sql) = \(raw))", kind: .boolean)
            }
            return Typed(sql: "(\(left.sql) \(sqlOperator) \(right.sql))", kind: .boolean)
        default:
            throw unsupported(
                "比较的两边类型不同(数字和文字,或多选);多选请用 selected()",
                "the two sides are of different kinds (number and text, or several choices); use selected() for several choices")
        }
    }

    func call(_ function: Function, _ arguments: [BoundExpression], positive: Bool = false) throws(Unsupported) -> Typed {
        switch function {
        case .not:
            return Typed(sql: "(NOT \(boolean(try translate(arguments[0]))))", kind: .boolean)
        case .true: return Typed(sql: "TRUE", kind: .boolean)
        case .false: return Typed(sql: "FALSE", kind: .boolean)
        case .boolean: return Typed(sql: boolean(try translate(arguments[0], positive: positive), positive: positive), kind: .boolean)
        case .selected:
            let list = try translate(arguments[0])
            guard case .constant(let wantedValue) = arguments[1], case .string(let raw) = wantedValue else {
                throw unsupported("selected() 的第二个参数应为选项名常量", "selected() needs a choice name as its second argument")
            }
            let wanted = raw.trimmingCharacters(in: .whitespaces)
            guard !wanted.isEmpty, !wanted.contains(" ") else { throw unsupported("选项名无效", "not a valid choice name") }
            switch list.kind {
            case .choices:
                let needle = builder.bind(.text(" " + wanted + " "))
                let test = builder.dialect.contains(list.sql, needle)
                return Typed(sql: positive ? "(\(test))" : "COALESCE(\(test), FALSE)", kind: .boolean)
            case .text:
                return Typed(sql: "(\(list.sql) = \(builder.bind(.text(wanted))))", kind: .boolean)
            default:
                throw unsupported("selected() 的第一个参数应为选择题", "selected() needs a choice question as its first argument")
            }
        case .if:
            let condition = boolean(try translate(arguments[0]))
            let then = try translate(arguments[1])
            let otherwise = try translate(arguments[2])
            if then.isEmptyConstant && otherwise.kind == .number && !otherwise.isEmptyConstant {
                return Typed(sql: "(CASE WHEN \(condition) THEN NULL ELSE \(otherwise.sql) END)", kind: .number)
            }
            if otherwise.isEmptyConstant && then.kind == .number && !then.isEmptyConstant {
                return Typed(sql: "(CASE WHEN \(condition) THEN \(then.sql) ELSE NULL END)", kind: .number)
            }
            guard then.kind == otherwise.kind, then.kind == .number || then.kind == .boolean || (then.kind == .text) else {
                throw unsupported("if() 的两个结果应同为数字或同为文字", "both results of if() must be numbers, or both text")
            }
            return Typed(sql: "(CASE WHEN \(condition) THEN \(then.sql) ELSE \(otherwise.sql) END)", kind: then.kind)
        default:
            throw unsupported("指标中不能使用函数 \(function.rawValue)()", "the function \(function.rawValue)() cannot be used in an indicator")
        }
    }
}

/// What SQL computes per group for one indicator: the same accumulators as
/// the reference evaluator (`IndicatorTotals`).
enum IndicatorColumns {
    /// Adds an indicator's select-list columns (each expression translated
    /// afresh, so that each column binds its own values) and returns their
    /// positions, in the order `IndicatorTotals.init(sqlValues:)` reads them.
    static func add(_ indicator: Indicator, translator: ExpressionTranslator) throws(IndicatorSQLError) -> [Int] {
        let builder = translator.builder
        let dialect = builder.dialect
        func number(_ expression: FormExpression) throws -> String {
            let typed = try translator.translate(expression.bound)
            guard typed.kind == .number else { throw ExpressionTranslator.Unsupported(message: L("这里应为数字表达式", "a number is needed here")) }
            return typed.sql
        }
        func condition(_ expression: FormExpression) throws -> String {
            "COUNT(*) FILTER (WHERE \(try translator.condition(expression)))"
        }
        do {
            switch indicator.kind {
            case .sum(let value), .average(let value):
                return [try builder.column { dialect.real("SUM(\(try number(value)))") }, try builder.column { "COUNT(\(try number(value)))" }]
            case .count(let expression?):
                return [try builder.column { try condition(expression) }]
            case .share(let expression):
                return [try builder.column { try condition(expression) }]
            case .count(nil):
                return [builder.column { "COUNT(*)" }]
            case .ratio(let numerator, let denominator):
                return [
                    try builder.column { dialect.real("SUM(\(try number(numerator)))") },
                    try builder.column { dialect.real("SUM(\(try number(denominator)))") },
                ]
            case .completeness:
                return []
            }
        } catch let error as ExpressionTranslator.Unsupported {
            throw IndicatorSQLError(indicator: indicator.name, message: error.message)
        } catch {
            throw IndicatorSQLError(indicator: indicator.name, message: L("\(error)", "\(error)"))
        }
    }
}

/// The totals query and where each indicator's accumulators are in its rows.
public struct TotalsQuery: Sendable, Equatable {
    public var query: SQLQuery
    /// Per indicator (in the form's order), the row positions of its accumulators.
    public var layout: [[Int]]
    /// Per histogram chart (by chart index), the row positions of its bins' counts.
    public var histograms: [Int: [Int]] = [:]
}

/// The report queries of one form over its report table.
public struct ReportSQL: Sendable {
    public let form: Form
    public let schema: ReportSchema
    public let dialect: SQLDialect

    public init(form: Form, schema: ReportSchema, dialect: SQLDialect) {
        self.form = form
        self.schema = schema
        self.dialect = dialect
    }

    /// Every indicator that SQL cannot compute, with the reason; empty when
    /// the form's indicators are all fine.
    public func problems() -> [IndicatorSQLError] {
        var problems: [IndicatorSQLError] = []
        for indicator in form.indicators {
            let translator = ExpressionTranslator(form: form, schema: schema, builder: SQLBuilder(dialect))
            do {
                _ = try IndicatorColumns.add(indicator, translator: translator)
                if let detail = indicator.detail {
                    let typed = try translator.translate(detail.bound)
                    if typed.kind == .boolean || typed.kind == .choices {
                        problems.append(
                            IndicatorSQLError(indicator: indicator.name, message: L("detail 应为数字或文字", "detail must be a number or text")))
                    }
                }
            } catch let error as IndicatorSQLError {
                problems.append(error)
            } catch let error as ExpressionTranslator.Unsupported {
                problems.append(IndicatorSQLError(indicator: indicator.name, message: error.message))
            } catch {
                problems.append(IndicatorSQLError(indicator: indicator.name, message: L("\(error)", "\(error)")))
            }
        }
        if problems.isEmpty {
            do {
                _ = try totals(scopePrefix: "", period: "2026", groupLength: 2, dueBefore: nil)
            } catch {
                problems.append(error)
            }
        }
        return problems
    }

    /// Rows of the scope and period: `unit BETWEEN low AND high`, the codes
    /// under the scope's prefix (all units for the whole country).
    func scopeBounds(_ prefix: String) -> (low: String, high: String) {
        (prefix + String(repeating: "0", count: 12 - prefix.count), prefix + String(repeating: "9", count: 12 - prefix.count))
    }

    /// The scope's codes in `parts` ranges that keep each group whole,
    /// split at group boundaries (`groups`: the group keys, sorted), so
    /// that a large scope can be read in parts at once.
    public func split(scopePrefix: String, groups: [String], parts: Int) -> [CodeRange] {
        let (low, high) = scopeBounds(scopePrefix)
        guard parts > 1, groups.count >= parts else { return [CodeRange(low: low, high: high, includesLow: true)] }
        var ranges: [CodeRange] = []
        var start = CodeRange(low: low, high: high, includesLow: true)
        for part in 1..<parts {
            let last = groups[groups.count * part / parts - 1]
            let end = last + String(repeating: "9", count: 12 - last.count)
            ranges.append(CodeRange(low: start.low, high: end, includesLow: start.includesLow))
            start = CodeRange(low: end, high: high, includesLow: false)
        }
        ranges.append(start)
        return ranges
    }

    /// The totals of a scope as one list of queries per part (`split`): a
    /// query for each of the known `groups` (sorted) in the part, and one
    /// grouping query for each stretch of codes between them, so that rows
    /// of units outside the known groups (a registry replaced since) are
    /// still counted. Those stretches hold no rows as a rule; finding that
    /// out is one index seek each.
    public func totalsParts(
        scopePrefix: String, period: String, groupLength: Int, dueBefore: Int64?, groups: [String], parts: Int, charts: Bool = true
    ) throws(IndicatorSQLError) -> [[TotalsQuery]] {
        var result: [[TotalsQuery]] = []
        for range in split(scopePrefix: scopePrefix, groups: groups, parts: parts) {
            var queries: [TotalsQuery] = []
            // The codes not yet covered in this part, from `low` (included or not).
            var low = range.low
            var includesLow = range.includesLow
            func gap(upTo high: String) throws(IndicatorSQLError) {
                guard high > low || (includesLow && high == low) else { return }
                let stretch = CodeRange(low: low, high: high, includesLow: includesLow)
                queries.append(
                    try totals(scopePrefix: scopePrefix, period: period, groupLength: groupLength, dueBefore: dueBefore, range: stretch, charts: charts))
            }
            for group in groups where group.count == groupLength {
                let (first, last) = scopeBounds(group)
                guard first > low || (includesLow && first == low), last <= range.high else { continue }
                if let before = Self.predecessor(first) { try gap(upTo: before) }
                queries.append(
                    try totals(scopePrefix: scopePrefix, period: period, groupLength: groupLength, dueBefore: dueBefore, group: group, charts: charts))
                low = last
                includesLow = false
            }
            try gap(upTo: range.high)
            result.append(queries)
        }
        return result
    }

    /// The code just before `code` (12 digits), or nil for the first one.
    static func predecessor(_ code: String) -> String? {
        guard let value = Int64(code), value > 0 else { return nil }
        let text = String(value - 1)
        return String(repeating: "0", count: code.count - text.count) + text
    }

    /// `unit` within a range, with its bound values.
    func rangeTest(_ range: CodeRange, _ builder: SQLBuilder) -> String {
        let low = builder.bind(.text(range.low))
        let high = builder.bind(.text(range.high))
        return range.includesLow ? "unit BETWEEN \(low) AND \(high)" : "unit > \(low) AND unit <= \(high)"
    }

    /// One row per group (the first `groupLength` digits of the unit code):
    /// `grp`, `reporting`, `on_time`, then the indicators' accumulators as
    /// `layout` places them. `range` narrows the scope to part of its codes
    /// (a large scope is read in parts at once).
    ///
    /// With `group`, the totals of that one group, without GROUP BY: the
    /// engine then aggregates the rows as it reads them, where grouping by
    /// a part of the code makes SQLite sort every row first (3 times the
    /// time for a national report). The row comes even when no unit of the
    /// group reported, with `reporting` 0. Without `charts`, no histogram
    /// bins (the previous period's figures need none).
    public func totals(
        scopePrefix: String, period: String, groupLength: Int, dueBefore: Int64?, range: CodeRange? = nil, group: String? = nil,
        charts: Bool = true
    ) throws(IndicatorSQLError) -> TotalsQuery {
        let builder = SQLBuilder(dialect)
        let grp =
            group.map { "CAST(\(builder.bind(.text($0))) AS TEXT) AS grp" }
            ?? "substr(unit, 1, CAST(\(builder.bind(.integer(Int64(groupLength)))) AS INTEGER)) AS grp"
        let accumulators = try self.accumulators(builder, dueBefore: dueBefore, charts: charts)
        let select = [grp] + accumulators.select
        let bounds = scopeBounds(group ?? scopePrefix)
        let periodParameter = builder.bind(.text(period))
        let test = rangeTest(
            group == nil
                ? range ?? CodeRange(low: bounds.low, high: bounds.high, includesLow: true) : CodeRange(low: bounds.low, high: bounds.high, includesLow: true),
            builder)
        let sql = """
            SELECT \(select.joined(separator: ", "))
            FROM \(dialect.identifier(schema.tableName))
            WHERE period = \(periodParameter) AND \(test)\(group == nil ? "\nGROUP BY grp" : "")
            """
        return TotalsQuery(query: SQLQuery(sql: sql, arguments: builder.arguments), layout: accumulators.layout, histograms: accumulators.histograms)
    }

    /// The accumulators of a totals row, after its group: `reporting`,
    /// `on_time`, then the indicators' and histogram bins' columns (each
    /// written once), with where `layout` and `histograms` find them in a
    /// row that starts with the group. All of them add up: the totals of a
    /// group are the sums of its parts' (`RollupSQL`).
    struct Accumulators {
        var select: [String]
        var layout: [[Int]]
        var histograms: [Int: [Int]]
    }

    func accumulators(_ builder: SQLBuilder, dueBefore: Int64?, charts: Bool) throws(IndicatorSQLError) -> Accumulators {
        let translator = ExpressionTranslator(form: form, schema: schema, builder: builder)
        // Positions in the row count the group before these.
        var select = ["COUNT(*) AS reporting"]
        if let dueBefore {
            select.append("COUNT(*) FILTER (WHERE reported_at < \(builder.bind(.integer(dueBefore)))) AS on_time")
        } else {
            select.append("0 AS on_time")
        }
        let first = select.count + 1
        var layout: [[Int]] = []
        for indicator in form.indicators {
            layout.append(try IndicatorColumns.add(indicator, translator: translator).map { $0 + first })
        }
        // Histogram bins are counted in the same pass: one column per bin.
        var histograms: [Int: [Int]] = [:]
        for (index, chart) in form.charts.enumerated() where charts {
            guard case .histogram(let value, let bins, _) = chart.kind else { continue }
            do {
                func number() throws -> String {
                    let typed = try translator.translate(value.bound)
                    guard typed.kind == .number else {
                        throw ExpressionTranslator.Unsupported(message: L("图表的 value 应为数字", "a chart's value must be a number"))
                    }
                    return typed.sql
                }
                var positions: [Int] = []
                for bin in bins.indices {
                    let column = try builder.column {
                        var tests = ["\(try number()) IS NOT NULL"]
                        if bin > 0 { tests.append("\(try number()) >= \(builder.bind(.real(bins[bin])))") }
                        if bin < bins.count - 1 { tests.append("\(try number()) < \(builder.bind(.real(bins[bin + 1])))") }
                        return "COUNT(*) FILTER (WHERE \(tests.joined(separator: " AND ")))"
                    }
                    positions.append(column + first)
                }
                histograms[index] = positions
            } catch let error as ExpressionTranslator.Unsupported {
                throw IndicatorSQLError(indicator: "charts[\(index)]", message: error.message)
            } catch {
                throw IndicatorSQLError(indicator: "charts[\(index)]", message: L("\(error)", "\(error)"))
            }
        }
        return Accumulators(select: select + builder.columns, layout: layout, histograms: histograms)
    }

    /// The units that reported in the scope and period, in code order, with
    /// when they first did (`ReportEngine` reads a group's beside the
    /// registry's to find the units not reported).
    public func reported(scopePrefix: String, period: String) -> SQLQuery {
        let builder = SQLBuilder(dialect)
        let bounds = scopeBounds(scopePrefix)
        let sql = """
            SELECT unit, reported_at FROM \(dialect.identifier(schema.tableName))
            WHERE period = \(builder.bind(.text(period))) AND unit BETWEEN \(builder.bind(.text(bounds.low))) AND \(builder.bind(.text(bounds.high)))
            ORDER BY unit
            """
        return SQLQuery(sql: sql, arguments: builder.arguments)
    }

    /// The units behind every watched count or share, in one read of the
    /// scope's rows: `unit`, then per indicator of `watched` a 0/1 flag and
    /// its detail. Rows that meet no condition are left out; the report
    /// keeps the first units of each list (`WatchCollector`).
    public func watchAll(scopePrefix: String, period: String, range: CodeRange? = nil) throws(IndicatorSQLError) -> WatchQuery? {
        let watched = form.indicators.filter { $0.watch && ReferenceEvaluator.condition($0) != nil }
        guard !watched.isEmpty else { return nil }
        let builder = SQLBuilder(dialect)
        let translator = ExpressionTranslator(form: form, schema: schema, builder: builder)
        var current = watched[0]
        do {
            var select = ["unit"]
            for indicator in watched {
                current = indicator
                let test = try translator.condition(ReferenceEvaluator.condition(indicator)!)
                select.append("CASE WHEN \(test) THEN 1 ELSE 0 END")
                select.append(try indicator.detail.map { try translator.translate($0.bound).sql } ?? "NULL")
            }
            let bounds = scopeBounds(scopePrefix)
            let periodParameter = builder.bind(.text(period))
            let inRange = rangeTest(range ?? CodeRange(low: bounds.low, high: bounds.high, includesLow: true), builder)
            var tests: [String] = []
            for indicator in watched {
                current = indicator
                tests.append(try translator.condition(ReferenceEvaluator.condition(indicator)!))
            }
            let sql = """
                SELECT \(select.joined(separator: ", ")) FROM \(dialect.identifier(schema.tableName))
                WHERE period = \(periodParameter) AND \(inRange)
                  AND (\(tests.joined(separator: " OR ")))
                """
            return WatchQuery(query: SQLQuery(sql: sql, arguments: builder.arguments), indicators: watched.map(\.name))
        } catch let error as ExpressionTranslator.Unsupported {
            throw IndicatorSQLError(indicator: current.name, message: error.message)
        } catch {
            throw IndicatorSQLError(indicator: current.name, message: L("\(error)", "\(error)"))
        }
    }

    /// The first `limit` units of each watched list, one query per list,
    /// ordered and limited in SQL (`$n` placeholders: PostgreSQL). For an
    /// engine across a connection, where sending every flagged row of a
    /// large scope (300,000 of 490,000 villages nationally) costs seconds;
    /// the report table's watch indexes (`ReportSchema.watchOrders`) give
    /// the order. Rows have the shape of `watchAll`'s: unit, 1, detail.
    public func watchFirst(scopePrefix: String, period: String, range: CodeRange? = nil, limit: Int) throws(IndicatorSQLError) -> [WatchQuery] {
        var queries: [WatchQuery] = []
        for indicator in form.indicators where indicator.watch && ReferenceEvaluator.condition(indicator) != nil {
            let builder = SQLBuilder(dialect)
            let translator = ExpressionTranslator(form: form, schema: schema, builder: builder)
            do {
                let detail = try indicator.detail.map { try translator.translate($0.bound) }
                let bounds = scopeBounds(scopePrefix)
                let periodParameter = builder.bind(.text(period))
                let inRange = rangeTest(range ?? CodeRange(low: bounds.low, high: bounds.high, includesLow: true), builder)
                let test = try translator.condition(ReferenceEvaluator.condition(indicator)!)
                // Empty details last in either direction, then by code, as `WatchCollector` orders.
                var order = "unit"
                if let detail {
                    let key = detail.kind == .text && dialect == .postgres ? "\(detail.sql) COLLATE \"C\"" : detail.sql
                    order = "\(key)\(indicator.descending ? " DESC" : "") NULLS LAST, unit"
                }
                let sql = """
                    SELECT unit, 1, \(detail?.sql ?? "NULL") FROM \(dialect.identifier(schema.tableName))
                    WHERE period = \(periodParameter) AND \(inRange) AND \(test)
                    ORDER BY \(order) LIMIT \(builder.bind(.integer(Int64(limit))))
                    """
                queries.append(WatchQuery(query: SQLQuery(sql: sql, arguments: builder.arguments), indicators: [indicator.name]))
            } catch let error as ExpressionTranslator.Unsupported {
                throw IndicatorSQLError(indicator: indicator.name, message: error.message)
            } catch {
                throw IndicatorSQLError(indicator: indicator.name, message: L("\(error)", "\(error)"))
            }
        }
        return queries
    }
}

/// Unit codes from `low` (included or not) to `high` (included).
public struct CodeRange: Sendable, Equatable {
    public var low: String
    public var high: String
    public var includesLow: Bool

    public init(low: String, high: String, includesLow: Bool) {
        self.low = low
        self.high = high
        self.includesLow = includesLow
    }
}

/// The watch-list query and the indicators whose flag and detail follow `unit`.
public struct WatchQuery: Sendable, Equatable {
    public var query: SQLQuery
    public var indicators: [String]
}
