import SurveyCore

/// Generates plausible `village-branch` answers: the counts add up, parts
/// stay below wholes, choices come from the form's lists. With
/// `invalidShare` above zero, that share of surveys breaks one rule each.
public struct VillageBranchGenerator {
    public var random: SeededGenerator
    public var invalidShare: Double

    public init(seed: UInt64, invalidShare: Double = 0) {
        random = SeededGenerator(seed: seed)
        self.invalidShare = invalidShare
    }

    private mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    private mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
    private mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &random) < p }

    /// Splits `total` into `parts` non-negative numbers that add up to it.
    private mutating func split(_ total: Int, into parts: Int) -> [Int] {
        var cuts = (0..<(parts - 1)).map { _ in int(0...total) }.sorted()
        cuts.insert(0, at: 0)
        cuts.append(total)
        return (0..<parts).map { cuts[$0 + 1] - cuts[$0] }
    }

    public mutating func next() -> JSONObject {
        var a = JSONObject()
        let total = int(8...180)
        a.appendUnique("branch_type", .string(pick(["committee", "general_branch", "branch", "branch", "branch", "joint_branch"])))
        a.appendUnique("survey_date", .string("2026-\(pad(int(1...10)))-\(pad(int(1...28)))"))
        a.appendUnique("informant_role", .string(pick(["secretary", "secretary", "member", "other"])))
        a.appendUnique("members_total", .integer(total))
        a.appendUnique("members_women", .integer(int(0...(total / 3))))
        let ages = split(total, into: 4)
        a.appendUnique("members_age_35_under", .integer(ages[0]))
        a.appendUnique("members_age_36_45", .integer(ages[1]))
        a.appendUnique("members_age_46_59", .integer(ages[2]))
        a.appendUnique("members_age_60_over", .integer(ages[3]))
        let education = split(total, into: 3)
        a.appendUnique("edu_junior_or_below", .integer(education[0]))
        a.appendUnique("edu_senior_or_technical", .integer(education[1]))
        a.appendUnique("edu_college_or_above", .integer(education[2]))
        a.appendUnique("members_away", .integer(int(0...(total / 4))))
        a.appendUnique("members_hardship", .integer(int(0...(total / 6))))
        a.appendUnique("members_developed", .integer(int(0...3)))
        a.appendUnique("applicants", .integer(int(0...12)))
        a.appendUnique("wealth_leaders", .integer(int(0...(total / 5))))
        a.appendUnique("training_sessions", .integer(int(0...12)))
        a.appendUnique("members_trained", .integer(int(0...total)))
        a.appendUnique("secretary_birth_year", .integer(int(1958...1995)))
        a.appendUnique("secretary_education", .string(pick(["junior_or_below", "senior_or_technical", "college", "bachelor_or_above"])))
        a.appendUnique("secretary_years", .integer(int(0...12)))
        a.appendUnique("secretary_is_director", .string(pick(["yes", "yes", "no"])))
        a.appendUnique("secretary_pay", .integer(int(18...80) * 1000))
        var members: [JSONValue] = []
        for _ in 0..<int(2...8) {
            members.append(
                .object(
                    JSONObject([
                        ("position", .string(pick(["deputy_secretary", "branch_member", "director", "deputy_director", "committee_member", "other"]))),
                        ("sex", .string(pick(["male", "male", "female"]))),
                        ("birth_year", .integer(int(1960...2000))),
                        ("education", .string(pick(["junior_or_below", "senior_or_technical", "college", "bachelor_or_above"]))),
                        ("is_party_member", .string(pick(["yes", "yes", "no"]))),
                        ("cross_post", .string(pick(["yes", "no"]))),
                        ("annual_pay", .integer(int(10...50) * 1000)),
                    ])))
        }
        a.appendUnique("committee_members", .array(members))
        let reserve = int(0...6)
        a.appendUnique("reserve_cadres", .integer(reserve))
        if reserve > 0 { a.appendUnique("reserve_cadres_35_under", .integer(int(0...reserve))) }
        a.appendUnique("succession_problem", .string(pick(["none", "some", "serious"])))
        let income = int(0...400) * 2500
        let operating = chance(0.1) ? 0 : int(0...(income / 1000)) * 1000
        a.appendUnique("collective_income", .integer(income))
        a.appendUnique("operating_income", .integer(operating))
        a.appendUnique(
            "income_sources",
            operating == 0 && income == 0 ? ["none"] : .array(pickSome(["land", "rental", "enterprise", "cooperative", "services", "assets", "other"])))
        a.appendUnique("collective_assets", .integer(int(0...5000) * 1000))
        a.appendUnique("collective_debt", .integer(int(0...800) * 1000))
        a.appendUnique("office_funding", .integer(int(10...80) * 1000))
        a.appendUnique("funding_sources", .array(pickSome(["county", "township", "village_own", "special", "other"])))
        let pay = int(60...300) * 1000
        a.appendUnique("cadre_pay_total", .integer(pay))
        a.appendUnique("cadre_pay_from_collective", .integer(int(0...(pay / 1000)) * 1000))
        a.appendUnique("funding_adequacy", .string(pick(["sufficient", "barely", "tight", "seriously_short"])))
        a.appendUnique("affairs_disclosure", .string(pick(["monthly", "quarterly", "half_yearly", "yearly", "irregular", "never"])))
        a.appendUnique("finance_disclosure", .string(pick(["monthly", "quarterly", "half_yearly", "yearly", "irregular"])))
        a.appendUnique("representative_meetings", .integer(int(0...12)))
        a.appendUnique("finance_group_exists", .string(pick(["yes", "yes", "no"])))
        a.appendUnique("rating", .string(pick(["advanced", "qualified", "qualified", "basic", "lagging"])))
        a.appendUnique("legacy_disputes", .string(pick(["none", "resolved", "in_hand", "untouched"])))
        let problems = pickSome(["member_quality", "ageing", "no_successors", "weak_democracy", "weak_economy", "low_funding", "little_training", "other"])
        a.appendUnique("problems", .array(problems))
        if problems.contains("other") { a.appendUnique("problems_other", "村干部兼职过多,精力分散") }
        if chance(0.3) { a.appendUnique("notes", "调查时书记在场,数据来自村账") }
        if invalidShare > 0, chance(invalidShare) { breakOneRule(&a, total: total) }
        return a
    }

    private mutating func pickSome(_ items: [String]) -> [JSONValue] {
        var chosen = items.filter { _ in chance(0.3) }
        if chosen.isEmpty { chosen = [pick(items)] }
        return chosen.map(JSONValue.string)
    }

    private mutating func breakOneRule(_ a: inout JSONObject, total: Int) {
        switch int(0...5) {
        case 0: a["members_age_60_over"] = .integer(total + 1)
        case 1: a["members_total"] = nil
        case 2: a["branch_type"] = "party_group"
        case 3: a["members_women"] = "many"
        case 4: a["income_sources"] = ["none", "land"]
        default: a["survey_date"] = "2030-01-01"
        }
    }

    private func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
