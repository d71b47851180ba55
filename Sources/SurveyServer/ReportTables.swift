import Foundation
import SurveyCore
import SurveyReport
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
    public func row(version: String, answers: String) -> [ReportValue]? {
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

/// The queries of one report, built by `ReportSQL` for the storage's dialect.
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

extension RelationalStorage {
    static var reportTablesLock: Int64 { 0x5653_5256_5250_5254 }

    /// The codes a query of one text column returns (`ReportSQL.missing`).
    public func reportCodes(_ query: SQLQuery) async throws -> [String] {
        try await engine.read { session in try session.all(query.sql, query.arguments).map { $0.text(0) } }
    }

    /// Creates each form's report table, or rebuilds it from the current
    /// surveys when its columns changed (a new form version); returns the
    /// rows written. The plans are kept for ingest and conflict resolutions.
    public func prepareReports(_ plans: [ReportPlan], progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws -> Int {
        reportPlans.replace(with: plans)
        return try await engine.write { session in
            let dialect = session.dialect
            // Servers that start together on one PostgreSQL database take
            // turns: the second finds the tables made.
            if dialect == .postgres { try session.execute("SELECT pg_advisory_xact_lock(?)", [.integer(Self.reportTablesLock)]) }
            var written = 0
            for plan in plans {
                let formID = plan.schema.formID
                let signature = plan.schema.signature(dialect)
                if try session.one("SELECT signature FROM report_schema WHERE form_id = ?", [.text(formID)])?.text(0) == signature { continue }
                try session.execute("DROP TABLE IF EXISTS \(dialect.identifier(plan.schema.tableName))", [])
                for statement in plan.schema.createTable(dialect) { try session.execute(statement, []) }
                // A page of current surveys at a time, by id: memory stays that
                // of a page, and no query runs while another's rows stream.
                // The bound on `s.instance` too lets PostgreSQL's merge join
                // start at the page instead of reading every submission
                // before it (each page took 0.7 s at 500,000 surveys).
                // SQLite, without statistics, would rather read every
                // current survey of the form from its partial index and sort
                // them, for each page (1.4 to 6 s a page at 980,000 surveys):
                // NOT INDEXED keeps it on the id.
                let byID = dialect == .sqlite ? " NOT INDEXED" : ""
                var after: Int64 = 0
                var tableRows = 0
                while true {
                    let page = try session.all(
                        """
                        SELECT i.id, i.unit, i.period, i.created_at, s.form_version, s.answers
                        FROM instance i\(byID) JOIN submission s ON s.instance = i.id AND s.revision = i.revision
                        WHERE i.form_id = ? AND i.state = 'current' AND i.id > ? AND s.instance > ?
                        ORDER BY i.id LIMIT 1000
                        """, [.text(formID), .integer(after), .integer(after)])
                    guard let last = page.last else { break }
                    after = last.integer(0)
                    let rows = page.compactMap { row -> [ReportValue]? in
                        guard let values = plan.row(version: row.text(4), answers: row.text(5)) else { return nil }
                        return [.text(row.text(2)), .text(row.text(1)), .integer(row.integer(0)), .text(row.text(4)), .integer(row.integer(3))] + values
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
            return written
        }
    }

    static var reportRollupLock: Int64 { 0x5653_5256_524F_4C4C }

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
            if session.dialect == .postgres { try session.execute("SELECT pg_advisory_xact_lock(?)", [.integer(Self.reportRollupLock)]) }
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
                seenNow = (try session.one("SELECT value FROM meta WHERE key = 'report_clock'")?.integer(0) ?? 0) + 1
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
                try session.execute("UPDATE meta SET value = ? WHERE key = 'report_clock'", [.integer(seenNow)])
            }
            return result
        }
    }

    /// Runs a report's queries, each part on its own reader connection at
    /// once: for a large scope every part reads many rows.
    public func reportData(_ queries: ReportQueries) async throws -> ReportData {
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
