import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveyServer

/// `vsurvey-bench checks [--count N] [--rounds R]`: what last year's
/// survey costs at ingest. The same this-year surveys (made from last
/// year's with a year's changes) go into a database that holds last
/// year's, with village-branch 2026.1 (no previous(), no warnings) and
/// with 2026.2 (previous(), warnings, change flags, the outlier marks), R
/// times each, alternating, in one run; the medians are compared. Then
/// the outlier screening and a county report with its quality section on
/// the last 2026.2 database.
enum ChecksBenchmark {
    static func run(count: Int, rounds: Int) async throws {
        let catalog = Fixtures.catalog()
        guard let old = catalog.form("village-branch@2026.1"), let new = catalog.form("village-branch@2026.2") else {
            fatalError("the shipped forms lack village-branch 2026.1 or 2026.2")
        }
        // Counties of 300 villages in townships of 20.
        var units: [OrgUnit] = []
        var villages: [String] = []
        let province = UnitCode("130000000000")!
        units.append(OrgUnit(code: province, name: "省", level: .province, parent: nil))
        for county in 0..<((count + 299) / 300) {
            // Cities of up to 90 counties.
            let cityPrefix = "13" + ServerBenchmark.pad(1 + county / 90, 2)
            let city = UnitCode(cityPrefix + "00000000")!
            if county % 90 == 0 { units.append(OrgUnit(code: city, name: "市", level: .city, parent: province)) }
            let countyPrefix = cityPrefix + ServerBenchmark.pad(1 + county % 90, 2)
            let countyCode = UnitCode(countyPrefix + "000000")!
            units.append(OrgUnit(code: countyCode, name: "县\(county)", level: .county, parent: city))
            for township in 1...15 {
                let townshipCode = UnitCode(countyPrefix + ServerBenchmark.pad(township, 3) + "000")!
                units.append(OrgUnit(code: townshipCode, name: "镇\(township)", level: .township, parent: countyCode))
                for village in 1...20 where villages.count < count {
                    let code = UnitCode(townshipCode.rawValue.prefix(9) + ServerBenchmark.pad(200 + village, 3))!
                    units.append(OrgUnit(code: code, name: "村\(village)", level: .village, parent: townshipCode))
                    villages.append(code.rawValue)
                }
            }
        }
        func wealth(_ unit: String) -> Double {
            var county = SeedData.forUnit(7, String(unit.prefix(6)), stream: 1)
            return county.prosperity()
        }
        func lastYear(_ unit: String) -> JSONObject {
            var village = SeedData.forUnit(7, unit, stream: 2)
            return village.villageBranch(prosperity: wealth(unit), year: 2025)
        }
        func bodies(period: String, version: String, answers: (String) -> JSONObject) -> [[UInt8]] {
            stride(from: 0, to: villages.count, by: 100).map { start in
                let surveys: [JSONValue] = villages[start..<min(start + 100, villages.count)].map { unit in
                    WireSurvey(
                        instanceID: UUID().uuidString.lowercased(), revision: 1, formID: "village-branch", formVersion: version, unit: unit,
                        period: period, answers: answers(unit)
                    ).json
                }
                return Gzip.compress(JSONValue.object(["surveys": .array(surveys)]).serializedBytes())
            }
        }
        print("checks: \(villages.count) villages in \(units.filter { $0.level == .county }.count) counties; last year's surveys stored first (untimed)")
        let previous = bodies(period: "2025", version: old.version) { lastYear($0) }
        let thisYear = villages.map { unit -> JSONObject in
            var village = SeedData.forUnit(7, unit, stream: 3)
            return village.nextYear(lastYear(unit), year: 2026)
        }
        let answersByUnit = Dictionary(uniqueKeysWithValues: zip(villages, thisYear))
        let today = CivilDate.parse("2026-11-26")!
        // The checking alone, on one thread: what the form does per survey.
        let stored = villages.map { JSONValue.object(lastYear($0)).serialized() }
        for form in [old, new] {
            let started = ContinuousClock.now
            var kept = 0
            for (index, unit) in villages.enumerated() {
                var baseline: Baseline?
                if form.readsPrevious || form.outliers != nil, let answers = SurveyService.baselineAnswers(stored[index], form: form) {
                    baseline = form.baseline(answers, period: "2025", today: today)
                }
                let validation = form.validate(answersByUnit[unit]!, today: today, previous: baseline)
                let bytes = form.keptBytes(validation.answers)
                kept += bytes.kept.count + form.changes(topValues: validation.topValues, baseline: baseline).count
            }
            let seconds = Self.seconds(ContinuousClock.now - started)
            print(
                String(
                    format: "  checking alone (one thread), village-branch %@: %.1f µs a survey (%d bytes kept)", form.version,
                    seconds * 1e6 / Double(villages.count), kept / villages.count))
        }
        let principal = Principal(tokenID: 1, name: "bench", role: .admin, unit: province)
        var rates: [String: [Double]] = [:]
        var kept: (SurveyService, URL)?
        for round in 0..<(2 * rounds) {
            let form = round % 2 == 0 ? old : new
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-bench-checks-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let storage = try SQLiteServerStorage(path: directory.appendingPathComponent("server.sqlite").path)
            _ = try await storage.replaceUnits(units)
            let service = SurveyService(storage: storage, catalog: catalog)
            try await ingest(previous, service: service, principal: principal, today: today)
            let current = bodies(period: "2026", version: form.version) { answersByUnit[$0]! }
            let started = ContinuousClock.now
            let cpuBefore = Self.cpuSeconds()
            try await ingest(current, service: service, principal: principal, today: today)
            let seconds = Self.seconds(ContinuousClock.now - started)
            let cpu = Self.cpuSeconds() - cpuBefore
            let rate = Double(villages.count) / seconds
            rates[form.version, default: []].append(rate)
            print(
                String(
                    format: "  round %d, village-branch %@: %d surveys in %.2f s, %.0f surveys/s, %.0f µs of CPU a survey", round + 1, form.version,
                    villages.count, seconds, rate, cpu * 1e6 / Double(villages.count)))
            if round == 2 * rounds - 1 {
                kept = (service, directory)
            } else {
                try? FileManager.default.removeItem(at: directory)
            }
        }
        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let plain = median(rates[old.version]!)
        let checked = median(rates[new.version]!)
        let slower = 100 * (1 - checked / plain)
        print(
            String(
                format: "checks: ingest %.0f surveys/s without previous() and warnings, %.0f with them (medians of %d): %.1f%% slower (target: within 20%%%@)",
                plain, checked, rounds, slower, slower <= 20 ? "" : "; TARGET MISSED"))
        guard let (service, directory) = kept else { return }
        defer { try? FileManager.default.removeItem(at: directory) }
        let screening = ContinuousClock.now
        let counties = try await service.reports.refreshOutliers()
        print(String(format: "checks: outlier screening of %d counties after the ingest: %.2f s", counties, Self.seconds(ContinuousClock.now - screening)))
        var times: [Double] = []
        var report: Report?
        for _ in 0..<7 {
            let started = ContinuousClock.now
            report = try await service.report(formID: "village-branch", scope: UnitCode("130101000000")!, period: "2026")
            times.append(Self.seconds(ContinuousClock.now - started) * 1000)
        }
        times.sort()
        if let quality = report?.quality {
            print(
                String(
                    format: "checks: a county report with its quality section: %.1f ms (median of 7); %d surveys flagged (%d warnings not confirmed, %d large changes, %d outliers)",
                    times[3], quality.flagged, quality.total.unconfirmed, quality.total.changed, quality.total.outliers))
        }
    }

    static func ingest(_ bodies: [[UInt8]], service: SurveyService, principal: Principal, today: Int) async throws {
        let next = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while true {
                        let number = next.add(1) - 1
                        if number >= bodies.count { return }
                        let document = try service.decodeBody(bodies[number], gzip: true)
                        let results = try await service.ingest(document, by: principal, today: today)
                        precondition(results.allSatisfy { $0.outcome == .created }, "\(results.first { $0.outcome != .created }.map { "\($0.reason)" } ?? "")")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// CPU time of the process so far (user and system), in seconds.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
