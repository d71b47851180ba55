import Foundation
import SurveyCore
import SurveyFixtures
import Testing

/// `previous(…)`, soft checks (`warnings:`), `prefill` and the change
/// screening, on the shipped village-branch form and on small forms.
@Suite("Last period's answers: previous(), warnings, prefill")
struct PreviousPeriodTests {
    let form: Form
    let today = Fixtures.sampleToday

    init() throws {
        form = try Fixtures.form("village-branch")
    }

    func lastYear(seed: UInt64 = 11) -> JSONObject {
        var generator = VillageBranchGenerator(seed: seed)
        return generator.next()
    }

    func names(_ result: ValidationResult) -> [String] { result.firedWarnings.map(\.name) }

    @Test func theShippedFormIsTheNewVersionAndTheOldOneStillLoads() throws {
        let catalog = Fixtures.catalog()
        #expect(catalog.form("village-branch")?.version == "2026.2")
        let old = try #require(catalog.form("village-branch@2026.1"))
        #expect(old.warnedFields.isEmpty && !old.readsPrevious)
        #expect(form.readsPrevious)
        #expect(form.outliers == OutlierSettings(fields: ["members_total", "collective_income", "operating_income", "office_funding"], zScore: 3.5, changeRatio: 3))
        // The questions are the same: an answer file for 2026.1 fills 2026.2.
        var generator = VillageBranchGenerator(seed: 5)
        for _ in 0..<50 {
            let answers = generator.next()
            #expect(form.validate(answers, today: today).isValid == old.validate(answers, today: today).isValid)
        }
    }

    @Test func previousReadsTheBaselineAndIsEmptyWithoutOne() throws {
        let before = lastYear()
        let baseline = form.baseline(before, period: "2025", today: today)
        let now = lastYear(seed: 12)
        let total = try form.evaluate("previous(${members_total})", answers: now, today: today, previous: baseline)
        #expect(total == .number(Double(before["members_total"]!.doubleValue.map { Int($0) }!)))
        // A calculation is settled with this form: last year's secretary age.
        let age = try form.evaluate("previous(${secretary_age})", answers: now, today: today, previous: baseline)
        let expectedAge = Int(before["survey_date"]!.stringValue!.prefix(4))! - before["secretary_birth_year"]!.doubleValue.map { Int($0) }!
        #expect(age == .number(Double(expectedAge)))
        #expect(try form.evaluate("previous(${members_total})", answers: now, today: today) == .empty)
        #expect(try form.evaluate("previous(${members_total}) = ''", answers: now, today: today) == .bool(true))
    }

    /// The server reads only the answers `baseline` needs out of a stored
    /// survey, and writes the kept answers and the hashed ones in one
    /// pass: both must give what the whole reading and writing give.
    @Test func theServersShortcutsGiveWhatTheWholeWayGives() throws {
        let keys = try #require(form.baselineKeys)
        #expect(Set(keys).isSuperset(of: ["members_total", "collective_income", "operating_income", "office_funding", "secretary_birth_year"]))
        var generator = VillageBranchGenerator(seed: 21)
        for _ in 0..<40 {
            let before = generator.next()
            let stored = JSONValue.object(before).serialized()
            let picked = try JSONParser(refusesDuplicateKeys: false).members(of: stored, keys: try #require(form.baselineMembers))
            #expect(picked.keys.allSatisfy(keys.contains))
            #expect(picked.keys.count == keys.filter { before[$0] != nil }.count)
            let whole = form.baseline(before, period: "2025", today: today)
            let part = form.baseline(picked, period: "2025", today: today)
            let now = generator.next()
            let fromWhole = form.validate(now, today: today, previous: whole)
            let fromPart = form.validate(now, today: today, previous: part)
            #expect(fromWhole.answers == fromPart.answers)
            #expect(fromWhole.firedWarnings.map(\.name) == fromPart.firedWarnings.map(\.name))
            #expect(form.changes(topValues: fromWhole.topValues, baseline: whole) == form.changes(topValues: fromPart.topValues, baseline: part))

            let (kept, hashed) = form.keptBytes(fromWhole.answers)
            #expect(kept == JSONValue.object(fromWhole.answers).serializedBytes())
            #expect(hashed == JSONValue.object(form.withoutBaselineDependent(fromWhole.answers)).serializedBytes())
            let hashedText = String(decoding: try #require(hashed), as: UTF8.self)
            #expect(fromWhole.answers["members_change"] != nil && !hashedText.contains("members_change"))
        }
        // A form without baseline-dependent calculations hashes what it keeps.
        let old = try #require(Fixtures.catalog().form("village-branch@2026.1"))
        #expect(old.keptBytes(lastYear()).hashed == nil)
    }

    @Test func previousRefusesWhatItCannotRead() throws {
        for (expression, message) in [
            ("previous(${birth_year})", "only fields outside repeats"),
            ("previous(${weak_economy_threshold})", "reads a field"),
            ("previous(1)", "takes one field reference"),
            ("previous(${nothing_here})", "does not exist"),
        ] {
            #expect(throws: ExpressionError.self) { try form.evaluate(expression, answers: [:], today: today) }
            do {
                _ = try form.evaluate(expression, answers: [:], today: today)
            } catch {
                #expect(error.message.text(.en).contains(message), "\(expression): \(error.message.text(.en))")
            }
        }
    }

    /// Last year's answers with this year's changes laid over them.
    func thisYear(_ before: JSONObject, _ changes: [String: JSONValue]) -> JSONObject {
        var answers = before
        for (key, value) in changes { answers[key] = value }
        return answers
    }

    @Test func warningsFireOnDoubtfulChangesOnly() throws {
        var before = lastYear()
        before["members_total"] = 40
        before["members_women"] = 8
        before["members_age_35_under"] = 10
        before["members_age_36_45"] = 10
        before["members_age_46_59"] = 10
        before["members_age_60_over"] = 10
        before["edu_junior_or_below"] = 20
        before["edu_senior_or_technical"] = 10
        before["edu_college_or_above"] = 10
        before["members_away"] = 2
        before["members_hardship"] = 2
        before["members_trained"] = 20
        before["wealth_leaders"] = 2
        before["members_developed"] = 1
        before["collective_income"] = 200_000
        before["operating_income"] = 60_000
        before["secretary_years"] = 6
        before["income_sources"] = ["land"]
        #expect(form.validate(before, today: today).isValid, "\(form.validate(before, today: today).issues)")
        let baseline = form.baseline(before, period: "2025", today: today)

        // The same answers: nothing fires.
        #expect(names(form.validate(before, today: today, previous: baseline)).isEmpty)
        // Without a baseline nothing fires either.
        let halved = thisYear(
            before,
            [
                "members_total": 20, "members_women": 4, "members_age_35_under": 5, "members_age_36_45": 5, "members_age_46_59": 5,
                "members_age_60_over": 5, "edu_junior_or_below": 10, "edu_senior_or_technical": 5, "edu_college_or_above": 5, "members_trained": 10,
            ])
        #expect(form.validate(halved, today: today).isValid)
        #expect(names(form.validate(halved, today: today)).isEmpty)
        #expect(names(form.validate(halved, today: today, previous: baseline)) == ["members_changed"])

        // A plausible change does not fire.
        let grown = thisYear(before, ["members_total": 44, "members_age_60_over": 14, "edu_junior_or_below": 24])
        #expect(form.validate(grown, today: today, previous: baseline).isValid)
        #expect(names(form.validate(grown, today: today, previous: baseline)).isEmpty)

        // Operating income more than three times last year's, then gone.
        #expect(names(form.validate(thisYear(before, ["operating_income": 190_000]), today: today, previous: baseline)) == ["operating_income_jump"])
        #expect(names(form.validate(thisYear(before, ["operating_income": 0]), today: today, previous: baseline)) == ["operating_income_gone"])

        // The secretary's birth year changed while in office for years; not when the secretary is new.
        let birth = before["secretary_birth_year"]!.doubleValue.map { Int($0) }!
        let moved = thisYear(before, ["secretary_birth_year": .integer(birth - 1)])
        #expect(names(form.validate(moved, today: today, previous: baseline)) == ["secretary_birth_year_changed"])
        #expect(names(form.validate(thisYear(moved, ["secretary_years": 0]), today: today, previous: baseline)).isEmpty)

        // Women's share 20% → 50%.
        let women = thisYear(before, ["members_women": 20])
        let fired = form.validate(women, today: today, previous: baseline).firedWarnings
        #expect(fired.map(\.name) == ["women_share_changed"])
        #expect(fired.first?.path == "members_women")
        #expect(fired.first?.message.zh.contains("女党员占比") == true)
        // A warning never makes a survey invalid.
        #expect(form.validate(women, today: today, previous: baseline).isValid)
    }

    @Test func aWarningOnAnAnswerWithAnErrorIsNotEvaluated() throws {
        var before = lastYear()
        before["operating_income"] = 10_000
        before["collective_income"] = 100_000
        let baseline = form.baseline(before, period: "2025", today: today)
        // Above the total income: an error, so the jump is not also a warning.
        let result = form.validate(thisYear(before, ["operating_income": 150_000]), today: today, previous: baseline)
        #expect(!result.isValid)
        #expect(result.firedWarnings.isEmpty)
    }

    @Test func confirmationsMarkTheWarningsTheyName() throws {
        var before = lastYear()
        before["operating_income"] = 10_000
        before["collective_income"] = 100_000
        let baseline = form.baseline(before, period: "2025", today: today)
        let result = form.validate(thisYear(before, ["operating_income": 0]), today: today, previous: baseline)
        let confirmations = [
            WarningConfirmation(warning: "operating_income_gone", path: "operating_income", explanation: "合作社停业"),
            WarningConfirmation(warning: "members_changed", path: "members_total", explanation: "not firing"),
        ]
        let confirmed = result.warningsConfirmed(by: confirmations)
        #expect(confirmed.count == 1 && confirmed[0].confirmed && confirmed[0].explanation == "合作社停业")
        #expect(result.applicable(confirmations) == [confirmations[0]])
        #expect(result.firedWarnings[0].confirmed == false)
        // Read back from JSON, with the limits said.
        #expect(try WarningConfirmation.read(WarningConfirmation.json(confirmations)).get() == confirmations)
        let tooLong = JSONValue.array([["warning": "w", "path": "p", "explanation": .string(String(repeating: "长", count: 200))]])
        guard case .failure(let message) = WarningConfirmation.read(tooLong) else {
            Issue.record("an explanation of 600 bytes was accepted")
            return
        }
        #expect(message.text(.en).contains("confirmations[1].explanation is at most 500 bytes"))
    }

    @Test func prefillCarriesOverWhatTheFormSaysAndNothingElse() throws {
        let before = lastYear()
        let start = form.prefilled(from: before)
        #expect(start["members_total"] == before["members_total"])
        #expect(start["branch_type"] == before["branch_type"])
        #expect(start["secretary_birth_year"] == before["secretary_birth_year"])
        for asked in ["survey_date", "members_developed", "training_sessions", "members_trained", "representative_meetings", "notes"] {
            #expect(start[asked] == nil, "\(asked) carried over")
        }
        #expect(start["secretary_age"] == nil, "a calculation is not an answer")
        // Committee members carry over entry by entry.
        #expect(start["committee_members"]?.arrayValue?.count == before["committee_members"]?.arrayValue?.count)
        // The old version carries nothing over.
        let old = try #require(Fixtures.catalog().form("village-branch@2026.1"))
        #expect(old.prefilled(from: before).isEmpty)
        // An answer this form would not accept is asked again.
        var odd = before
        odd["branch_type"] = "party_group"
        #expect(form.prefilled(from: odd)["branch_type"] == nil)
    }

    @Test func changesBeyondTheRatioAreFlagged() throws {
        var before = lastYear()
        before["collective_income"] = 100_000
        before["operating_income"] = 20_000
        before["office_funding"] = 30_000
        let baseline = form.baseline(before, period: "2025", today: today)
        var now = before
        now["collective_income"] = 1_000_000
        now["operating_income"] = 0
        now["office_funding"] = 45_000
        let flags = form.changes(topValues: form.topValues(now, today: today), baseline: baseline)
        #expect(flags.map(\.field) == ["collective_income", "operating_income"])
        #expect(flags.first == ChangeFlag(field: "collective_income", value: 1_000_000, previous: 100_000))
        #expect(form.changes(topValues: form.topValues(now, today: today), baseline: nil).isEmpty)
    }

    @Test func formsSayWhatIsWrongWithWarningsPrefillAndOutliers() throws {
        let yaml = """
            settings:
              form_id: tiny
              version: "1"
              title: Tiny
              period_type: annual
              unit_level: village
              prefill: sometimes
              outliers: {fields: [count, label_text, missing], z_score: 0}
            survey:
              - type: integer
                name: count
                label: Count
                prefill: always
                warnings:
                  - {name: big, when: . > 2, message: Big}
                  - {name: big, when: . > 1, message: Again}
                  - {name: nowhen, message: No condition}
              - type: text
                name: label_text
                label: Label
              - type: calculate
                name: doubled
                calculation: ${count} * 2
                warnings:
                  - {name: calc, when: . > 1, message: Calc}
            """
        #expect(throws: FormLoadError.self) { try FormLoader.load(data: Data(yaml.utf8), file: "tiny.yaml") }
        let messages: [String]
        do {
            _ = try FormLoader.load(data: Data(yaml.utf8), file: "tiny.yaml")
            messages = []
        } catch {
            messages = error.issues.map { "\($0.line): \($0.message.text(.en))" }
        }
        let expected = [
            "7: prefill must be previous",
            "8: outliers: there is no field 'missing'",
            "8: outliers lists top-level numbers only; 'label_text' is not one",
            "8: outliers: z_score must be a number above 0",
            "13: prefill must be previous",
            "16: duplicate warning name 'big'",
            "17: a warning lacks when",
            "24: only a question that is answered can have warnings",
        ]
        for text in expected {
            #expect(messages.contains { $0.hasPrefix(text) }, "missing \(text) in \(messages)")
        }
    }

    @Test func previousDoesNotMakeACycle() throws {
        let yaml = """
            settings: {form_id: tiny, version: "1", title: Tiny, period_type: annual, unit_level: village}
            survey:
              - type: integer
                name: count
                label: Count
                relevant: previous(${count}) != 0
              - type: calculate
                name: growth
                calculation: ${count} - previous(${count})
            """
        let tiny = try FormLoader.load(data: Data(yaml.utf8), file: "tiny.yaml")
        let baseline = tiny.baseline(["count": 4], period: "2025")
        let result = tiny.validate(["count": 10], today: today, previous: baseline)
        #expect(result.answers["growth"] == 6)
        // Last year's zero makes the question not asked.
        let none = tiny.validate(["count": 10], today: today, previous: tiny.baseline(["count": 0], period: "2025"))
        #expect(none.answers["count"] == nil)
    }
}
