import Foundation
import GRDB
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
    /// The row statements, written once: ingest uses them for every survey.
    let upsertSQLite: String
    let deleteSQLite: String

    public init(versions: [Form]) {
        let sorted = versions.sorted { FormCatalog.compareVersions($0.version, $1.version) }
        schema = ReportSchema(formID: sorted[0].id, versions: sorted)
        latest = sorted[sorted.count - 1]
        self.versions = Dictionary(sorted.map { ($0.version, $0) }, uniquingKeysWith: { _, last in last })
        upsertSQLite = schema.upsert(.sqlite)
        deleteSQLite = schema.delete(.sqlite)
    }

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

extension SQLiteServerStorage {
    /// The codes a query of one text column returns (`ReportSQL.missing`).
    public func reportCodes(_ query: SQLQuery) async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: query.sql, arguments: Self.arguments(query.arguments)) }
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

    static func reportValue(_ value: DatabaseValue) -> ReportValue {
        switch value.storage {
        case .null, .blob: return .null
        case .int64(let integer): return .integer(integer)
        case .double(let real): return .real(real)
        case .string(let text): return .text(text)
        }
    }

    /// Creates each form's report table, or rebuilds it from the current
    /// surveys when its columns changed (a new form version); returns the
    /// rows written. The plans are kept for conflict resolutions.
    public func prepareReports(_ plans: [ReportPlan]) async throws -> Int {
        reportPlans.withLock { $0 = Dictionary(plans.map { ($0.schema.formID, $0) }, uniquingKeysWith: { _, last in last }) }
        return try await pool.write { db in
            var written = 0
            for plan in plans {
                let key = "report_schema:\(plan.schema.formID)"
                let signature = plan.schema.signature
                if try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) == signature { continue }
                try db.execute(sql: "DROP TABLE IF EXISTS \(SQLDialect.sqlite.identifier(plan.schema.tableName))")
                for statement in plan.schema.createTable(.sqlite) { try db.execute(sql: statement) }
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT i.id, i.unit, i.period, i.created_at, s.form_version, s.answers
                        FROM instance i JOIN submission s ON s.instance = i.id AND s.revision = i.revision
                        WHERE i.form_id = ? AND i.state = 'current'
                        """, arguments: [plan.schema.formID])
                let upsert = try db.makeStatement(sql: plan.upsertSQLite)
                while let row = try rows.next() {
                    guard let values = plan.row(version: row["form_version"], answers: row["answers"]) else { continue }
                    let id: Int64 = row["id"]
                    let createdAt: Int64 = row["created_at"]
                    try upsert.execute(
                        arguments: Self.arguments(
                            [.text(row["period"]), .text(row["unit"]), .integer(id), .text(row["form_version"]), .integer(createdAt)] + values))
                    written += 1
                }
                try db.execute(
                    sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [key, signature])
            }
            return written
        }
    }

    /// Keeps the report row of a unit and period equal to its current
    /// survey, in the ingest's transaction: removes the row a survey left
    /// (moved, or no longer current) and writes the row it now holds.
    static func updateReportRow(
        plan: ReportPlan?, formVersion: String, row: [ReportValue]?, instance: Int64, createdAt: Int64, left: (unit: String, period: String)?,
        now: (unit: String, period: String)?, db: Database
    ) throws {
        guard let plan else { return }
        if let left {
            try db.cachedStatement(sql: plan.deleteSQLite).execute(arguments: [left.period, left.unit])
        }
        if let now, let row {
            try db.cachedStatement(sql: plan.upsertSQLite).execute(
                arguments: arguments([.text(now.period), .text(now.unit), .integer(instance), .text(formVersion), .integer(createdAt)] + row))
        }
    }

    /// Runs a report's queries, each part on its own reader connection at
    /// once: for a large scope every part reads many rows.
    public func reportData(_ queries: ReportQueries) async throws -> ReportData {
        let form = queries.form
        return try await withThrowingTaskGroup(of: ReportData.self) { group in
            for part in queries.totals {
                group.addTask {
                    try await self.pool.read { db in
                        var data = ReportData()
                        for totals in part {
                            let rows = try Row.fetchCursor(
                                db.cachedStatement(sql: totals.query.sql), arguments: Self.arguments(totals.query.arguments))
                            // A group's own query answers for it even when none of its units reported.
                            while let row = try rows.next() {
                                guard (row[1] as Int64? ?? 0) > 0 else { continue }
                                data.addTotalsRow(
                                    (0..<row.count).map { Self.reportValue(row[$0] as DatabaseValue) }, form: form, layout: totals.layout,
                                    histograms: totals.histograms)
                            }
                        }
                        return data
                    }
                }
            }
            for part in queries.watch {
                group.addTask {
                    try await self.pool.read { db in
                        let rows = try Row.fetchCursor(db, sql: part.query.sql, arguments: Self.arguments(part.query.arguments))
                        // A large scope returns many rows: each list keeps its
                        // first units as they stream by, reading a unit's code
                        // only when its detail could place it among them.
                        var collectors = part.indicators.map { name in
                            WatchCollector(
                                limit: queries.watchLimit, descending: form.indicators.first { $0.name == name }?.descending ?? false)
                        }
                        while let row = try rows.next() {
                            for index in collectors.indices where (row[1 + 2 * index] as Int64?) == 1 {
                                collectors[index].offer(detail: Self.reportValue(row[2 + 2 * index] as DatabaseValue)) { row[0] }
                            }
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
