import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveyServer
import Testing

/// The data-quality section of reports, over seeded data with anomalies
/// planted, and the outlier screening it reads.
@Suite("Data quality: planted anomalies found, plausible changes not; the report's section", .serialized)
struct QualityReportTests {
    @Test(
        "seed makes the year before and this year from it with anomalies planted: every planted anomaly is flagged, no plausible change is; the county report's quality section counts them by township, in JSON, CSV, text and the page",
        arguments: TestDatabase.all)
    func plantedAnomalies(database: TestDatabase) async throws {
        let directory = try scratchDirectory("quality")
        let storage = try await database.makeStorage(in: directory)
        try await withCleanup({
            await TestDatabase.drop(storage)
            try? FileManager.default.removeItem(at: directory)
        }) {
            let service = SurveyService(storage: storage, catalog: LiveServer.catalog)
            let seeded = try await service.seed(villages: 1_500, period: "2026", seed: 11, previousYear: true, anomalies: 0.02)
            #expect(seeded.refused == 0 && seeded.stored == 1_500 && seeded.previousStored == 1_500)
            let planted = seeded.planted
            #expect(planted.count >= 15, "\(planted.count) planted")
            #expect(Set(planted.values).count >= 5, "\(Set(planted.values))")

            let country = UnitCode("000000000000")!
            let report = try await service.report(formID: "village-branch", scope: country, period: "2026")
            let quality = try #require(report.quality)
            #expect(report.previousPeriod == "2025")
            // Every flagged survey, not only the first hundred the section lists.
            let flagged = try await storage.flaggedSurveys(formID: "village-branch", period: "2026", under: country)
            let outliers = try await service.reports.outliers(formID: "village-branch", period: "2026", scopePrefix: "")
            let warned = Set(flagged.filter { $0.flags & (SurveyChecks.Flag.unconfirmed.rawValue | SurveyChecks.Flag.confirmed.rawValue) != 0 }.map(\.unit))
            let changed = Set(flagged.filter { $0.flags & SurveyChecks.Flag.changed.rawValue != 0 }.map(\.unit))
            let outlying = Set(outliers.map(\.unit))
            let found = planted.keys.filter { warned.contains($0) || changed.contains($0) || outlying.contains($0) }
            #expect(found.count == planted.count, "planted but not flagged: \(planted.filter { !found.contains($0.key) })")
            // Plausible changes (the other villages) fire no warning and no change flag.
            let falseAlarms = warned.union(changed).subtracting(planted.keys)
            #expect(falseAlarms.isEmpty, "plausible changes flagged: \(falseAlarms.sorted().prefix(10))")
            let natural = outlying.subtracting(planted.keys)
            print(
                "quality: \(planted.count) anomalies planted (\(Dictionary(grouping: planted.values, by: \.rawValue).mapValues(\.count).sorted { $0.key < $1.key })), \(found.count) found; "
                    + "\(falseAlarms.count) of \(seeded.stored - planted.count) plausible changes flagged; \(natural.count) other villages' values far from their township's or county's")
            // Each kind is found the way it should be.
            for (unit, kind) in planted {
                switch kind {
                case .incomeJump, .fundingJump, .membersTenfold: #expect(changed.contains(unit), "\(unit) \(kind)")
                case .membersHalved, .secretaryBirthYear: #expect(warned.contains(unit), "\(unit) \(kind)")
                case .operatingGone: #expect(warned.contains(unit) && changed.contains(unit), "\(unit) \(kind)")
                }
            }

            // The section adds up and lists the most doubtful first.
            #expect(quality.total.surveys == report.total.reported)
            #expect(quality.total.unconfirmed == flagged.filter { $0.flags & SurveyChecks.Flag.unconfirmed.rawValue != 0 }.count)
            #expect(quality.total.changed == changed.count)
            #expect(quality.total.outliers == outlying.count)
            #expect(quality.groups.map(\.unit) == report.rows.map(\.unit))
            #expect(quality.groups.map(\.counts.unconfirmed).reduce(0, +) == quality.total.unconfirmed)
            #expect(quality.flagged == Set(flagged.map(\.unit)).union(outlying).count)
            #expect(quality.items.count == min(100, quality.flagged))
            let unconfirmedFirst = quality.items.prefix { $0.unconfirmed > 0 }.count
            #expect(unconfirmedFirst == min(quality.items.count, quality.total.unconfirmed))
            #expect(quality.items.allSatisfy { $0.instanceID != nil })

            // A county's report, as its clerk reads it: JSON, CSV and text.
            // The county with the most flagged surveys.
            let counties = Dictionary(grouping: Set(flagged.map(\.unit)).union(outlying), by: { String($0.prefix(6)) })
            let busiest = try #require(counties.max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }).key
            let countyCode = try #require(UnitCode(busiest + "000000"))
            let countyReport = try await service.report(formID: "village-branch", scope: countyCode, period: "2026")
            let section = try #require(countyReport.quality)
            #expect(section.groups.map(\.unit) == countyReport.rows.map(\.unit))
            let json = countyReport.json(.en)
            #expect(json["quality"]?["total"]?["surveys"] == .integer(countyReport.total.reported))
            let read = try Report(json: json, form: LiveServer.form)
            #expect(read.quality?.total == section.total && read.quality?.items.map(\.unit) == section.items.map(\.unit))
            let csv = countyReport.qualityCSV(.zh)
            let lines = csv.dropFirst().split(separator: "\r\n")
            #expect(lines.first == "单位代码,单位名称,调查数,警示未确认,警示已确认,与上期相比变化大,偏离本地其他村")
            #expect(lines.count == 1 + countyReport.rows.count + 1)
            let text = countyReport.text(.zh)
            #expect(text.contains("数据质量") && text.contains("需核实的调查:\(section.flagged) 份"))
            if let first = section.items.first {
                #expect(text.contains("\(first.unit) \(first.name):"))
                let page = countyReport.html(.zh, generated: "2026-12-02", links: ReportLinks(row: { _ in nil }, unit: { _ in nil }, periods: [], survey: { item in "/workspace/surveys/\(item.instanceID ?? "")" }))
                #expect(page.contains("<h2>数据质量</h2>") && page.contains("href=\"/workspace/surveys/\(first.instanceID ?? "")\""))
            }
            // The indicators' CSV stays one table.
            #expect(!countyReport.csv(.zh).contains("数据质量"))
        }
    }

    @Test("modified z-scores: a value many times the typical one is far, a long tail and zeros are not; small groups are not screened")
    func modifiedZScores() {
        let typical: [Double] = [40, 42, 38, 45, 41, 39, 44, 43, 37, 46]
        #expect(OutlierDetection.scores([1, 2, 3, 4]) == nil)
        #expect(OutlierDetection.scores(Array(repeating: 5, count: 8)) == nil)
        let rows = (typical + [420]).enumerated().map { (unit: "1301020012\(String(format: "%02d", $0.offset))", values: [Optional($0.element)]) }
        let flags = OutlierDetection.flags(rows: rows, fields: ["members_total"], threshold: 3.5)
        #expect(Set(flags.map(\.unit)) == [rows.last!.unit])
        #expect(flags.allSatisfy { $0.score > 3.5 && abs($0.median - 41.5) < 1 })
        // More than half equal (MAD 0): the mean absolute deviation stands in.
        let flat = OutlierDetection.scores([10, 10, 10, 10, 10, 10, 12, 100])!
        #expect(flat.scores.last! > 3.5 && abs(flat.scores[6]) < 3.5)
        // A zero is not screened.
        let withZero = (typical + [0]).enumerated().map { (unit: "1301020013\(String(format: "%02d", $0.offset))", values: [Optional($0.element)]) }
        #expect(OutlierDetection.flags(rows: withZero, fields: ["collective_income"], threshold: 3.5).isEmpty)
    }
}
