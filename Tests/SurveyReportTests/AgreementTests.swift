import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveySQL
import SurveySQLite
import Testing

/// The report engine the server runs, on a temporary SQLite file that
/// holds only the report tables: surveys go in through the same hook that
/// ingest calls inside its transaction.
struct ReportDatabase {
    /// No store of surveys behind the tables: they start empty.
    struct NoSurveys: CurrentSurveySource {
        func currentSurveys(formID: String, after: Int64, limit: Int, in session: any SQLSession) throws -> [CurrentSurvey] { [] }
    }

    let directory: URL
    let engine: SQLiteEngine
    let reports: ReportEngine

    init(catalog: FormCatalog, splitAbove: Int) async throws {
        directory = try scratchDirectory("report")
        engine = try SQLiteEngine(path: directory.appendingPathComponent("report.sqlite").path, migrations: ReportEngine.migrations(.sqlite))
        reports = ReportEngine(engine: engine, source: NoSurveys(), splitAbove: splitAbove)
        try await reports.prepare(catalog)
    }

    /// Stores `surveys` as current, as ingest does.
    func insert(_ surveys: [ReportSurvey]) async throws {
        let reports = reports
        try await engine.write { session in
            for (index, survey) in surveys.enumerated() {
                try reports.record(
                    formID: survey.form.id, formVersion: survey.form.version,
                    row: reports.row(form: survey.form, topValues: survey.form.topValues(survey.answers)), instance: Int64(index + 1),
                    reportedAt: survey.reportedAt, left: nil, now: (survey.unit, survey.period), in: session)
            }
        }
    }

    func remove() {
        engine.close()
        try? FileManager.default.removeItem(at: directory)
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

    @Test(
        "random surveys: the report engine's reports (totals, rollups above a county, watch lists, units not reported) equal the reference evaluator's for the county, each township, the city and the country",
        arguments: [1, 2, 3, 4, 5] as [UInt64])
    func agreement(seed: UInt64) async throws {
        let form = try Fixtures.form("village-branch")
        // A low split, so that the county and the country are read in two parts at once, as a province is.
        let database = try await ReportDatabase(catalog: Self.catalog, splitAbove: 100)
        defer { database.remove() }
        let surveys = Self.surveys(seed: seed, form: form)
        #expect(surveys.count > 100)
        try await database.insert(surveys)
        let reference = ReferenceEvaluator(form: form)
        let county = UnitCode("130102000000")!
        let scopes = [county, UnitCode("000000000000")!, UnitCode("130100000000")!] + Self.registry.units(under: county, level: .township).map(\.code)
        for scope in scopes {
            let length = Report.groupLength(scope: scope, form: form)
            let engine = try await database.reports.report(
                formID: form.id, scope: scope, period: "2026", registry: Self.registry, watchLimit: 15, missingLimit: 200)
            let now = reference.data(
                surveys, scopePrefix: scope.prefix, period: "2026", groupLength: length, dueBefore: form.deadline(of: "2026"), watchLimit: 15)
            let before = reference.data(surveys, scopePrefix: scope.prefix, period: "2025", groupLength: length, dueBefore: nil, watchLimit: 15)
            let expected = Report(form: form, registry: Self.registry, scope: scope, period: "2026", data: now, previous: before, missingLimit: 200)
            #expect(engine.total.reported > 0, "\(scope)")
            #expect(engine.text(.zh) == expected.text(.zh), "\(scope)")
            #expect(engine.csv(.en) == expected.csv(.en), "\(scope)")
            #expect(engine.json(.en) == expected.json(.en), "\(scope)")
            #expect(engine.histograms == expected.histograms && !engine.histograms.isEmpty, "\(scope)")
        }
    }

    @Test(
        "random surveys: totals read in three code ranges, a group at a time with stretches between the groups the registry knows, equal the reference's",
        arguments: [1, 2] as [UInt64])
    func partsAndStretches(seed: UInt64) async throws {
        let form = try Fixtures.form("village-branch")
        let database = try await ReportDatabase(catalog: Self.catalog, splitAbove: 100)
        defer { database.remove() }
        let surveys = Self.surveys(seed: seed, form: form)
        try await database.insert(surveys)
        let plan = try #require(database.reports.plan(form.id))
        let sql = ReportSQL(form: form, schema: plan.schema, dialect: .sqlite)
        let reference = ReferenceEvaluator(form: form)
        let due = form.deadline(of: "2026")
        for scope in [UnitCode("130102000000")!, UnitCode("000000000000")!] {
            let length = Report.groupLength(scope: scope, form: form)
            // The groups a registry knows: two in three of those with data,
            // so that the rest are counted by the queries for the codes between.
            let withData = Set(surveys.map { String($0.unit.prefix(length)) }).sorted()
            let groups = withData.enumerated().filter { $0.offset % 3 != 1 }.map(\.element)
            let ranges = sql.split(scopePrefix: scope.prefix, groups: groups, parts: 3)
            let data = try await database.reports.run(
                ReportQueries(
                    form: form,
                    totals: try sql.totalsParts(scopePrefix: scope.prefix, period: "2026", groupLength: length, dueBefore: due, groups: groups, parts: 3),
                    watch: try ranges.compactMap { try sql.watchAll(scopePrefix: scope.prefix, period: "2026", range: $0) }, watchLimit: 15))
            let fromSwift = reference.data(surveys, scopePrefix: scope.prefix, period: "2026", groupLength: length, dueBefore: due, watchLimit: 15)
            Self.expectEqualTotals(data, fromSwift, form: form, "\(scope)")
            #expect(data.watch == fromSwift.watch, "\(scope)")
            #expect(data.histograms == fromSwift.histograms, "\(scope)")
        }
    }
}
