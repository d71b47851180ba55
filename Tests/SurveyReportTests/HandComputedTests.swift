import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import Testing

/// Every indicator of the three forms on two units of the sample county,
/// worked out by hand, from the reference evaluator and from SQL.
@Suite("Indicators worked out by hand for the three forms")
struct HandComputedTests {
    static let registry = Fixtures.catalog().registry!

    /// The county's total figure of each indicator as shown, computed both ways.
    static func totals(_ formID: String, _ units: [(String, JSONObject)], reportedAt: [Int64?] = []) async throws -> [[String: String]] {
        let form = try Fixtures.form(formID)
        let surveys = units.enumerated().map { index, unit in
            let result = form.validate(unit.1, today: Fixtures.sampleToday)
            #expect(result.isValid, "\(formID) \(unit.0): \(result.issues)")
            return ReportSurvey(
                unit: unit.0, period: "2026", form: form, answers: result.answers, reportedAt: index < reportedAt.count ? reportedAt[index] : nil)
        }
        let county = UnitCode("130102000000")!
        let length = Report.groupLength(scope: county, form: form)
        let due = form.deadline(of: "2026")
        let reference = ReferenceEvaluator(form: form).data(
            surveys, scopePrefix: county.prefix, period: "2026", groupLength: length, dueBefore: due, watchLimit: 10)
        // The same surveys through the server's report engine, on a real SQLite file.
        let database = try await ReportDatabase(catalog: Fixtures.catalog(), splitAbove: 20_000)
        defer { database.remove() }
        try await database.insert(surveys)
        let fromSQL = try await database.reports.report(formID: formID, scope: county, period: "2026", registry: registry, watchLimit: 10)
        let fromReference = Report(form: form, registry: registry, scope: county, period: "2026", data: reference)
        return [fromReference, fromSQL].map { report in
            var shown: [String: String] = [:]
            for (index, indicator) in form.indicators.enumerated() { shown[indicator.name] = report.shown(report.total.values[index], indicator, .en) }
            shown["reported"] = "\(report.total.reported)/\(report.total.expected)"
            shown["on_time"] = report.total.onTime.map(String.init) ?? "-"
            return shown
        }
    }

    static func sample(_ formID: String) throws -> JSONObject {
        let json = try JSONParser().parse(Data(contentsOf: Fixtures.samplesDirectory.appendingPathComponent("\(formID)-valid.json")))
        return try #require(json["answers"]?.objectValue)
    }

    @Test("community-branch: 城关社区 as in the sample, 河西社区 small, weak belonging, no joint building, no activities")
    func community() async throws {
        let first = try Self.sample("community-branch")
        var second = first
        for (key, value) in [
            ("members_total", 60), ("members_women", 25), ("members_age_35_under", 10), ("members_age_36_45", 15), ("members_age_46_59", 15),
            ("members_age_60_over", 20), ("edu_junior_or_below", 20), ("edu_senior_or_technical", 25), ("edu_college_or_above", 15),
            ("members_retired", 30), ("members_registered", 40), ("resident_units", 5), ("joint_building_units", 0), ("party_activities", 0),
            ("community_workers", 6), ("annual_funding", 50_000), ("activity_space", 100),
        ] { second[key] = .integer(value) }
        second["belonging"] = "weak"
        second["problems"] = ["hard_to_manage"]
        second["problems_other"] = nil
        let expected: [String: String] = [
            "reported": "2/10", "completeness": "20.0%",  // 2 of the county's 10 communities
            "members": "198",  // 138 + 60
            "ageing_rate": "41.4%",  // (62 + 20) / 198
            "youth_rate": "13.6%",  // (17 + 10) / 198
            "college_rate": "28.3%",  // (41 + 15) / 198
            "women_share": "38.9%",  // (52 + 25) / 198
            "retired_share": "51.0%",  // (71 + 30) / 198
            "registered_members": "126",  // 86 + 40
            "registered_per_100": "63.64",  // 126 / 198 × 100
            "resident_units_total": "19",  // 14 + 5
            "joint_building_share": "47.4%",  // (9 + 0) / 19
            "no_joint_building": "1", "activities_average": "12.00",  // (24 + 0) / 2
            "no_activities": "1", "community_workers_total": "17",  // 11 + 6
            "funding_total": "¥200,000", "funding_average": "¥100,000", "space_average": "260.25",  // (420.5 + 100) / 2
            "weak_belonging": "1", "weak_belonging_share": "50.0%", "short_of_space": "1",
        ]
        for shown in try await Self.totals("community-branch", [("130102001001", first), ("130102002001", second)]) {
            for (name, value) in expected { #expect(shown[name] == value, "\(name): \(shown[name] ?? "nil") instead of \(value)") }
            #expect(Set(shown.keys).subtracting(["on_time"]) == Set(expected.keys), "every indicator is checked")
        }
    }

    @Test("cadre-team: 城关镇 as in the sample, 河西镇 with low approval, no demotion, no target system, no supervision")
    func cadreTeam() async throws {
        let first = try Self.sample("cadre-team")
        var second = first
        for (key, value) in [
            ("team_size", 9), ("voters", 50), ("votes_excellent", 20), ("votes_competent", 15), ("votes_basic", 10), ("votes_incompetent", 5),
            ("cadres_open_selection", 0), ("cadres_demoted", 0), ("contract_cadres_waiting", 0),
        ] { second[key] = .integer(value) }
        second["target_system"] = "no"
        second["supervision_measures"] = ["none"]
        let expected: [String: String] = [
            "reported": "2/12", "completeness": "16.7%",  // 2 of 12 townships
            "team_size_average": "11.00",  // (13 + 9) / 2
            "approval_ratio": "83.1%",  // (41 + 37 + 20 + 15) / (86 + 50) = 113 / 136
            "incompetent_ratio": "5.1%",  // (2 + 5) / 136
            "low_approval": "1",  // 河西镇: 35 / 50 = 70% < 80
            "open_selection_total": "3", "demoted_total": "2", "no_demotion": "1", "no_target_system": "1",
            "target_system_share": "50.0%", "no_supervision": "1", "after_hours_share": "0.0%", "contract_cadres_total": "4",
            "contract_cadres_townships": "1",
        ]
        for shown in try await Self.totals("cadre-team", [("130102001000", first), ("130102002000", second)]) {
            for (name, value) in expected { #expect(shown[name] == value, "\(name): \(shown[name] ?? "nil") instead of \(value)") }
            #expect(Set(shown.keys).subtracting(["on_time"]) == Set(expected.keys), "every indicator is checked")
        }
    }

    @Test("village-branch: the sample village, a weak one with an old secretary and no reserve, a shell village; on time by the due date")
    func villageBranch() async throws {
        let first = try Self.sample("village-branch")
        var second = first
        for (key, value) in [
            ("members_age_46_59", 8), ("members_age_60_over", 24), ("members_women", 12), ("edu_junior_or_below", 24), ("edu_college_or_above", 4),
            ("members_developed", 0), ("members_trained", 23), ("secretary_birth_year", 1962), ("reserve_cadres", 0), ("operating_income", 40_000),
            ("collective_income", 40_000), ("office_funding", 20_000),
        ] { second[key] = .integer(value) }
        second["reserve_cadres_35_under"] = nil
        second["funding_adequacy"] = "tight"
        second["affairs_disclosure"] = "never"
        second["rating"] = "lagging"
        var third = first
        third["operating_income"] = .integer(0)
        third["collective_income"] = .integer(0)
        third["income_sources"] = ["none"]
        let expected: [String: String] = [
            "reported": "3/250", "completeness": "1.2%",  // 3 of 250 villages
            "members": "138",  // 46 × 3
            "members_35_under": "15", "members_36_45": "27", "members_46_59": "36",  // 14 + 8 + 14
            "members_60_over": "60",  // 18 + 24 + 18
            "ageing_rate": "43.5%",  // 60 / 138
            "youth_rate": "10.9%",  // 15 / 138
            "college_rate": "14.5%",  // (8 + 4 + 8) / 138
            "women_share": "21.7%",  // (9 + 12 + 9) / 138
            "developed_per_100": "2.90",  // (2 + 0 + 2) / 138 × 100
            "trained_share": "71.7%",  // (38 + 23 + 38) / 138
            "weak_economy_villages": "2", "weak_economy_share": "66.7%",  // 40,000 and 0 are under 50,000
            "shell_villages": "1", "shell_village_share": "33.3%",
            "collective_income_total": "¥226,000", "collective_income_average": "¥75,333",  // 226,000 / 3
            "operating_income_total": "¥122,000", "operating_income_average": "¥40,667",  // 122,000 / 3
            "office_funding_average": "¥26,667",  // (30,000 + 20,000 + 30,000) / 3
            "tight_funding_share": "33.3%", "secretary_60_plus": "1",  // born 1962, surveyed 2026: 64
            "no_reserve_cadre": "1", "affairs_disclosed_quarterly": "66.7%", "lagging_branches": "1", "affairs_never_disclosed": "1",
            "on_time": "1",  // due 2026-11-30: one on the 20th, one on 5 December, one not known
        ]
        let november20 = Int64(CivilDate.days(year: 2026, month: 11, day: 20)) * 86_400_000
        let december5 = Int64(CivilDate.days(year: 2026, month: 12, day: 5)) * 86_400_000
        let units = [("130102001203", first), ("130102002201", second), ("130102003201", third)]
        for shown in try await Self.totals("village-branch", units, reportedAt: [november20, december5, nil]) {
            for (name, value) in expected { #expect(shown[name] == value, "\(name): \(shown[name] ?? "nil") instead of \(value)") }
            #expect(Set(shown.keys) == Set(expected.keys), "every indicator is checked")
        }
    }
}
