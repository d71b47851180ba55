import Foundation
import SurveyCore
import SurveySQL
import Synchronization

/// One form id's report table: its schema (all versions' columns) and the
/// versions, to compute a row from a stored survey.
public struct ReportPlan: Sendable {
    public let schema: ReportSchema
    /// The newest version: its indicators are the ones reported.
    public let latest: Form
    let versions: [String: Form]
    /// The row statements in each dialect, written once: ingest uses them
    /// for every survey.
    private let statements: [SQLDialect: (upsert: String, delete: String)]

    public init(versions: [Form]) {
        let sorted = versions.sorted { FormCatalog.compareVersions($0.version, $1.version) }
        schema = ReportSchema(formID: sorted[0].id, versions: sorted)
        latest = sorted[sorted.count - 1]
        self.versions = Dictionary(sorted.map { ($0.version, $0) }, uniquingKeysWith: { _, last in last })
        let schema = schema
        statements = Dictionary(
            uniqueKeysWithValues: [SQLDialect.sqlite, .postgres].map { ($0, (schema.upsert($0), schema.delete($0))) })
    }

    func upsert(_ dialect: SQLDialect) -> String { statements[dialect]!.upsert }
    func delete(_ dialect: SQLDialect) -> String { statements[dialect]!.delete }

    /// Plans for every form of a catalog.
    public static func all(in catalog: FormCatalog) -> [ReportPlan] {
        catalog.forms.keys.sorted().compactMap { id in catalog.forms[id].flatMap { $0.isEmpty ? nil : ReportPlan(versions: $0) } }
    }

    /// The row of a stored survey (kept answers as JSON text).
    public func row(version: String, answers: String) -> [SQLValue]? {
        guard let form = versions[version], let object = (try? JSONParser().parse(Array(answers.utf8)))?.objectValue else { return nil }
        return schema.row(form: form, topValues: form.topValues(object))
    }
}

/// What a rollup refresh did: the periods computed whole, and by period
/// the townships computed again in the others (sorted). On PostgreSQL these
/// can include townships computed before, whose transactions were younger
/// than the oldest one running in the whole server then.
public struct RollupRefresh: Sendable, Equatable {
    public var fullPeriods: [String]
    public var townships: [String: [String]]

    public init(fullPeriods: [String] = [], townships: [String: [String]] = [:]) {
        self.fullPeriods = fullPeriods
        self.townships = townships
    }
}

/// The queries of one report, built by `ReportSQL` for the engine's dialect.
public struct ReportQueries: Sendable {
    public var form: Form
    /// The totals, in parts over disjoint code ranges, each part a list
    /// of queries (`ReportSQL.totalsParts`).
    public var totals: [[TotalsQuery]]
    /// The watch lists, in parts over the same ranges.
    public var watch: [WatchQuery]
    public var watchLimit: Int

    public init(form: Form, totals: [[TotalsQuery]], watch: [WatchQuery], watchLimit: Int) {
        self.form = form
        self.totals = totals
        self.watch = watch
        self.watchLimit = watchLimit
    }
}

/// A current survey as the report tables need it, from the store that
/// keeps surveys (the server's `instance` and `submission` tables).
public struct CurrentSurvey: Sendable {
    /// The store's own id of the survey, by which pages are read.
    public var id: Int64
    public var unit: String
    public var period: String
    /// When the survey first arrived, in ms since 1970 (for `on_time`).
    public var reportedAt: Int64
    public var formVersion: String
    /// The answers as kept (JSON text).
    public var answers: String

    public init(id: Int64, unit: String, period: String, reportedAt: Int64, formVersion: String, answers: String) {
        self.id = id
        self.unit = unit
        self.period = period
        self.reportedAt = reportedAt
        self.formVersion = formVersion
        self.answers = answers
    }
}

/// Where a report table is rebuilt from: the store's current surveys.
public protocol CurrentSurveySource: Sendable {
    /// Up to `limit` current surveys of `formID` whose id is above `after`,
    /// in id order, read in `session` (the rebuild's transaction).
    func currentSurveys(formID: String, after: Int64, limit: Int, in session: any SQLSession) throws -> [CurrentSurvey]
}

/// A report that cannot be made as asked.
public struct ReportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No form with that id.
        case unknownForm
        /// Not a period of the form's type.
        case invalidPeriod
    }
    public var kind: Kind
    public var message: LocalizedText
    public var description: String { message.text(.en) }
}

/// Reports end to end over one SQL engine: each form id's report table and
/// per-township rollup, their bookkeeping tables and migrations, the plan of
/// a report (which queries, in how many parts, from which table), the
/// rollup refresh, running the queries and putting the `Report` together.
///
/// The store that keeps surveys calls `record` inside its own write
/// transaction whenever a unit's current survey changes (ingest's one hook),
/// and hands the engine a `CurrentSurveySource` to rebuild a table from.
public final class ReportEngine: Sendable {
    let engine: any SQLEngine
    let source: any CurrentSurveySource
    private let state = Mutex<(plans: [String: ReportPlan], prepared: Bool)>(([:], false))

    /// A large scope (more units expected than this) is read in two parts at
    /// once, a group at a time.
    public let splitAbove: Int

    public init(engine: any SQLEngine, source: any CurrentSurveySource, splitAbove: Int = 20_000) {
        self.engine = engine
        self.source = source
        self.splitAbove = splitAbove
    }

    public var dialect: SQLDialect { engine.dialect }

    /// Each form id's plan, by form id (empty until `load` or `prepare`).
    public var plans: [String: ReportPlan] { state.withLock { $0.plans } }

    public func plan(_ formID: String) -> ReportPlan? { state.withLock { $0.plans[formID] } }

    /// Whether the report tables have been made for the loaded forms.
    public var isPrepared: Bool { state.withLock { $0.prepared } }

    // MARK: Schema

    /// Keys for `pg_advisory_xact_lock`: one table build and one rollup
    /// refresh at a time across processes sharing a PostgreSQL database.
    static let reportTablesLock: Int64 = 0x5653_5256_5250_5254
    static let reportRollupLock: Int64 = 0x5653_5256_524F_4C4C

    /// The bookkeeping tables: each report table's column signature
    /// (`report_schema`), how far each rollup has seen (`report_rollup`),
    /// the townships whose rows were removed (`report_gone`) and SQLite's
    /// clock for the report rows' marks (`report_clock`). A database of this
    /// project's server made them in its migrations v4 to v6; these make
    /// them where they are missing, so the engine runs on any database.
    public static func migrations(_ dialect: SQLDialect) -> [SQLMigration] {
        let int = dialect.bigint
        return [
            SQLMigration(
                id: "report v1 tables",
                statements: [
                    "CREATE TABLE IF NOT EXISTS report_schema (form_id TEXT PRIMARY KEY, signature TEXT NOT NULL)\(dialect.withoutRowID)",
                    """
                    CREATE TABLE IF NOT EXISTS report_rollup (
                        form_id TEXT NOT NULL,
                        period TEXT NOT NULL,
                        signature TEXT NOT NULL,
                        seen \(int) NOT NULL,
                        PRIMARY KEY (form_id, period)
                    )\(dialect.withoutRowID)
                    """,
                    "CREATE TABLE IF NOT EXISTS report_gone (form_id TEXT NOT NULL, period TEXT NOT NULL, grp TEXT NOT NULL, mark \(int) NOT NULL)",
                    "CREATE INDEX IF NOT EXISTS report_gone_mark ON report_gone (form_id, period, mark)",
                    "CREATE TABLE IF NOT EXISTS report_clock (value \(int) NOT NULL)",
                    "INSERT INTO report_clock (value) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM report_clock)",
                ])
        ] + outlierMigrations(dialect)
    }

    /// Indicators that SQL cannot compute, per loaded form: a server
    /// refuses to start with any, since their reports would be wrong.
    public func problems() -> [IndicatorSQLError] {
        let plans = self.plans
        return plans.keys.sorted().flatMap { id in
            ReportSQL(form: plans[id]!.latest, schema: plans[id]!.schema, dialect: dialect).problems()
        }
    }

    /// Loads the forms of `catalog` without touching the database.
    public func load(_ catalog: FormCatalog) {
        let plans = Dictionary(ReportPlan.all(in: catalog).map { ($0.schema.formID, $0) }, uniquingKeysWith: { _, last in last })
        state.withLock { $0.plans = plans }
    }

    /// Loads the forms of `catalog` and creates each form's report table,
    /// or rebuilds it from the current surveys when its columns changed (a
    /// new form version); returns the rows written. `progress` gets a
    /// rebuilt table's name and its rows written so far.
    @discardableResult
    public func prepare(_ catalog: FormCatalog, progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws -> Int {
        load(catalog)
        let plans = self.plans.keys.sorted().map { self.plans[$0]! }
        let source = source
        let written = try await engine.write { session in
            let dialect = session.dialect
            // Servers that start together on one PostgreSQL database take
            // turns: the second finds the tables made.
            try session.lock(Self.reportTablesLock)
            var written = 0
            for plan in plans {
                let formID = plan.schema.formID
                let signature = plan.schema.signature(dialect)
                let rebuilt = try session.one("SELECT signature FROM report_schema WHERE form_id = ?", [.text(formID)])?.text(0) != signature
                if rebuilt {
                    try session.execute("DROP TABLE IF EXISTS \(dialect.identifier(plan.schema.tableName))", [])
                    for statement in plan.schema.createTable(dialect) { try session.execute(statement, []) }
                    // A page of current surveys at a time: memory stays that of
                    // a page, and no query runs while another's rows stream.
                    var after: Int64 = 0
                    var tableRows = 0
                    while true {
                        let page = try source.currentSurveys(formID: formID, after: after, limit: 1000, in: session)
                        guard let last = page.last else { break }
                        after = last.id
                        let rows = page.compactMap { survey -> [SQLValue]? in
                            guard let values = plan.row(version: survey.formVersion, answers: survey.answers) else { return nil }
                            return [.text(survey.period), .text(survey.unit), .integer(survey.id), .text(survey.formVersion), .integer(survey.reportedAt)] + values
                        }
                        // Plain inserts: the table is new, no row is there to update.
                        try session.insertRows(plan.schema.insertHead(dialect), columns: plan.schema.boundColumns, rows)
                        written += rows.count
                        tableRows += rows.count
                        progress(plan.schema.tableName, tableRows)
                    }
                    try session.execute(
                        "INSERT INTO report_schema (form_id, signature) VALUES (?, ?) ON CONFLICT (form_id) DO UPDATE SET signature = excluded.signature",
                        [.text(formID), .text(signature)])
                    // The rows' marks start again: the form's rollups are made anew.
                    try session.execute("DELETE FROM report_rollup WHERE form_id = ?", [.text(formID)])
                    try session.execute("DELETE FROM report_gone WHERE form_id = ?", [.text(formID)])
                }
                try Self.resetOutliers(plan, rebuilt: rebuilt, in: session)
            }
            return written
        }
        state.withLock { $0.prepared = true }
        return written
    }

    // MARK: Ingest's hooks

    /// A checked survey's row in its form's report table (nil when the form
    /// has none), computed before the write transaction.
    public func row(form: Form, topValues: [Value]) -> [SQLValue]? {
        plan(form.id)?.schema.row(form: form, topValues: topValues)
    }

    /// The row of a stored survey (kept answers as JSON text).
    public func row(formID: String, version: String, answers: String) -> [SQLValue]? {
        plan(formID)?.row(version: version, answers: answers)
    }

    /// Keeps the report row of a unit and period equal to its current
    /// survey, inside the caller's write transaction: removes the row a
    /// survey left (moved, or no longer current) and writes the row it now
    /// holds.
    public func record(
        formID: String, formVersion: String, row: [SQLValue]?, instance: Int64, reportedAt: Int64?, left: (unit: String, period: String)?,
        now: (unit: String, period: String)?, in session: any SQLSession, marks: OutlierMarks? = nil
    ) throws {
        guard let plan = plan(formID) else { return }
        if let left {
            // The township's rollup must be computed again without the row.
            try session.execute(
                "INSERT INTO report_gone (form_id, period, grp, mark) VALUES (?, ?, ?, \(session.dialect.changeMark))",
                [.text(plan.schema.formID), .text(left.period), .text(String(left.unit.prefix(RollupSQL.groupLength)))])
            try session.execute(plan.delete(session.dialect), [.text(left.period), .text(left.unit)])
        }
        if let now, let row {
            try session.execute(
                plan.upsert(session.dialect), [.text(now.period), .text(now.unit), .integer(instance), .text(formVersion), .of(reportedAt)] + row)
        }
        if plan.latest.outliers != nil {
            for place in [left, now].compactMap({ $0 }) {
                if let marks {
                    marks.add(formID: plan.schema.formID, period: place.period, unit: place.unit)
                } else {
                    try markOutliersDirty(Set([OutlierMarks.Place(formID: plan.schema.formID, period: place.period, unit: place.unit)]), in: session)
                }
            }
        }
    }

    // MARK: Reports

    /// A form's report for a scope and period, with the previous period's
    /// figures for comparison: the plan, the rollup refresh, the queries
    /// and the units not reported. `registry` gives the units expected.
    public func report(
        formID: String, scope: UnitCode, period: String, registry: UnitRegistry, watchLimit: Int = 50, missingLimit: Int = 200
    ) async throws -> Report {
        guard let plan = plan(formID) else {
            throw ReportError(kind: .unknownForm, message: L("没有表单 “\(formID)”", "there is no form '\(formID)'"))
        }
        let form = plan.latest
        guard let parsed = Period(period), parsed.type == form.periodType else {
            throw ReportError(
                kind: .invalidPeriod,
                message: L(
                    "“\(period)” 不是 \(formID) 的报告期(如 \(Period.example(of: form.periodType)))",
                    "'\(period)' is not a period of \(formID) (e.g. \(Period.example(of: form.periodType)))"))
        }
        let sql = ReportSQL(form: form, schema: plan.schema, dialect: dialect)
        let length = Report.groupLength(scope: scope, form: form)
        let expectedUnits = Report.expectedUnits(registry: registry, scope: scope, form: form)
        let expected = Report.countByGroup(expectedUnits, length: length)
        // A large scope is read in two parts at once (two cores), split
        // between groups so that each group is whole in one part, and a
        // group at a time (`ReportSQL.totalsParts`); a small one in one
        // grouping query.
        let parts = expected.values.reduce(0, +) > splitAbove ? 2 : 1
        let groups = parts > 1 ? expected.keys.sorted() : []
        let ranges = sql.split(scopePrefix: scope.prefix, groups: groups, parts: parts)
        // Above a county, the totals add up townships' rollup rows, brought
        // up to date first, instead of reading every village's row.
        let earlier = parsed.previous?.description
        let rollup = length < RollupSQL.groupLength ? try RollupSQL(sql) : nil
        if let rollup {
            let periods = [period] + (earlier.map { [$0] } ?? [])
            _ = try await refreshRollups(rollup, periods: periods.map { ($0, form.deadline(of: $0)) })
        }
        // The previous period gives only the change of each figure: its
        // totals, without watch lists or charts.
        func queries(_ period: String, due: Int64?, watch: Bool) throws -> ReportQueries {
            ReportQueries(
                form: form,
                totals: try rollup.map { rollup throws(IndicatorSQLError) in
                    [[try rollup.totals(scopePrefix: scope.prefix, period: period, groupLength: length, dueBefore: due, charts: watch)]]
                }
                    ?? sql.totalsParts(
                        scopePrefix: scope.prefix, period: period, groupLength: length, dueBefore: due, groups: groups, parts: parts, charts: watch),
                watch: !watch
                    ? []
                    // A large scope on PostgreSQL: each list's first units
                    // from SQL, instead of every flagged row over the wire.
                    : dialect == .postgres && parts > 1
                        ? try ranges.flatMap { range throws(IndicatorSQLError) in
                            try sql.watchFirst(scopePrefix: scope.prefix, period: period, range: range, limit: watchLimit)
                        }
                        : try ranges.compactMap { range throws(IndicatorSQLError) in try sql.watchAll(scopePrefix: scope.prefix, period: period, range: range)
                        },
                watchLimit: watchLimit)
        }
        async let current = run(try queries(period, due: form.deadline(of: period), watch: true))
        var previous: ReportData?
        if let earlier { previous = try await run(try queries(earlier, due: nil, watch: false)) }
        var data = try await current
        data.missing = try await missing(
            sql: sql, expectedUnits: expectedUnits, expected: expected, reporting: data.groups.mapValues(\.reporting), length: length, scope: scope,
            period: period, limit: missingLimit)
        return Report(
            form: form, registry: registry, scope: scope, period: period, data: data, previous: previous, missingLimit: missingLimit,
            expectedUnits: expectedUnits)
    }

    /// The first units expected that have not reported, in code order: only
    /// in the groups whose totals say some are missing, group by group until
    /// the list is full, each group's reported units read in code order
    /// beside the expected ones.
    func missing(
        sql: ReportSQL, expectedUnits: [OrgUnit], expected: [String: Int], reporting: [String: Int], length: Int, scope: UnitCode, period: String,
        limit: Int
    ) async throws -> [String] {
        var missing: [String] = []
        var start = 0
        for group in expected.keys.sorted() where missing.count < limit {
            guard (expected[group] ?? 0) > (reporting[group] ?? 0), group.hasPrefix(scope.prefix) else { continue }
            // The group's expected units: one run of the code-ordered list.
            while start < expectedUnits.count, !expectedUnits[start].code.rawValue.hasPrefix(group), expectedUnits[start].code.rawValue < group {
                start += 1
            }
            var end = start
            while end < expectedUnits.count, expectedUnits[end].code.rawValue.hasPrefix(group) { end += 1 }
            let codes = expectedUnits[start..<end].map(\.code.rawValue)
            let wanted = limit - missing.count
            let query = sql.reported(scopePrefix: group, period: period)
            missing += try await engine.read { session in
                var found: [String] = []
                var next = 0
                try session.forEach(query.sql, query.arguments) { row in
                    let unit = row.text(0)
                    while next < codes.count, codes[next] < unit, found.count < wanted {
                        found.append(codes[next])
                        next += 1
                    }
                    if next < codes.count, codes[next] == unit { next += 1 }
                    return found.count < wanted && next < codes.count
                }
                while next < codes.count, found.count < wanted {
                    found.append(codes[next])
                    next += 1
                }
                return found
            }
            start = end
        }
        return missing
    }

    /// Brings a form's per-township rollup up to date for each period, in
    /// one transaction: the townships whose report rows were written or
    /// removed since the last refresh are computed again from the report
    /// table; a period seen for the first time, or whose due time or
    /// indicators changed, is computed whole.
    ///
    /// How far a refresh has seen: on SQLite, the report clock, which the
    /// refresh moves on so that later rows carry a later mark (one writer
    /// at a time). On PostgreSQL, the oldest transaction still running
    /// when the refresh starts: every earlier one has ended, so its rows
    /// are visible now, and rows of the later ones are looked at again
    /// next time whether this refresh saw them or not.
    public func refreshRollups(
        _ rollup: RollupSQL, periods: [(period: String, dueBefore: Int64?)], townshipsPerStatement: Int = RollupSQL.townshipsPerStatement
    ) async throws -> RollupRefresh {
        let chunk = max(1, townshipsPerStatement)
        let formID = rollup.sql.schema.formID
        let tableSignature = rollup.tableSignature
        let signatures = try periods.map { try rollup.periodSignature(period: $0.period, dueBefore: $0.dueBefore) }
        return try await engine.write { session in
            var result = RollupRefresh()
            try session.lock(Self.reportRollupLock)
            // The table, made again when its columns' meaning changed.
            if try session.one("SELECT signature FROM report_rollup WHERE form_id = ? AND period = ''", [.text(formID)])?.text(0) != tableSignature {
                try session.execute("DROP TABLE IF EXISTS \(session.dialect.identifier(rollup.tableName))", [])
                try session.execute(rollup.createTable(), [])
                try session.execute("DELETE FROM report_rollup WHERE form_id = ?", [.text(formID)])
                try session.execute(
                    "INSERT INTO report_rollup (form_id, period, signature, seen) VALUES (?, '', ?, 0)", [.text(formID), .text(tableSignature)])
            }
            // Statistics a year's new surveys have made stale are read again
            // now rather than at autovacuum's next round: plans made on them
            // take the new period for empty and scan all of it per township.
            if session.dialect == .postgres,
                let changed = try session.one(
                    "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = CAST(? AS regclass)",
                    [.text(session.dialect.identifier(rollup.sql.schema.tableName))]),
                changed.integer(0) > ReportSchema.analyzeThreshold
            {
                try session.execute("ANALYZE \(session.dialect.identifier(rollup.sql.schema.tableName))", [])
            }
            let seenNow: Int64
            switch session.dialect {
            case .postgres:
                seenNow = try session.one("SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT)")?.integer(0) ?? 0
            case .sqlite:
                // Moved on below when anything is computed: rows written
                // after this refresh carry a later mark than any it saw.
                seenNow = (try session.one("SELECT value FROM report_clock")?.integer(0) ?? 0) + 1
            }
            for ((period, due), signature) in zip(periods, signatures) {
                let state = try session.one("SELECT signature, seen FROM report_rollup WHERE form_id = ? AND period = ?", [.text(formID), .text(period)])
                if let state, state.text(0) == signature {
                    let dirty = rollup.dirty(period: period, since: state.integer(1))
                    let townships = try session.all(dirty.sql, dirty.arguments).map { $0.text(0) }.sorted()
                    if townships.isEmpty { continue }
                    result.townships[period] = townships
                    for start in stride(from: 0, to: townships.count, by: chunk) {
                        let part = Array(townships[start..<min(townships.count, start + chunk)])
                        let queries = try rollup.refresh(period: period, dueBefore: due, townships: part)
                        try session.execute(queries.delete.sql, queries.delete.arguments)
                        try session.execute(queries.insert.sql, queries.insert.arguments)
                    }
                } else {
                    result.fullPeriods.append(period)
                    let queries = try rollup.refresh(period: period, dueBefore: due, townships: nil)
                    try session.execute(queries.delete.sql, queries.delete.arguments)
                    try session.execute(queries.insert.sql, queries.insert.arguments)
                }
                try session.execute(
                    """
                    INSERT INTO report_rollup (form_id, period, signature, seen) VALUES (?, ?, ?, ?)
                    ON CONFLICT (form_id, period) DO UPDATE SET signature = excluded.signature, seen = excluded.seen
                    """, [.text(formID), .text(period), .text(signature), .integer(seenNow)])
                // Removals now seen by every later refresh's start.
                try session.execute(
                    "DELETE FROM report_gone WHERE form_id = ? AND period = ? AND mark < ?", [.text(formID), .text(period), .integer(seenNow)])
            }
            if session.dialect == .sqlite, result != RollupRefresh() {
                try session.execute("UPDATE report_clock SET value = ?", [.integer(seenNow)])
            }
            return result
        }
    }

    /// Runs a report's queries, each part on its own reader connection at
    /// once: for a large scope every part reads many rows.
    public func run(_ queries: ReportQueries) async throws -> ReportData {
        let form = queries.form
        return try await withThrowingTaskGroup(of: ReportData.self) { group in
            for part in queries.totals {
                group.addTask {
                    try await self.engine.read { session in
                        var data = ReportData()
                        for totals in part {
                            try session.forEach(totals.query.sql, totals.query.arguments) { row in
                                // A group's own query answers for it even when none of its units reported.
                                if row.integer(1) > 0 {
                                    data.addTotalsRow(row.values, form: form, layout: totals.layout, histograms: totals.histograms)
                                }
                                return true
                            }
                        }
                        return data
                    }
                }
            }
            for part in queries.watch {
                group.addTask {
                    try await self.engine.read { session in
                        // A large scope returns many rows: each list keeps its
                        // first units as they stream by.
                        var collectors = part.indicators.map { name in
                            WatchCollector(
                                limit: queries.watchLimit, descending: form.indicators.first { $0.name == name }?.descending ?? false)
                        }
                        try session.forEach(part.query.sql, part.query.arguments) { row in
                            for index in collectors.indices where row.optionalInteger(1 + 2 * index) == 1 {
                                collectors[index].offer(detail: row[2 + 2 * index]) { row.text(0) }
                            }
                            return true
                        }
                        var data = ReportData()
                        for (index, name) in part.indicators.enumerated() { data.watch[name] = collectors[index].entries }
                        return data
                    }
                }
            }
            var merged = ReportData()
            for try await part in group {
                merged.groups.merge(part.groups) { a, _ in a }
                for (name, entries) in part.watch { merged.watch[name, default: []] += entries }
                for (chart, counts) in part.histograms {
                    for (bin, units) in counts.enumerated() { merged.addHistogramRow(chart: chart, bin: bin, units: units, bins: counts.count) }
                }
            }
            merged.finishWatch(form: form, limit: queries.watchLimit)
            return merged
        }
    }
}
