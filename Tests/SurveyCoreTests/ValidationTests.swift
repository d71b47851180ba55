import Foundation
import SurveyCore
import SurveyFixtures
import Testing

@Suite("Validating answers against the village-branch form")
struct ValidationTests {
    let form: Form
    let today = Fixtures.sampleToday

    init() throws {
        form = try Fixtures.form("village-branch")
    }

    func valid() -> JSONObject {
        var generator = VillageBranchGenerator(seed: 7)
        return generator.next()
    }

    func issues(_ answers: JSONObject) -> [ValidationIssue] {
        form.validate(answers, today: today).issues
    }

    @Test func generatedSurveysAreValid() {
        var generator = VillageBranchGenerator(seed: 42)
        for _ in 0..<300 {
            let answers = generator.next()
            let result = form.validate(answers, today: today)
            #expect(result.issues.isEmpty, "\(result.issues)")
        }
    }

    @Test func generatorBreaksRulesWhenAskedTo() {
        var generator = VillageBranchGenerator(seed: 3, invalidShare: 1)
        for _ in 0..<50 {
            #expect(form.validate(generator.next(), today: today).issues.count == 1)
        }
    }

    @Test func missingRequiredAnswer() {
        var answers = valid()
        answers["members_total"] = nil
        let found = issues(answers)
        // One mistake, one message: the constraints that read the total are not checked.
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.path == "members_total")
        #expect(found.first?.code == .required)
    }

    @Test func constraintMessageInBothLanguages() throws {
        var answers = valid()
        answers["members_age_60_over"] = .integer(999)
        let issue = try #require(issues(answers).first)
        #expect(issue.code == .constraint)
        #expect(issue.path == "members_age_60_over")
        #expect(issue.message.zh == "四个年龄段人数之和应等于党员总数")
        #expect(issue.message.en == "The four age groups must add up to the total number of members")
    }

    @Test func typeErrors() {
        var answers = valid()
        answers["members_women"] = "many"
        answers["survey_date"] = "2026/05/01"
        answers["secretary_pay"] = true
        let found = issues(answers)
        #expect(Set(found.map(\.path)) == ["members_women", "survey_date", "secretary_pay"], "\(found)")
        #expect(found.allSatisfy { $0.code == .type })
        #expect(found.first { $0.path == "members_women" }?.message.en == "must be a whole number, not 'many'")
    }

    @Test func numbersAsTextAreAccepted() {
        var answers = valid()
        answers["members_developed"] = "2"
        let result = form.validate(answers, today: today)
        #expect(result.issues.isEmpty)
        #expect(result.answers["members_developed"] == .integer(2))
    }

    @Test func choiceErrors() {
        var answers = valid()
        answers["branch_type"] = "party_group"
        answers["funding_sources"] = ["county", "county"]
        answers["income_sources"] = ["land", "moon"]
        let found = issues(answers)
        #expect(found.count == 3, "\(found)")
        #expect(found.allSatisfy { $0.code == .choice })
        #expect(found.contains { $0.message.en?.contains("'party_group' is not one of the choices (committee, general_branch, branch, joint_branch)") == true })
        #expect(found.contains { $0.message.en?.contains("given twice") == true })
    }

    @Test func noneExcludesOtherChoices() throws {
        var answers = valid()
        answers["income_sources"] = ["none", "land"]
        let issue = try #require(issues(answers).first)
        #expect(issue.path == "income_sources")
        #expect(issue.code == .constraint)
    }

    @Test func minMaxAndToday() {
        var answers = valid()
        answers["members_developed"] = -1
        answers["training_sessions"] = 400
        answers["survey_date"] = "2026-11-27"
        let found = issues(answers)
        #expect(found.map(\.code) == [.max, .min, .max], "\(found)")
        #expect(found.map(\.path) == ["survey_date", "members_developed", "training_sessions"])
        #expect(found[0].message.en == "cannot be after today (2026-11-26)")
        #expect(found[1].message.en == "must be at least 0")
    }

    @Test func repeatPathsAndBounds() {
        var answers = valid()
        var entries = answers["committee_members"]!.arrayValue!
        var second = entries[1].objectValue!
        second["birth_year"] = nil
        entries[1] = .object(second)
        answers["committee_members"] = .array(entries)
        var found = issues(answers)
        #expect(found.map(\.path) == ["committee_members[2].birth_year"])
        #expect(found.first?.code == .required)

        answers["committee_members"] = .array(Array(repeating: valid()["committee_members"]!.arrayValue![0], count: 16))
        found = issues(answers)
        #expect(found.map(\.path) == ["committee_members"])
        #expect(found.first?.code == .repeatCount)
        #expect(found.first?.message.en == "allows at most 15 entries, has 16")
    }

    @Test func repeatThatIsNotAListIsOneError() {
        var answers = valid()
        answers["committee_members"] = "none"
        let found = issues(answers)
        #expect(found.map(\.path) == ["committee_members"])
        #expect(found.first?.code == .type)
    }

    @Test func entryThatIsNotAnObjectIsOneError() {
        var answers = valid()
        var entries = answers["committee_members"]!.arrayValue!
        entries[1] = 5
        answers["committee_members"] = .array(entries)
        let found = issues(answers)
        #expect(found.map(\.path) == ["committee_members[2]"], "\(found)")
    }

    @Test func unknownFields() {
        var answers = valid()
        answers["members_deceased"] = 3
        answers["birth_year"] = 1970
        var entries = answers["committee_members"]!.arrayValue!
        var first = entries[0].objectValue!
        first["shoe_size"] = 42
        entries[0] = .object(first)
        answers["committee_members"] = .array(entries)
        let found = issues(answers)
        #expect(Set(found.map(\.path)) == ["members_deceased", "birth_year", "committee_members[1].shoe_size"])
        #expect(found.allSatisfy { $0.code == .unknownField })
        #expect(found.first { $0.path == "birth_year" }?.message.en == "field 'birth_year' belongs inside the entries of the repeat 'committee_members'")
    }

    @Test func calculationsAreRecomputedAndSentValuesReplaced() throws {
        var answers = valid()
        answers["survey_date"] = "2026-06-01"
        answers["secretary_birth_year"] = 1966
        answers["secretary_years"] = 5
        answers["secretary_age"] = 99
        answers["operating_income"] = 0
        answers["collective_income"] = 0
        answers["income_sources"] = ["none"]
        answers["weak_economy"] = "no"
        answers["committee_members"] = .array([
            [
                "position": "director", "sex": "female", "birth_year": 1980, "education": "college", "is_party_member": "yes", "cross_post": "no",
                "annual_pay": 30000,
            ],
            [
                "position": "committee_member", "sex": "male", "birth_year": 1990, "education": "college", "is_party_member": "no", "cross_post": "no",
                "annual_pay": 20000,
            ],
        ])
        let result = form.validate(answers, today: today)
        #expect(result.issues.isEmpty, "\(result.issues)")
        #expect(result.answers["secretary_age"] == .integer(60))
        #expect(result.answers["weak_economy"] == "yes")
        #expect(result.answers["shell_village"] == "yes")
        #expect(result.answers["committee_size"] == .integer(3))
        // (46 + 36 + 60) / 3 = 47.33…, rounded to one decimal.
        #expect(result.answers["committee_average_age"] == .number(47.3))
        let entries = try #require(result.answers["committee_members"]?.arrayValue)
        #expect(entries.map { $0["member_age"] } == [.integer(46), .integer(36)])
        #expect(Set(result.warnings.map(\.path)) == ["secretary_age", "weak_economy"])
        #expect(result.warnings.allSatisfy { $0.code == .computed })
    }

    @Test func answersToQuestionsNotAskedAreDropped() {
        var answers = valid()
        answers["reserve_cadres"] = 0
        answers["reserve_cadres_35_under"] = 5
        answers["problems"] = ["ageing"]
        answers["problems_other"] = "不相干"
        let result = form.validate(answers, today: today)
        #expect(result.issues.isEmpty, "\(result.issues)")
        #expect(result.answers["reserve_cadres_35_under"] == nil)
        #expect(result.answers["problems_other"] == nil)
        #expect(Set(result.warnings.map(\.path)) == ["reserve_cadres_35_under", "problems_other"])
        #expect(result.warnings.allSatisfy { $0.code == .notRelevant })
    }

    @Test func typeErrorOnAQuestionNotAskedIsNoError() {
        var answers = valid()
        answers["reserve_cadres"] = 0
        answers["reserve_cadres_35_under"] = "lots"
        #expect(issues(answers).isEmpty)
    }

    @Test func requiredWhenRelevant() throws {
        var answers = valid()
        answers["problems"] = ["ageing", "other"]
        answers["problems_other"] = nil
        let issue = try #require(issues(answers).first)
        #expect(issue.path == "problems_other")
        #expect(issue.code == .required)
        #expect(issue.message.zh == "选了“其他”问题时请说明是什么问题")
    }

    @Test func issuesComeInTheFormsOrder() {
        var answers = valid()
        answers["notes"] = .integer(5)  // numbers are accepted as text
        answers["legacy_disputes"] = "forgotten"
        answers["branch_type"] = nil
        answers["zzz"] = 1
        let found = issues(answers)
        #expect(found.map(\.path) == ["zzz", "branch_type", "legacy_disputes"])
    }

    @Test func cleanedAnswersKeepTheFormsOrderAndTypes() throws {
        let answers = valid()
        let result = form.validate(answers, today: today)
        let order = form.fields.filter { $0.type.holdsValue || $0.type == .repeat }.filter { $0.repeatIndex == nil }.map(\.name)
        let kept = result.answers.keys
        #expect(kept == order.filter { kept.contains($0) })
        #expect(result.answers["survey_date"]?.stringValue?.count == 10)
        #expect(result.answers["income_sources"]?.arrayValue != nil)
    }

    @Test func emptyStringsAndNullsCountAsUnanswered() {
        var answers = valid()
        answers["members_total"] = ""
        answers["branch_type"] = nil
        answers.appendUnique("branch_type", .null)
        let found = issues(answers)
        #expect(Set(found.map(\.path)) == ["members_total", "branch_type"])
        #expect(found.allSatisfy { $0.code == .required })
    }

    @Test func absurdValuesAreRefused() {
        var answers = valid()
        answers["collective_debt"] = .number(1e300)
        answers["notes"] = .string(String(repeating: "长", count: 10_001))
        let found = issues(answers)
        #expect(Set(found.map(\.path)) == ["collective_debt", "notes"])
    }

    @Test func evaluateAgainstSettledAnswers() throws {
        var answers = valid()
        answers["operating_income"] = 0
        answers["collective_income"] = 0
        answers["income_sources"] = ["none"]
        #expect(try form.evaluate("${shell_village} = 'yes' and ${weak_economy_threshold} = 50000", answers: answers, today: today) == .bool(true))
        #expect(try form.evaluate("count(${committee_members}) = ${committee_size} - 1", answers: answers, today: today) == .bool(true))
    }
}

@Suite("One mistake, one message")
struct CascadeTests {
    static let yaml = """
        settings:
          form_id: cascade
          version: "1"
          title: {zh: 级联}
          period_type: annual
          unit_level: village
        survey:
          - type: repeat
            name: items
            label: 条目
            children:
              - {type: integer, name: x, label: X, required: true}
          - type: calculate
            name: total
            calculation: sum(${x})
          - type: integer
            name: declared
            label: 申报合计
            constraint: . = ${total}
            constraint_message: {zh: 合计不符, en: the total does not match}

        """

    @Test func constraintReadingAFailedAnswerThroughACalculationIsSkipped() throws {
        let form = try FormLoader.load(data: Data(Self.yaml.utf8), file: "cascade.yaml")
        let bad = form.validate(["items": [["x": 1], ["x": "two"]], "declared": 3])
        #expect(bad.issues.map(\.path) == ["items[2].x"], "\(bad.issues)")
        let wrong = form.validate(["items": [["x": 1], ["x": 2]], "declared": 4])
        #expect(wrong.issues.map(\.path) == ["declared"])
        #expect(form.validate(["items": [["x": 1], ["x": 2]], "declared": 3]).isValid)
    }
}

@Suite("The shipped sample answer files")
struct SampleTests {
    struct Expectation: Decodable {
        let form: String
        let path: String
        let code: String
        let messageZh: String

        enum CodingKeys: String, CodingKey {
            case form, path, code
            case messageZh = "message_zh"
        }
    }

    static let expectations: [String: Expectation] = {
        let url = Fixtures.samplesDirectory.appendingPathComponent("expectations.json")
        guard let data = try? Data(contentsOf: url) else { return [:] }
        return (try? JSONDecoder().decode([String: Expectation].self, from: data)) ?? [:]
    }()

    static let invalidFiles = expectations.keys.sorted()
    static let validFiles: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.samplesDirectory.path)) ?? []
        return names.filter { $0.contains("-valid") }.sorted()
    }()

    static let catalog = Fixtures.catalog()

    func check(_ name: String, formID: String, today: Int = Fixtures.sampleToday) throws -> [ValidationIssue] {
        let form = try #require(Self.catalog.form(formID))
        let document = try AnswerFile.read(Fixtures.samplesDirectory.appendingPathComponent(name))
        let submission = try Submission(json: document)
        return submission.envelopeIssues(for: form, registry: Self.catalog.registry) + form.validate(submission.answers, today: today).issues
    }

    @Test("the shipped samples do not depend on the calendar: each finds the same problems today, on the tests' day and in fifty years")
    func samplesDoNotDependOnTheCalendar() throws {
        let names = (try FileManager.default.contentsOfDirectory(atPath: Fixtures.samplesDirectory.path)).filter {
            $0.hasSuffix(".json") && $0 != "expectations.json"
        }
        #expect(names.count > 30)
        for name in names {
            let formID = Self.catalog.allForms.map(\.id).filter { name.hasPrefix($0 + "-") }.max { $0.count < $1.count } ?? ""
            let pinned = try check(name, formID: formID).map { "\($0.path) \($0.code)" }
            for today in [CivilDate.today(), Fixtures.sampleToday + 50 * 365] {
                #expect(try check(name, formID: formID, today: today).map { "\($0.path) \($0.code)" } == pinned, "\(name) on \(CivilDate.format(days: today))")
            }
        }
    }

    @Test func everyInvalidSampleHasAnExpectation() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.samplesDirectory.path)
        let invalid = Set(names.filter { $0.contains("-invalid-") })
        #expect(invalid == Set(Self.expectations.keys))
        #expect(invalid.count >= 25)
        #expect(Self.validFiles.count >= 4)
    }

    @Test(arguments: validFiles)
    func validSamplePasses(_ name: String) throws {
        let formID = name.components(separatedBy: "-valid")[0]
        let found = try check(name, formID: formID)
        #expect(found.isEmpty, "\(name): \(found)")
    }

    @Test(arguments: invalidFiles)
    func invalidSampleFailsForItsRule(_ name: String) throws {
        let expected = try #require(Self.expectations[name])
        let found = try check(name, formID: expected.form)
        #expect(found.count == 1, "\(name): \(found)")
        let issue = try #require(found.first)
        #expect(issue.path == expected.path, "\(name)")
        #expect(issue.code.rawValue == expected.code, "\(name)")
        #expect(issue.message.zh.contains(expected.messageZh), "\(name): \(issue.message.zh)")
        #expect(issue.message.en?.isEmpty == false)
    }

    @Test func distinctRulesAreBroken() {
        let rules = Set(Self.expectations.values.map { "\($0.form) \($0.path) \($0.code) \($0.messageZh)" })
        #expect(rules.count == Self.expectations.count)
    }
}
