import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveyServer

/// `vsurvey-bench report [--villages N]`: seeds a fresh server database
/// with N villages (490,000 by default, the country's number of
/// administrative villages) and one survey each for 2026 and for 2025,
/// through the server's own checks and ingest, times the ingest of 20,000
/// more surveys into it, then times a county report (about 300 villages)
/// and the national report with the change since 2025, as the API makes
/// them (queries, report, JSON).
enum ReportBenchmark {
    /// With `existing`, reports on a database seeded before (`vsurvey-server
    /// seed`, or `copy` to PostgreSQL) instead of seeding one: an SQLite
    /// path or a `postgres://` URL.
    static func run(villages: Int, existing: String?) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-bench-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let postgres = existing?.hasPrefix("postgres://") == true
        let storage: any ServerStorage =
            postgres
            ? try await PostgresServerStorage(url: existing!, connections: 8)
            : try SQLiteServerStorage(path: existing ?? directory.appendingPathComponent("server.sqlite").path)
        defer { (storage as? PostgresServerStorage)?.close() }
        let service = SurveyService(storage: storage, catalog: Fixtures.catalog())
        var met = true
        if existing == nil {
            print("vsurvey-bench report: seeding \(villages) villages with one village-branch survey each for 2026 and 2025…")
            for (period, seed) in [("2026", UInt64(7)), ("2025", 8)] {
                let seeded = try await service.seed(villages: period == "2026" ? villages : nil, period: period, seed: seed, concurrency: 4) {
                    done, total in
                    if done % 50_000 < 500 || done == total { FileHandle.standardError.write(Data("  \(period): \(done)/\(total)\n".utf8)) }
                }
                print(
                    String(
                        format: "seeding %@:    %d surveys made and ingested in %.1f s, %.0f per second, %d refused", period, seeded.stored,
                        seeded.ingestSeconds, Double(seeded.stored) / seeded.ingestSeconds, seeded.refused))
            }
        }
        // Ingest at this size: 20,000 more surveys (for a year before 2025
        // that has none yet, which the 2026 reports do not read) made in
        // advance, sent in batches of 500, four at a time, for villages all
        // over the country.
        let registry = try await service.registry()
        let country = UnitCode("000000000000")!
        var year = 2024
        while try await service.report(formID: "village-branch", scope: country, period: String(year)).total.reported > 0 { year -= 1 }
        let extraPeriod = String(year)
        var data = SeedData(seed: 11)
        let villagesList = registry.units.filter { $0.level == .village }
        let form = Fixtures.catalog().form("village-branch")!
        var batches: [[JSONValue]] = []
        for index in 0..<min(20_000, villagesList.count) {
            if index % 500 == 0 { batches.append([]) }
            let survey: JSONObject = [
                "instance_id": .string(UUID().uuidString.lowercased()), "revision": .integer(1), "form": .string(form.id),
                "version": .string(form.version), "unit": .string(villagesList[index * villagesList.count / 20_000].code.rawValue),
                "period": .string(extraPeriod), "answers": .object(data.villageBranch(prosperity: 1, year: year)),
            ]
            batches[batches.count - 1].append(.object(survey))
        }
        let principal = Principal(tokenID: 0, name: "bench", role: .admin, unit: UnitCode("000000000000")!)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<4 where next < batches.count {
                let batch = batches[next]
                next += 1
                group.addTask { _ = try await service.ingest(["surveys": .array(batch)], by: principal) }
            }
            while try await group.next() != nil {
                guard next < batches.count else { continue }
                let batch = batches[next]
                next += 1
                group.addTask { _ = try await service.ingest(["surveys": .array(batch)], by: principal) }
            }
        }
        let elapsed = (ContinuousClock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        let rate = Double(batches.reduce(0) { $0 + $1.count }) / seconds
        print(
            String(
                format: "ingest at size:  20,000 more surveys into the %d-survey database: %.0f per second%@",
                try await storage.counts().current, rate, postgres ? "" : " (target: at least 5,000)"))
        // The ingest target is SQLite's; PostgreSQL's is in `vsurvey-bench postgres`.
        met = met && (postgres || rate >= 5000)
        let counties = registry.units.filter { $0.level == .county }
        // The county nearest to 300 villages.
        let county = counties.min { a, b in
            abs(registry.units(under: a.code, level: .village).count - 300) < abs(registry.units(under: b.code, level: .village).count - 300)
        }!
        let countyVillages = registry.units(under: county.code, level: .village).count
        func time(_ scope: UnitCode, runs: Int, period: String = "2026") async throws -> (
            median: Double, worst: Double, first: Double, bytes: Int, previous: String?
        ) {
            var times: [Double] = []
            var bytes = 0
            var previous: String?
            for _ in 0..<runs {
                let started = ContinuousClock.now
                let report = try await service.report(formID: "village-branch", scope: scope, period: period)
                bytes = report.json(.zh).serializedBytes().count
                previous = report.previousPeriod
                let elapsed = (ContinuousClock.now - started).components
                times.append(Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15)
            }
            let first = times[0]
            times.sort()
            return (times[times.count / 2], times.last!, first, bytes, previous)
        }
        let countyTimes = try await time(county.code, runs: 21)
        print(
            String(
                format: "county report:   %@ (%d villages): median %.1f ms, slowest %.1f ms of 21 (target under 50 ms), %d bytes of JSON",
                county.code.rawValue, countyVillages, countyTimes.median, countyTimes.worst, countyTimes.bytes))
        // Above a county the totals add up township rollups: the first
        // report after the report tables were built computes them whole.
        let nationalTimes = try await time(country, runs: 6)
        print(
            String(
                format: "national report: %d villages%@: median %.0f ms, slowest %.0f ms of 6 (target under 2,000 ms); the first %.0f ms",
                registry.units.count { $0.level == .village }, nationalTimes.previous.map { ", with the change since \($0)" } ?? "", nationalTimes.median,
                nationalTimes.worst, nationalTimes.first))
        // The rollups kept up to date: 2,000 of the surveys just sent are
        // edited, and the next national report of their year computes
        // their townships again.
        _ = try await time(country, runs: 1, period: extraPeriod)
        let edits = batches.joined().prefix(2_000).map { value -> JSONValue in
            var survey = value.objectValue!
            survey["revision"] = .integer(2)
            survey["replaces"] = .integer(1)
            survey["answers"] = .object(data.villageBranch(prosperity: 2, year: year))
            return .object(survey)
        }
        var updated = 0
        for start in stride(from: 0, to: edits.count, by: 500) {
            let results = try await service.ingest(["surveys": .array(Array(edits[start..<min(edits.count, start + 500)]))], by: principal)
            updated += results.count { $0.outcome == .updated }
        }
        let afterEdits = try await time(country, runs: 1, period: extraPeriod)
        let again = try await time(country, runs: 3, period: extraPeriod)
        print(
            String(
                format: "after 2,000 edits (%d updated) in %@: national report %.0f ms, then median %.0f ms (townships computed again in the first)",
                updated, extraPeriod, afterEdits.first, again.median))
        // Anonymous memory: the database file's pages that SQLite maps are
        // the operating system's cache, not the process's own.
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let anonymous = status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") }.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        print(String(format: "memory:          %.0f MiB anonymous (this process: server and reports, after seeding if it seeded)", anonymous / 1024))
        met = met && countyTimes.median < 50 && nationalTimes.median < 2000
        print(met ? "targets met" : "TARGET MISSED")
    }
}
