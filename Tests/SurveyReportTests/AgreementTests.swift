import Foundation
import GRDB
import SurveyCore
import SurveyFixtures
import SurveyReport
import Testing

/// Runs a report's queries on a real SQLite file, as the server does.
struct SQLiteReportSource {
    let queue: DatabaseQueue
    let sql: ReportSQL

    init(path: String, form: Form, schema: ReportSchema) throws {
        queue = try DatabaseQueue(path: path)
        sql = ReportSQL(form: form, schema: schema, dialect: .sqlite)
        try queue.write { db in
            for statement in schema.createTable(.sqlite) { try db.execute(sql: statement) }
            // The report rows' clock (`SQLDialect.changeMark`), as in the server's schema.
            try db.execute(sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('report_clock', 1)")
            try db.execute(sql: "CREATE TABLE report_gone (form_id TEXT NOT NULL, period TEXT NOT NULL, grp TEXT NOT NULL, mark INTEGER NOT NULL)")
        }
    }

    /// Computes every township's rollup rows of a period from the report table.
    func buildRollup(_ rollup: RollupSQL, period: String, dueBefore: Int64?) throws {
        try queue.write { db in
            try db.execute(sql: "DROP TABLE IF EXISTS \(rollup.tableName)")
            try db.execute(sql: rollup.createTable())
            let refresh = try rollup.refresh(period: period, dueBefore: dueBefore, townships: nil)
            try db.execute(sql: refresh.delete.sql, arguments: Self.arguments(refresh.delete.arguments))
            try db.execute(sql: refresh.insert.sql, arguments: Self.arguments(refresh.insert.arguments))
        }
    }

    /// The totals of a scope from the rollup rows, assembled as the server does.
    func rollupTotals(_ rollup: RollupSQL, scopePrefix: String, period: String, groupLength: Int, dueBefore: Int64?) throws -> ReportData {
        var data = ReportData()
        let totals = try rollup.totals(scopePrefix: scopePrefix, period: period, groupLength: groupLength, dueBefore: dueBefore)
        try queue.read { db in
            for row in try Row.fetchAll(db, sql: totals.query.sql, arguments: Self.arguments(totals.query.arguments)) where (row[1] as Int64? ?? 0) > 0 {
                data.addTotalsRow(
                    (0..<row.count).map { Self.reportValue(row[$0] as DatabaseValue) }, form: sql.form, layout: totals.layout,
                    histograms: totals.histograms)
            }
        }
        return data
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
        case .null: return .null
        case .int64(let integer): return .integer(integer)
        case .double(let real): return .real(real)
        case .string(let text): return .text(text)
        case .blob: return .null
        }
    }

    func insert(_ survey: ReportSurvey, instance: Int64, schema: ReportSchema) throws {
        let row = schema.row(form: survey.form, topValues: survey.form.topValues(survey.answers))
        try queue.write { db in
            try db.execute(
                sql: schema.upsert(.sqlite),
                arguments: Self.arguments(
                    [
                        .text(survey.period), .text(survey.unit), .integer(instance), .text(survey.form.version),
                        survey.reportedAt.map(ReportValue.integer) ?? .null,
                    ]
                        + row))
        }
    }

    /// Runs the queries the server runs, in `parts` code ranges as the server
    /// does for a large scope, and assembles them the same way.
    func data(scopePrefix: String, period: String, groupLength: Int, dueBefore: Int64?, watchLimit: Int, groups: [String] = [], parts: Int = 1)
        throws -> ReportData
    {
        let form = sql.form
        var data = ReportData()
        try queue.read { db in
            let totalsParts = try sql.totalsParts(
                scopePrefix: scopePrefix, period: period, groupLength: groupLength, dueBefore: dueBefore, groups: groups, parts: parts)
            for (range, part) in zip(sql.split(scopePrefix: scopePrefix, groups: groups, parts: parts), totalsParts) {
                for totals in part {
                    for row in try Row.fetchAll(db, sql: totals.query.sql, arguments: Self.arguments(totals.query.arguments))
                    where (row[1] as Int64? ?? 0) > 0 {
                        data.addTotalsRow(
                            (0..<row.count).map { Self.reportValue(row[$0] as DatabaseValue) }, form: form, layout: totals.layout,
                            histograms: totals.histograms)
                    }
                }
                if let watch = try sql.watchAll(scopePrefix: scopePrefix, period: period, range: range) {
                    // As the server: each part keeps its first units as rows stream by.
                    var collectors = watch.indicators.map { name in
                        WatchCollector(limit: watchLimit, descending: form.indicators.first { $0.name == name }?.descending ?? false)
                    }
                    for row in try Row.fetchAll(db, sql: watch.query.sql, arguments: Self.arguments(watch.query.arguments)) {
                        for index in collectors.indices where (row[1 + 2 * index] as Int64?) == 1 {
                            collectors[index].offer(detail: Self.reportValue(row[2 + 2 * index] as DatabaseValue)) { row[0] }
                        }
                    }
                    for (index, name) in watch.indicators.enumerated() { data.watch[name, default: []] += collectors[index].entries }
                }
            }
            let reported = sql.reported(scopePrefix: scopePrefix, period: period)
            for row in try Row.fetchAll(db, sql: reported.sql, arguments: Self.arguments(reported.arguments)) {
                data.reported[row["unit"]] = row["reported_at"] as Int64?
            }
        }
        data.finishWatch(form: form, limit: watchLimit)
        return data
    }
}

@Suite("SurveyReport: the SQL the server runs agrees with the reference evaluator")
struct AgreementTests {
    static let catalog = Fixtures.catalog()
    static let registry = catalog.registry!

    @Test("every indicator of the shipped forms can be computed in SQL")
    func shippedFormsTranslate() throws {
        for id in ["village-branch", "community-branch", "cadre-team"] {
            let form = try Fixtures.form(id)
            let problems = ReportSQL(form: form, schema: ReportSchema(formID: id, versions: [form]), dialect: .sqlite).problems()
            #expect(problems.isEmpty, "\(id): \(problems)")
            #expect(ReportSQL(form: form, schema: ReportSchema(formID: id, versions: [form]), dialect: .postgres).problems().isEmpty)
        }
    }

    /// Random village surveys: generated answers, some answers left out,
    /// some pushed to the thresholds the indicators test.
    static func surveys(seed: UInt64, form: Form) -> [ReportSurvey] {
        var generator = VillageBranchGenerator(seed: seed)
        var random = SeededGenerator(seed: seed &* 31)
        let villages = registry.units.filter { $0.level == .village }
        var surveys: [ReportSurvey] = []
        for village in villages where Double.random(in: 0..<1, using: &random) < 0.8 {
            var answers = generator.next()
            let roll = Int.random(in: 0..<10, using: &random)
            switch roll {
            case 0: answers["operating_income"] = .integer(0)
            case 1: answers["operating_income"] = .integer(49_999)
            case 2: answers["operating_income"] = .integer(50_000)
            case 3: answers["secretary_birth_year"] = .integer(2026 - 60)
            case 4:
                answers["reserve_cadres"] = .integer(0)
                answers["reserve_cadres_35_under"] = nil
            case 5: answers["office_funding"] = nil
            case 6: answers["members_trained"] = nil
            default: break
            }
            let result = form.validate(answers, today: Fixtures.sampleToday)
            guard result.isValid else { continue }
            let period = Int.random(in: 0..<4, using: &random) == 0 ? "2025" : "2026"
            let reportedAt = Int64(1_780_000_000_000) + Int64.random(in: 0...20_000_000_000, using: &random)
            surveys.append(ReportSurvey(unit: village.code.rawValue, period: period, form: form, answers: result.answers, reportedAt: reportedAt))
        }
        return surveys
    }

    /// The same groups, each with the same counts and (to rounding) sums.
    static func expectEqualTotals(_ tested: ReportData, _ reference: ReportData, form: Form, _ context: String) {
        #expect(Set(tested.groups.keys) == Set(reference.groups.keys), "\(context)")
        for (key, swift) in reference.groups {
            guard let sql = tested.groups[key] else { continue }
            #expect(sql.reporting == swift.reporting && sql.onTime == swift.onTime, "\(context) \(key)")
            for (index, indicator) in form.indicators.enumerated() {
                let (a, b) = (sql.indicators[index], swift.indicators[index])
                #expect(a.count == b.count, "\(context) \(key) \(indicator.name): count \(a.count) vs \(b.count)")
                #expect(abs(a.sum - b.sum) <= 1e-9 * max(1, abs(b.sum)), "\(context) \(key) \(indicator.name): sum \(a.sum) vs \(b.sum)")
                #expect(abs(a.denominator - b.denominator) <= 1e-9 * max(1, abs(b.denominator)), "\(context) \(key) \(indicator.name)")
            }
        }
    }

    @Test("random surveys: equal totals, watch lists and reports for the county, each township and the whole country", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func agreement(seed: UInt64) throws {
        let form = try Fixtures.form("village-branch")
        let schema = ReportSchema(formID: form.id, versions: [form])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try SQLiteReportSource(path: directory.appendingPathComponent("report.sqlite").path, form: form, schema: schema)
        let surveys = Self.surveys(seed: seed, form: form)
        #expect(surveys.count > 100)
        for (index, survey) in surveys.enumerated() { try source.insert(survey, instance: Int64(index + 1), schema: schema) }
        let reference = ReferenceEvaluator(form: form)
        let due = Int64(1_790_000_000_000)
        let county = UnitCode("130102000000")!
        let rollup = try RollupSQL(source.sql)
        try source.buildRollup(rollup, period: "2026", dueBefore: due)
        let scopes = [county, UnitCode("000000000000")!, UnitCode("130100000000")!] + Self.registry.units(under: county, level: .township).map(\.code)
        for scope in scopes {
            let length = Report.groupLength(scope: scope, form: form)
            // The county and the country are read in three parts, as the server reads a large scope.
            // The groups the server knows from its registry: two in three of those with data, so
            // that the rest are counted by the queries for the codes between known groups.
            let withData = Set(surveys.map { String($0.unit.prefix(length)) }).sorted()
            let groups = withData.enumerated().filter { $0.offset % 3 != 1 }.map(\.element)
            let parts = scope.significantLength <= 6 ? 3 : 1
            let fromSQL = try source.data(
                scopePrefix: scope.prefix, period: "2026", groupLength: length, dueBefore: due, watchLimit: 15, groups: groups, parts: parts)
            let fromSwift = reference.data(surveys, scopePrefix: scope.prefix, period: "2026", groupLength: length, dueBefore: due, watchLimit: 15)
            Self.expectEqualTotals(fromSQL, fromSwift, form: form, "\(scope)")
            // Above a county, the server adds up township rollup rows: the same totals and histograms.
            if length < RollupSQL.groupLength {
                let fromRollup = try source.rollupTotals(rollup, scopePrefix: scope.prefix, period: "2026", groupLength: length, dueBefore: due)
                #expect(!fromRollup.groups.isEmpty)
                Self.expectEqualTotals(fromRollup, fromSwift, form: form, "\(scope) from rollups")
                #expect(fromRollup.histograms == fromSwift.histograms, "\(scope)")
            }
            #expect(fromSQL.reported == fromSwift.reported, "\(scope)")
            #expect(fromSQL.watch == fromSwift.watch, "\(scope)")
            #expect(fromSQL.histograms == fromSwift.histograms && !fromSQL.histograms.isEmpty, "\(scope)")
            // The reports as shown are the same to the last digit.
            let previousSQL = try source.data(scopePrefix: scope.prefix, period: "2025", groupLength: length, dueBefore: nil, watchLimit: 15)
            let previousSwift = reference.data(surveys, scopePrefix: scope.prefix, period: "2025", groupLength: length, dueBefore: nil, watchLimit: 15)
            let a = Report(form: form, registry: Self.registry, scope: scope, period: "2026", data: fromSQL, previous: previousSQL)
            let b = Report(form: form, registry: Self.registry, scope: scope, period: "2026", data: fromSwift, previous: previousSwift)
            #expect(a.text(.zh) == b.text(.zh))
            #expect(a.csv(.en) == b.csv(.en))
        }
    }
}
