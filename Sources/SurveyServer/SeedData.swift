import Foundation
import SurveyCore

/// Made-up but plausible data for demonstrations and benchmarks: a unit
/// registry of any size (provinces down to villages, with codes and names
/// in the national pattern) and village-branch surveys whose figures hang
/// together. Each county has a level of prosperity that shapes its
/// villages: poorer counties have older members, fewer college graduates,
/// weaker collective economies, older secretaries, tighter funding and more
/// lagging branches. Everything follows from the seed.
public struct SeedData {
    private var random: SplitMix

    public init(seed: UInt64) { random = SplitMix(state: seed) }

    /// A small seedable generator (SplitMix64), so that a seed always gives the same data.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    mutating func uniform(_ low: Double, _ high: Double) -> Double { Double.random(in: low..<high, using: &random) }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func chance(_ probability: Double) -> Bool { uniform(0, 1) < probability }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    /// A standard normal deviate (Box–Muller).
    mutating func normal(_ mean: Double = 0, _ deviation: Double = 1) -> Double {
        let u = max(uniform(0, 1), 1e-12)
        let v = uniform(0, 1)
        return mean + deviation * (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }

    static let syllables = Array(
        "安平河西北岗南王庄大柳树马家堡石桥东旺杨屯黄花店白塔青龙湾城关兴隆永和长乐新华太平龙泉清河金山凤凰双桥高林李赵刘张陈吴周徐孙朱胡郭何罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文")
    static let villageEndings = ["庄", "屯", "营", "堡", "台", "铺", "坊", "洼", "沟", "寨", "店", "园"]

    mutating func name(_ length: Int) -> String { String((0..<length).map { _ in pick(Self.syllables) }) }

    /// A registry with `villages` villages: provinces, cities, counties of
    /// about 300 villages, townships of 10 to 25, in code order.
    public mutating func registry(villages: Int) -> [OrgUnit] {
        var units: [OrgUnit] = []
        var made = 0
        func code(_ text: String) -> UnitCode { UnitCode(text + String(repeating: "0", count: 12 - text.count))! }
        provinces: for province in 11...99 {
            let provinceCode = code(String(province))
            units.append(OrgUnit(code: provinceCode, name: name(2) + "省", level: .province, parent: nil))
            for city in 1...int(8...14) {
                let cityPrefix = String(province) + pad(city, 2)
                let cityCode = code(cityPrefix)
                units.append(OrgUnit(code: cityCode, name: name(2) + "市", level: .city, parent: provinceCode))
                for county in 1...int(5...12) {
                    let countyPrefix = cityPrefix + pad(county, 2)
                    let countyCode = code(countyPrefix)
                    units.append(OrgUnit(code: countyCode, name: name(2) + "县", level: .county, parent: cityCode))
                    for township in 1...int(12...22) {
                        let townshipPrefix = countyPrefix + pad(township, 3)
                        let townshipCode = code(townshipPrefix)
                        units.append(OrgUnit(code: townshipCode, name: name(2) + (chance(0.6) ? "镇" : "乡"), level: .township, parent: countyCode))
                        for village in 1...int(10...25) {
                            let villageName =
                                pick(Self.syllables).description + (chance(0.5) ? "家" : pick(Self.syllables).description)
                                + pick(Self.villageEndings) + "村"
                            units.append(
                                OrgUnit(code: code(townshipPrefix + pad(200 + village, 3)), name: villageName, level: .village, parent: townshipCode))
                            made += 1
                            if made >= villages { break provinces }
                        }
                    }
                }
            }
        }
        return units
    }

    func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// A county's prosperity: 1 is typical, below 1 poorer, above richer.
    public mutating func prosperity() -> Double { exp(normal(0, 0.45)) }

    /// The answers of a village-branch survey for a village of a county
    /// with the given prosperity, surveyed in `year`.
    public mutating func villageBranch(prosperity wealth: Double, year: Int) -> JSONObject {
        let lean = log(wealth)  // about -1 … 1
        func clamp(_ value: Double, _ low: Double, _ high: Double) -> Double { min(max(value, low), high) }
        var a = JSONObject()
        // Counts and amounts are skewed, as in life: log-normal.
        let total = Int(clamp(exp(normal(log(40), 0.36)), 8, 300))
        a.appendUnique("branch_type", .string(total >= 50 ? pick(["general_branch", "branch", "committee"]) : pick(["branch", "branch", "joint_branch"])))
        a.appendUnique("survey_date", .string("\(year)-\(pad(int(9...10), 2))-\(pad(int(1...28), 2))"))
        a.appendUnique("informant_role", .string(pick(["secretary", "secretary", "secretary", "member", "other"])))
        a.appendUnique("members_total", .integer(total))
        a.appendUnique("members_women", .integer(Int(Double(total) * clamp(normal(0.2, 0.06), 0.02, 0.45))))
        let old = Int((Double(total) * clamp(normal(0.36 - 0.1 * lean, 0.08), 0.05, 0.75)).rounded())
        let young = min(total - old, Int((Double(total) * clamp(normal(0.12 + 0.05 * lean, 0.04), 0, 0.4)).rounded()))
        let middle = total - old - young
        let fortyish = Int(Double(middle) * uniform(0.3, 0.5))
        a.appendUnique("members_age_35_under", .integer(young))
        a.appendUnique("members_age_36_45", .integer(fortyish))
        a.appendUnique("members_age_46_59", .integer(middle - fortyish))
        a.appendUnique("members_age_60_over", .integer(old))
        let college = Int((Double(total) * clamp(normal(0.13 + 0.06 * lean, 0.05), 0, 0.6)).rounded())
        let senior = Int(Double(total - college) * uniform(0.3, 0.5))
        a.appendUnique("edu_junior_or_below", .integer(total - college - senior))
        a.appendUnique("edu_senior_or_technical", .integer(senior))
        a.appendUnique("edu_college_or_above", .integer(college))
        a.appendUnique("members_away", .integer(int(0...(total / 4))))
        a.appendUnique("members_hardship", .integer(int(0...(total / 8))))
        a.appendUnique("members_developed", .integer(chance(0.3) ? 0 : int(1...3)))
        a.appendUnique("applicants", .integer(int(0...10)))
        a.appendUnique("wealth_leaders", .integer(int(0...(total / 6))))
        a.appendUnique("training_sessions", .integer(int(2...12)))
        a.appendUnique("members_trained", .integer(Int(Double(total) * clamp(normal(0.75, 0.15), 0.1, 1))))
        let secretaryAge = Int(clamp(normal(51 - 4 * lean, 7), 28, 68))
        a.appendUnique("secretary_birth_year", .integer(year - secretaryAge))
        a.appendUnique(
            "secretary_education",
            .string(chance(0.3 + 0.15 * lean) ? pick(["college", "bachelor_or_above"]) : pick(["junior_or_below", "senior_or_technical"])))
        a.appendUnique("secretary_years", .integer(int(0...min(20, secretaryAge - 25))))
        a.appendUnique("secretary_is_director", .string(chance(0.8) ? "yes" : "no"))
        a.appendUnique("secretary_pay", .integer(Int(clamp(normal(36_000 * wealth, 8_000), 12_000, 120_000) / 100) * 100))
        var members: [JSONValue] = []
        for _ in 0..<int(2...6) {
            members.append(
                .object(
                    JSONObject([
                        ("position", .string(pick(["deputy_secretary", "branch_member", "director", "deputy_director", "committee_member"]))),
                        ("sex", .string(chance(0.25) ? "female" : "male")),
                        ("birth_year", .integer(year - int(26...62))),
                        ("education", .string(pick(["junior_or_below", "senior_or_technical", "college", "bachelor_or_above"]))),
                        ("is_party_member", .string(chance(0.8) ? "yes" : "no")),
                        ("cross_post", .string(chance(0.5) ? "yes" : "no")),
                        ("annual_pay", .integer(int(10...40) * 1000)),
                    ])))
        }
        a.appendUnique("committee_members", .array(members))
        let reserve = max(0, Int(normal(2.2 + lean - Double(old) / Double(max(total, 1)) * 2, 1.3).rounded()))
        a.appendUnique("reserve_cadres", .integer(min(reserve, 8)))
        if reserve > 0 { a.appendUnique("reserve_cadres_35_under", .integer(int(0...min(reserve, 8)))) }
        a.appendUnique("succession_problem", .string(reserve == 0 ? pick(["some", "serious"]) : pick(["none", "none", "some"])))
        // Collective income: log-normal around 150,000 元, scaled by prosperity.
        let shell = chance(clamp(0.06 / wealth, 0.01, 0.3))
        let income = shell && chance(0.5) ? 0 : Int(wealth * exp(normal(log(150_000), 0.9)) / 100) * 100
        let operating = shell ? 0 : Int(Double(income) * uniform(0.15, 0.85) / 100) * 100
        a.appendUnique("collective_income", .integer(income))
        a.appendUnique("operating_income", .integer(operating))
        a.appendUnique(
            "income_sources",
            income == 0 ? ["none"] : .array(someOf(["land", "rental", "enterprise", "cooperative", "services", "assets", "other"], likely: 0.3)))
        a.appendUnique("collective_assets", .integer(Int(Double(income) * uniform(2, 12) / 1000) * 1000))
        a.appendUnique("collective_debt", .integer(Int(Double(income) * uniform(0, 1.5) / 1000) * 1000))
        let funding = Int(clamp(40_000 * wealth * exp(normal(0, 0.28)), 8_000, 300_000) / 1000) * 1000
        a.appendUnique("office_funding", .integer(funding))
        a.appendUnique("funding_sources", .array(someOf(["county", "township", "village_own", "special", "other"], likely: 0.4)))
        let pay = Int(clamp(normal(150_000 * wealth, 40_000), 40_000, 600_000) / 1000) * 1000
        a.appendUnique("cadre_pay_total", .integer(pay))
        a.appendUnique("cadre_pay_from_collective", .integer(min(pay, Int(Double(operating) * uniform(0, 0.5) / 1000) * 1000)))
        let adequacy: String
        switch Double(funding) + normal(0, 8_000) {
        case ..<25_000: adequacy = "seriously_short"
        case ..<35_000: adequacy = "tight"
        case ..<55_000: adequacy = "barely"
        default: adequacy = "sufficient"
        }
        a.appendUnique("funding_adequacy", .string(adequacy))
        let disclosure = chance(0.02) ? "never" : pick(["monthly", "quarterly", "quarterly", "half_yearly", "yearly", "irregular"])
        a.appendUnique("affairs_disclosure", .string(disclosure))
        a.appendUnique("finance_disclosure", .string(pick(["monthly", "quarterly", "quarterly", "half_yearly", "yearly", "irregular"])))
        a.appendUnique("representative_meetings", .integer(int(1...12)))
        a.appendUnique("finance_group_exists", .string(chance(0.85) ? "yes" : "no"))
        let rating: String
        if chance(clamp(0.04 / wealth, 0.01, 0.2)) {
            rating = "lagging"
        } else {
            rating = pick(["advanced", "qualified", "qualified", "qualified", "basic"])
        }
        a.appendUnique("rating", .string(rating))
        a.appendUnique("legacy_disputes", .string(pick(["none", "none", "resolved", "in_hand", "untouched"])))
        var problems: [String] = []
        if Double(old) / Double(max(total, 1)) > 0.4 { problems.append("ageing") }
        if reserve == 0 { problems.append("no_successors") }
        if operating < 50_000 { problems.append("weak_economy") }
        if adequacy == "tight" || adequacy == "seriously_short" { problems.append("low_funding") }
        if problems.isEmpty { problems.append(pick(["member_quality", "weak_democracy", "little_training"])) }
        a.appendUnique("problems", .array(problems.map(JSONValue.string)))
        return a
    }

    /// A generator for one unit: the same seed and unit give the same
    /// numbers whatever else is generated, so that two years of one village
    /// are made one after the other without keeping the first in memory.
    public static func forUnit(_ seed: UInt64, _ unit: String, stream: UInt64) -> SeedData {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 ^ stream &* 0xD6E8_FEB8_6659_FD93
        for byte in unit.utf8 { state = (state ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return SeedData(seed: state)
    }

    /// This year's answers of a village from last year's: most stay, as they
    /// do in life. Members come and go by a few (new members join, some
    /// die or move), age and education counts follow, incomes and funding
    /// move by some percent, pay rises a little; a new secretary now and
    /// then (born in another year, new in office), otherwise the same one a
    /// year longer in office; the committee mostly the same.
    public mutating func nextYear(_ last: JSONObject, year: Int) -> JSONObject {
        func number(_ key: String) -> Int { last[key]?.doubleValue.map { Int($0) } ?? 0 }
        var a = last
        a["survey_date"] = .string("\(year)-\(pad(int(9...10), 2))-\(pad(int(1...28), 2))")
        let total = number("members_total")
        let spread = max(1, total / 20)
        let developed = chance(0.3) ? 0 : int(1...max(1, min(3, total / 10)))
        let total2 = max(8, total + developed - int(0...spread))
        let delta = total2 - total
        a["members_total"] = .integer(total2)
        a["members_developed"] = .integer(developed)
        // The change falls on the first of the parts (the oldest, the least
        // schooled); a part that would go below zero passes the rest on.
        func shift(_ keys: [String]) {
            var carry = delta
            for (position, key) in keys.enumerated() {
                let value = number(key) + carry
                let last = position == keys.count - 1
                a[key] = .integer(max(0, value))
                carry = value < 0 && !last ? value : 0
            }
        }
        shift(["members_age_60_over", "members_age_46_59", "members_age_36_45", "members_age_35_under"])
        shift(["edu_junior_or_below", "edu_senior_or_technical", "edu_college_or_above"])
        a["members_women"] = .integer(min(total2, max(0, number("members_women") + int(-1...1))))
        for key in ["members_away", "members_hardship", "wealth_leaders"] {
            a[key] = .integer(min(total2, max(0, number(key) + int(-1...1))))
        }
        a["members_trained"] = .integer(min(total2, Int(Double(total2) * uniform(0.5, 1))))
        a["training_sessions"] = .integer(int(2...12))
        a["representative_meetings"] = .integer(int(1...12))
        a["applicants"] = .integer(max(0, number("applicants") + int(-2...2)))
        // The secretary.
        if chance(0.12) {
            a["secretary_birth_year"] = .integer(year - int(30...55))
            a["secretary_years"] = .integer(0)
        } else {
            a["secretary_years"] = .integer(min(60, number("secretary_years") + 1))
        }
        a["secretary_pay"] = .integer(Int(Double(number("secretary_pay")) * uniform(1, 1.08) / 100) * 100)
        // Money moves by some percent; the parts stay within their wholes.
        let income = Int(Double(number("collective_income")) * exp(normal(0, 0.12)) / 100) * 100
        let operating = min(income, Int(Double(number("operating_income")) * exp(normal(0, 0.12)) / 100) * 100)
        a["collective_income"] = .integer(income)
        a["operating_income"] = .integer(operating)
        a["collective_assets"] = .integer(Int(Double(number("collective_assets")) * uniform(0.95, 1.1) / 1000) * 1000)
        a["collective_debt"] = .integer(Int(Double(number("collective_debt")) * uniform(0.85, 1.1) / 1000) * 1000)
        a["office_funding"] = .integer(Int(Double(number("office_funding")) * uniform(0.92, 1.12) / 1000) * 1000)
        let pay = Int(Double(number("cadre_pay_total")) * uniform(1, 1.06) / 1000) * 1000
        a["cadre_pay_total"] = .integer(pay)
        a["cadre_pay_from_collective"] = .integer(min(pay, min(number("cadre_pay_from_collective"), operating)))
        // The committee: now and then one member is replaced.
        if case .array(var members)? = last["committee_members"], !members.isEmpty, chance(0.2) {
            let replaced = int(0...(members.count - 1))
            if case .object(var member) = members[replaced] {
                member["birth_year"] = .integer(year - int(26...50))
                member["sex"] = .string(chance(0.3) ? "female" : "male")
                members[replaced] = .object(member)
            }
            a["committee_members"] = .array(members)
        }
        if chance(0.1) { a["rating"] = .string(pick(["advanced", "qualified", "qualified", "basic"])) }
        return a
    }

    /// A doubtful figure planted in a seeded survey, of the kinds the
    /// county's checks look for.
    public enum Anomaly: String, Sendable, CaseIterable {
        /// Half the members gone in a year.
        case membersHalved = "members_halved"
        /// A figure typed with a zero too many: ten times the members.
        case membersTenfold = "members_tenfold"
        /// Collective income twenty times last year's.
        case incomeJump = "income_jump"
        /// Operating income gone though there was some last year.
        case operatingGone = "operating_gone"
        /// The secretary's year of birth changed, the same person in office for years.
        case secretaryBirthYear = "secretary_birth_year"
        /// Office funding ten times last year's.
        case fundingJump = "funding_jump"
    }

    /// Plants an anomaly into this year's answers, keeping them valid.
    public mutating func plant(_ anomaly: Anomaly, into a: inout JSONObject) {
        func number(_ key: String) -> Int { a[key]?.doubleValue.map { Int($0) } ?? 0 }
        func scaleMembers(_ factor: Double) {
            let total = number("members_total")
            let scaled = max(1, Int((Double(total) * factor).rounded()))
            a["members_total"] = .integer(scaled)
            for (parts, _) in [
                (["members_age_35_under", "members_age_36_45", "members_age_46_59", "members_age_60_over"], 0),
                (["edu_junior_or_below", "edu_senior_or_technical", "edu_college_or_above"], 0),
            ] {
                var values = parts.map { Int((Double(number($0)) * factor).rounded(.down)) }
                values[values.count - 1] += scaled - values.reduce(0, +)
                if values[values.count - 1] < 0 {
                    values = Array(repeating: 0, count: values.count)
                    values[0] = scaled
                }
                for (key, value) in zip(parts, values) { a[key] = .integer(value) }
            }
            for key in ["members_women", "members_away", "members_hardship", "members_developed", "wealth_leaders", "members_trained"] {
                a[key] = .integer(min(scaled, Int((Double(number(key)) * factor).rounded(.down))))
            }
        }
        switch anomaly {
        case .membersHalved: scaleMembers(0.45)
        case .membersTenfold: scaleMembers(10)
        case .incomeJump:
            a["collective_income"] = .integer(max(number("collective_income"), 20_000) * 20)
        case .operatingGone:
            a["operating_income"] = .integer(0)
            a["cadre_pay_from_collective"] = .integer(0)
        case .secretaryBirthYear:
            a["secretary_birth_year"] = .integer(number("secretary_birth_year") - int(3...9))
            a["secretary_years"] = .integer(max(3, number("secretary_years")))
        case .fundingJump:
            a["office_funding"] = .integer(max(number("office_funding"), 10_000) * 10)
        }
    }

    /// Whether last year's answers leave room for the anomaly to show
    /// (operating income to lose, a secretary in office for years).
    public static func fits(_ anomaly: Anomaly, _ last: JSONObject) -> Bool {
        switch anomaly {
        case .operatingGone: return (last["operating_income"]?.doubleValue ?? 0) > 0
        case .secretaryBirthYear: return (last["members_total"]?.doubleValue ?? 0) > 0
        case .membersHalved: return (last["members_total"]?.doubleValue ?? 0) >= 12
        default: return true
        }
    }

    mutating func someOf(_ items: [String], likely: Double) -> [JSONValue] {
        var chosen = items.filter { _ in chance(likely) }
        if chosen.isEmpty { chosen = [pick(items)] }
        return chosen.map(JSONValue.string)
    }
}

/// What `SurveyService.seed` did.
public struct SeedSummary: Sendable {
    public var units = 0
    public var villages = 0
    public var stored = 0
    public var refused = 0
    public var ingestSeconds = 0.0
    /// With the year before: the anomalies planted in this year's surveys, by unit code.
    public var planted: [String: SeedData.Anomaly] = [:]
    /// With the year before: its surveys stored.
    public var previousStored = 0
}

extension SurveyService {
    /// Replaces the unit registry with a generated one of `villages`
    /// villages, or keeps the stored one when `villages` is nil (another
    /// year for the same villages), and stores one village-branch survey
    /// per village for `period` (annual), through the same checks and
    /// ingest as the API, `concurrency` batches at a time. `progress` gets
    /// (stored, total).
    ///
    /// With `previousYear`, the year before `period` is stored first
    /// (with the form's oldest version, as last year's surveys were), then
    /// each village's survey of `period` made from its own of the year
    /// before with the changes of a year (`SeedData.nextYear`), a share
    /// `anomalies` of them with a doubtful figure planted (recorded in the
    /// summary). Each village's two years follow from the seed and its code.
    public func seed(
        villages: Int?, period: String, seed: UInt64 = 1, reporting: Double = 1, batchSize: Int = 500, concurrency: Int = 2,
        previousYear: Bool = false, anomalies: Double = 0.005,
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> SeedSummary {
        guard let form = catalog.form("village-branch"), let year = Int(period), Period(period)?.type == .annual else {
            throw ServiceError(.invalid, "invalid_seed", L("需要 village-branch 表单和年度报告期", "seeding needs the village-branch form and an annual period"))
        }
        var data = SeedData(seed: seed)
        let units: [OrgUnit]
        var summary = SeedSummary()
        if let villages {
            units = data.registry(villages: villages)
            summary.units = try await storage.replaceUnits(units)
        } else {
            units = try await storage.units()
            guard units.contains(where: { $0.level == .village }) else {
                throw ServiceError(
                    .invalid, "invalid_seed",
                    L("数据库里没有村一级的单位名录;请先不带 --keep-registry 生成一次", "the database holds no villages in its registry; seed once without --keep-registry first"))
            }
            summary.units = units.count
        }
        try await prepareReports()
        let principal = Principal(tokenID: 0, name: "seed", role: .admin, unit: UnitCode("000000000000")!)
        // One prosperity per county, shared by its villages. Batches are
        // made as they are sent, so memory stays that of a few batches.
        var countyWealth: [String: Double] = [:]
        let villagesToSurvey = units.filter { unit in unit.level == .village && (reporting >= 1 || data.uniform(0, 1) < reporting) }
        let total = villagesToSurvey.count
        summary.villages = total
        if previousYear {
            return try await seedTwoYears(
                villagesToSurvey, form: form, year: year, seed: seed, anomalies: anomalies, batchSize: batchSize, concurrency: concurrency,
                principal: principal, summary: summary, progress: progress)
        }
        var position = 0
        func nextBatch() -> [JSONValue]? {
            guard position < villagesToSurvey.count else { return nil }
            var batch: [JSONValue] = []
            batch.reserveCapacity(batchSize)
            while batch.count < batchSize, position < villagesToSurvey.count {
                let unit = villagesToSurvey[position]
                position += 1
                let county = String(unit.code.rawValue.prefix(6))
                let wealth = countyWealth[county] ?? data.prosperity()
                countyWealth[county] = wealth
                let survey: JSONObject = [
                    "instance_id": .string(UUID().uuidString.lowercased()), "revision": .integer(1), "form": .string(form.id),
                    "version": .string(form.version), "unit": .string(unit.code.rawValue), "period": .string(period),
                    "answers": .object(data.villageBranch(prosperity: wealth, year: year)),
                ]
                batch.append(.object(survey))
            }
            return batch
        }
        let today = CivilDate.days(year: year, month: 12, day: 31)
        let started = ContinuousClock.now
        var done = 0
        try await ingestBatches(concurrency: concurrency, principal: principal, today: today, next: nextBatch) { stored, refused in
            summary.stored += stored
            summary.refused += refused
            done += stored + refused
            progress(done, total)
        }
        let elapsed = (ContinuousClock.now - started).components
        summary.ingestSeconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        return summary
    }

    /// Ingests the batches `next` makes, `concurrency` at a time, as the API
    /// does; `counted` hears each batch's surveys stored and refused.
    func ingestBatches(
        concurrency: Int, principal: Principal, today: Int, next: () -> [JSONValue]?, counted: (_ stored: Int, _ refused: Int) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: [SurveyResult].self) { group in
            func launch() {
                guard let batch = next() else { return }
                group.addTask { try await self.ingest(["surveys": .array(batch)], by: principal, today: today) }
            }
            for _ in 0..<max(1, concurrency) { launch() }
            while let results = try await group.next() {
                let stored = results.filter { $0.outcome == .created || $0.outcome == .updated || $0.outcome == .duplicate }.count
                counted(stored, results.count - stored)
                launch()
            }
        }
    }

    /// The year before `year` for each village, then `year` made from it
    /// (see `seed`); each year's batches go `concurrency` at a time.
    func seedTwoYears(
        _ villages: [OrgUnit], form: Form, year: Int, seed: UInt64, anomalies: Double, batchSize: Int, concurrency: Int, principal: Principal,
        summary start: SeedSummary, progress: @escaping @Sendable (Int, Int) -> Void
    ) async throws -> SeedSummary {
        var summary = start
        let oldest = catalog.forms[form.id]?.first ?? form
        func wealth(_ unit: OrgUnit) -> Double {
            var county = SeedData.forUnit(seed, String(unit.code.rawValue.prefix(6)), stream: 1)
            return county.prosperity()
        }
        func lastYear(_ unit: OrgUnit) -> JSONObject {
            var village = SeedData.forUnit(seed, unit.code.rawValue, stream: 2)
            return village.villageBranch(prosperity: wealth(unit), year: year - 1)
        }
        var planted: [String: SeedData.Anomaly] = [:]
        func thisYear(_ unit: OrgUnit) -> JSONObject {
            let last = lastYear(unit)
            var village = SeedData.forUnit(seed, unit.code.rawValue, stream: 3)
            var answers = village.nextYear(last, year: year)
            if village.uniform(0, 1) < anomalies {
                let kind = village.pick(SeedData.Anomaly.allCases)
                if SeedData.fits(kind, last) {
                    village.plant(kind, into: &answers)
                    planted[unit.code.rawValue] = kind
                }
            }
            return answers
        }
        let started = ContinuousClock.now
        var done = 0
        for (pass, (version, period)) in [(oldest.version, String(year - 1)), (form.version, String(year))].enumerated() {
            var position = 0
            func nextBatch() -> [JSONValue]? {
                guard position < villages.count else { return nil }
                var batch: [JSONValue] = []
                batch.reserveCapacity(batchSize)
                while batch.count < batchSize, position < villages.count {
                    let unit = villages[position]
                    position += 1
                    let survey: JSONObject = [
                        "instance_id": .string(UUID().uuidString.lowercased()), "revision": .integer(1), "form": .string(form.id),
                        "version": .string(version), "unit": .string(unit.code.rawValue), "period": .string(period),
                        "answers": .object(pass == 0 ? lastYear(unit) : thisYear(unit)),
                    ]
                    batch.append(.object(survey))
                }
                return batch
            }
            let today = CivilDate.days(year: year - 1 + pass, month: 12, day: 31)
            try await ingestBatches(concurrency: concurrency, principal: principal, today: today, next: nextBatch) { stored, refused in
                if pass == 0 { summary.previousStored += stored } else { summary.stored += stored }
                summary.refused += refused
                done += stored + refused
                progress(done, 2 * villages.count)
            }
        }
        let elapsed = (ContinuousClock.now - started).components
        summary.ingestSeconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        summary.planted = planted
        return summary
    }
}
