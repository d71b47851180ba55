import Foundation
import SurveyCore
import SurveyFixtures
import Testing

/// A small sound form; each test breaks it in one place.
private let base = """
    settings:
      form_id: test
      version: "1"
      title: {zh: 测试, en: Test}
      period_type: annual
      unit_level: village
      constants:
        limit: 10
    survey:
      - type: integer
        name: total
        label: {zh: 总数, en: Total}
        required: true
      - type: integer
        name: part
        label: {zh: 部分, en: Part}
        constraint: . <= ${total}
        constraint_message: {zh: 不能超过总数, en: Cannot exceed the total}
      - type: select_one colour
        name: colour
        label: {zh: 颜色}
    choices:
      colour:
        - {name: red, label: {zh: 红}}
        - {name: blue, label: {zh: 蓝}}

    """

private func load(_ yaml: String) throws(FormLoadError) -> Form {
    try FormLoader.load(data: Data(yaml.utf8), file: "test.yaml")
}

/// The problems of a form that must fail to load.
private func problems(_ yaml: String) -> [FormIssue] {
    do {
        _ = try load(yaml)
        Issue.record("the form loaded but should not have")
        return []
    } catch {
        return error.issues
    }
}

/// Asserts exactly one problem, at `line`, for `field`, whose English text contains `text`.
private func expectProblem(_ yaml: String, line: Int, field: String?, _ text: String, column: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let found = problems(yaml)
    #expect(found.count == 1, "expected one problem, got \(found.map(\.description))", sourceLocation: sourceLocation)
    guard let issue = found.first else { return }
    #expect(issue.file == "test.yaml", sourceLocation: sourceLocation)
    #expect(issue.line == line, "\(issue)", sourceLocation: sourceLocation)
    #expect(issue.field == field, "\(issue)", sourceLocation: sourceLocation)
    #expect(issue.message.text(.en).contains(text), "\(issue)", sourceLocation: sourceLocation)
    #expect(!issue.message.zh.isEmpty, sourceLocation: sourceLocation)
    if let column { #expect(issue.column == column, "\(issue)", sourceLocation: sourceLocation) }
}

/// The base form with a field appended to `survey:` (it starts on line 22).
private func withField(_ field: String) -> String {
    base.replacingOccurrences(of: "choices:\n", with: field + "choices:\n")
}

@Suite("Loading a form checks it and reports every problem with file, line and field")
struct FormLoaderTests {
    @Test func soundFormLoads() throws {
        let form = try load(base)
        #expect(form.id == "test")
        #expect(form.fields.map(\.name) == ["total", "part", "colour"])
        #expect(form.constants.first?.value == .number(10))
        #expect(form.contentHash.count == 64)
    }

    @Test("choice_filter: a bare name is a column of the choice; a column no choice has, a filter on a non-select, and a misspelt choice key are refused")
    func choiceFilterProblems() {
        expectProblem(
            withField("  - type: select_one colour\n    name: c2\n    label: X\n    choice_filter: shade = ${total}\n"), line: 25, field: "c2",
            "the choice list has no column 'shade' (it has name, label)", column: 1)
        expectProblem(
            withField("  - type: integer\n    name: n\n    label: X\n    choice_filter: name = 'red'\n"), line: 25, field: "n",
            "only a select question can have choice_filter")
        let misspelt = problems(base.replacingOccurrences(of: "{name: blue, label: {zh: 蓝}}", with: "{name: blue, lable: {zh: 蓝}}")).map(\.description)
        #expect(misspelt == ["test.yaml:25: field 'colour': unknown key 'lable'; did you mean 'label'?", "test.yaml:25: field 'colour': choice 'blue' has no label"])
        // Outside a choice_filter a bare name is still no field.
        expectProblem(
            withField("  - type: text\n    name: x\n    label: X\n    relevant: total > 0\n"), line: 25, field: "x", "to refer to a field write ${total}", column: 1)
    }

    @Test("position(..) only inside a repeat; indexed-repeat() names a field of the repeat it reads; jr:choice-name() names a select question")
    func structuralFunctionProblems() {
        expectProblem(
            withField("  - type: calculate\n    name: p\n    calculation: position(..)\n"), line: 24, field: "p",
            "position(..) can only be used by a field inside a repeat")
        expectProblem(
            withField("  - type: calculate\n    name: p\n    calculation: indexed-repeat(${total}, ${part}, 1)\n"), line: 24, field: "p",
            "is not a repeat")
        expectProblem(
            withField("  - type: calculate\n    name: p\n    calculation: jr:choice-name(${colour}, '${total}')\n"), line: 24, field: "p",
            "must name a select question")
        expectProblem(withField("  - type: calculate\n    name: p\n    calculation: .. + 1\n"), line: 24, field: "p", "'..' can only be used as position(..)")
    }

    @Test("the choice columns of a cascading select are read; once() keeps the value sent; jr:choice-name() gives the Chinese label")
    func choiceColumnsAndOnce() throws {
        let form = try load(
            base.replacingOccurrences(of: "{name: red, label: {zh: 红}}", with: "{name: red, label: {zh: 红}, warm: 'yes'}")
                .replacingOccurrences(of: "choices:\n", with: """
                      - type: select_one colour
                        name: warm_colour
                        label: 暖色
                        choice_filter: warm = 'yes' and ${total} > 1
                      - type: calculate
                        name: made
                        calculation: once(concat('n', ${total}))
                      - type: calculate
                        name: colour_name
                        calculation: jr:choice-name(${colour}, '${colour}')
                    choices:

                    """))
        let list = try #require(form.field(named: "warm_colour")?.choices)
        #expect(list.columnNames == ["name", "label", "warm"])
        #expect(list.choices[0].properties == ["warm": "yes"] && list.choices[1].properties.isEmpty)
        let today = CivilDate.parse("2026-01-10")!
        let chosen = form.validate(["total": 3, "warm_colour": "red", "colour": "blue"], today: today)
        #expect(chosen.isValid, "\(chosen.issues)")
        #expect(chosen.answers["made"] == "n3" && chosen.answers["colour_name"] == "蓝")
        #expect(form.validate(["total": 3, "warm_colour": "blue"], today: today).issues.map(\.code) == [.choice])
        #expect(form.validate(["total": 1, "warm_colour": "red"], today: today).issues.map(\.code) == [.choice])
        // once(): the value sent is kept; without one it is computed.
        #expect(form.validate(["total": 3, "made": "n1"], today: today).answers["made"] == "n1")
        #expect(form.validate(["total": 4, "made": ""], today: today).answers["made"] == "n4")
        let settled = form.settle(["total": 3], today: today)
        #expect(settled.offeredChoices(for: form.field(named: "warm_colour")!, today: today)?.choices.map(\.name) == ["red"])
        #expect(settled.offeredChoices(for: form.field(named: "colour")!, today: today)?.choices.map(\.name) == ["red", "blue"])
    }

    @Test("repeat_count: a repeat has as many entries as an answer says; more or fewer is an error; entry offers no more than that; only a repeat may have one")
    func repeatCount() throws {
        let form = try load(
            base.replacingOccurrences(of: "choices:\n", with: """
                  - type: repeat
                    name: people
                    label: 成员
                    repeat_count: ${total}
                    children:
                      - {type: text, name: person, label: 姓名, required: true}
                choices:

                """))
        let today = CivilDate.parse("2026-01-10")!
        let two: JSONValue = .array([.object(["person": "甲"]), .object(["person": "乙"])])
        #expect(form.validate(["total": 2, "people": two], today: today).isValid)
        let short = form.validate(["total": 3, "people": two], today: today)
        #expect(short.issues.map(\.code) == [.repeatCount])
        #expect(short.issues.first?.message.text(.en) == "needs 3 entries (repeat_count: ${total}), has 2")
        #expect(form.validate(["total": 1, "people": two], today: today).issues.map(\.code) == [.repeatCount])
        // Interactive entry: an entry step while fewer, none once there are enough.
        let settled = form.settle(["total": 3, "people": two], today: today)
        #expect(settled.requiredEntries(of: form.field(named: "people")!) == 3)
        #expect(Questionnaire.steps(settled).contains { $0.kind == .addEntry })
        #expect(!Questionnaire.steps(form.settle(["total": 2, "people": two], today: today)).contains { $0.kind == .addEntry })
        expectProblem(
            withField("  - type: integer\n    name: n\n    label: X\n    repeat_count: 3\n"), line: 25, field: "n",
            "an integer field cannot have 'repeat_count': only a repeat has a count of entries")
    }

    @Test func unknownType() {
        expectProblem(withField("  - type: integr\n    name: x\n    label: X\n"), line: 22, field: "x", "unknown type 'integr'")
    }

    @Test func duplicateName() {
        expectProblem(withField("  - type: text\n    name: total\n    label: X\n"), line: 22, field: "total", "duplicate field name 'total' (first on line 10)")
    }

    @Test func missingChoiceList() {
        expectProblem(
            withField("  - type: select_one shapes\n    name: shape\n    label: X\n"), line: 22, field: "shape", "choice list 'shapes' does not exist")
    }

    @Test func referenceToMissingField() {
        expectProblem(
            withField("  - type: text\n    name: x\n    label: X\n    relevant: ${total} > 0 and ${nope} = 1\n"), line: 25, field: "x",
            "${nope}, which does not exist", column: 18)
    }

    @Test func calculationCycle() {
        let yaml = withField("  - type: calculate\n    name: a\n    calculation: ${b} + 1\n  - type: calculate\n    name: b\n    calculation: ${a} * 2\n")
        expectProblem(yaml, line: 22, field: "a", "form a cycle: a → b → a")
    }

    @Test func selfReferenceIsACycle() {
        expectProblem(withField("  - type: calculate\n    name: a\n    calculation: ${a} + 1\n"), line: 22, field: "a", "cycle: a → a")
    }

    @Test func relevanceCycle() {
        let yaml = withField(
            "  - type: text\n    name: a\n    label: A\n    relevant: ${b} = 'x'\n  - type: text\n    name: b\n    label: B\n    relevant: ${a} = 'y'\n")
        expectProblem(yaml, line: 22, field: "a", "cycle")
    }

    @Test func constraintOnNote() {
        expectProblem(
            withField("  - type: note\n    name: n\n    label: N\n    constraint: . > 1\n"), line: 25, field: "n", "a note field cannot have 'constraint'")
    }

    @Test func expressionThatDoesNotParse() {
        expectProblem(withField("  - type: integer\n    name: x\n    label: X\n    constraint: . > (1 + \n"), line: 25, field: "x", "does not parse", column: 9)
    }

    @Test func repeatMaxBelowMin() {
        let yaml = withField(
            "  - type: repeat\n    name: r\n    label: R\n    min_count: 3\n    max_count: 2\n    children:\n      - {type: text, name: t, label: T}\n")
        expectProblem(yaml, line: 26, field: "r", "max_count (2) is below min_count (3)")
    }

    @Test func missingChineseLabel() {
        expectProblem(withField("  - type: text\n    name: x\n    label: {en: Only English}\n"), line: 24, field: "x", "has no Chinese (zh) text")
    }

    @Test func missingLabel() {
        expectProblem(withField("  - type: text\n    name: x\n"), line: 22, field: "x", "has no label")
    }

    @Test func misspeltKeyGetsASuggestion() {
        expectProblem(
            withField("  - type: text\n    name: x\n    label: X\n    requried: true\n"), line: 25, field: "x",
            "unknown key 'requried'; did you mean 'required'?")
    }

    @Test func unquotedCommaInALabel() {
        expectProblem(withField("  - type: text\n    name: x\n    label: {zh: 甲, en: one, two}\n"), line: 24, field: "x", "must be put in quotes")
    }

    @Test func calculateWithoutCalculation() {
        expectProblem(withField("  - type: calculate\n    name: c\n"), line: 22, field: "c", "needs a calculation")
    }

    @Test func minAboveMax() {
        expectProblem(withField("  - type: integer\n    name: x\n    label: X\n    min: 10\n    max: 5\n"), line: 26, field: "x", "max (5) is below min (10)")
    }

    @Test func minOnText() {
        expectProblem(withField("  - type: text\n    name: x\n    label: X\n    min: 1\n"), line: 25, field: "x", "only number and date fields can have min")
    }

    @Test func defaultNotAChoice() {
        expectProblem(
            withField("  - type: select_one colour\n    name: x\n    label: X\n    default: green\n"), line: 25, field: "x", "default 'green' is not valid")
    }

    @Test func duplicateChoice() {
        let yaml = base + "    - {name: red, label: {zh: 又红}}\n"
        expectProblem(yaml, line: 26, field: "colour", "duplicate choice 'red' (first on line 24)")
    }

    @Test func nestedRepeat() {
        let yaml = withField(
            "  - type: repeat\n    name: r\n    label: R\n    children:\n      - type: repeat\n        name: inner\n        label: I\n        children:\n          - {type: text, name: t, label: T}\n"
        )
        expectProblem(yaml, line: 26, field: "inner", "repeats inside repeats are not supported")
    }

    @Test func emptyGroup() {
        expectProblem(withField("  - type: group\n    name: g\n    label: G\n"), line: 22, field: "g", "the group has no fields")
    }

    @Test func fieldNamedLikeAConstant() {
        expectProblem(withField("  - type: integer\n    name: limit\n    label: L\n"), line: 22, field: "limit", "also the name of a constant")
    }

    @Test func readOnlyWithoutValue() {
        expectProblem(
            withField("  - type: integer\n    name: x\n    label: X\n    read_only: true\n"), line: 25, field: "x",
            "read-only field needs a default or a calculation")
    }

    @Test func invalidFieldName() {
        expectProblem(withField("  - type: text\n    name: 2x\n    label: X\n"), line: 23, field: "2x", "field name '2x' is not valid")
    }

    @Test func badPeriodType() {
        expectProblem(
            base.replacingOccurrences(of: "period_type: annual", with: "period_type: yearly"), line: 5, field: nil,
            "period_type must be annual, quarterly or monthly")
    }

    @Test("settings.review names the levels that approve, lowest first, above the unit level; without it the township and the county")
    func reviewLevels() throws {
        #expect(try load(base).reviewLevels == [.township, .county])
        let withReview = { (list: String) in base.replacingOccurrences(of: "  unit_level: village\n", with: "  unit_level: village\n  review: \(list)\n") }
        #expect(try load(withReview("[county]")).reviewLevels == [.county])
        #expect(try load(withReview("[township, county, province]")).reviewLevels == [.township, .county, .province])
        let township = base.replacingOccurrences(of: "unit_level: village", with: "unit_level: township")
        #expect(try load(township).reviewLevels == [.county])
        expectProblem(
            township.replacingOccurrences(of: "  unit_level: township\n", with: "  unit_level: township\n  review: [township]\n"), line: 7, field: nil,
            "review: township is not above the form's unit level, township")
        expectProblem(withReview("[county, township]"), line: 7, field: nil, "list the levels from the lowest up, each once")
        expectProblem(withReview("[township, township]"), line: 7, field: nil, "list the levels from the lowest up, each once")
        expectProblem(withReview("[hamlet]"), line: 7, field: nil, "review: 'hamlet' is not a level that approves")
        expectProblem(withReview("county"), line: 7, field: nil, "review must be a list of levels")
        expectProblem(withReview("[]"), line: 7, field: nil, "review must be a list of levels")
    }

    @Test func missingSetting() {
        expectProblem(base.replacingOccurrences(of: "  unit_level: village\n", with: ""), line: 2, field: nil, "settings lacks 'unit_level'")
    }

    @Test func yamlSyntaxError() {
        expectProblem(
            base.replacingOccurrences(of: "  - type: integer\n    name: total", with: "  - type: integer\n   name: total"), line: 11, field: nil,
            "YAML syntax error")
    }

    @Test func indicatorProblems() {
        let yaml =
            base + """
                indicators:
                  - name: a
                    type: median
                    label: A
                    value: ${total}
                  - name: b
                    type: ratio
                    label: B
                    numerator: ${total}
                  - name: c
                    type: count
                    label: C
                    condition: ${missing} = 1
                  - name: d
                    type: sum
                    label: D
                    value: ${total}
                    watch: true
                  - name: e
                    type: share
                    label: E
                    condition: ${part} > 0
                    format: percentage

                """
        let found = problems(yaml)
        let messages = found.map { "\($0.line) \($0.field ?? "") \($0.message.text(.en))" }
        #expect(found.count == 5, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("28 a") && $0.contains("unknown indicator type 'median'") })
        #expect(messages.contains { $0.hasPrefix("31 b") && $0.contains("'denominator' is missing") })
        #expect(messages.contains { $0.hasPrefix("38 c") && $0.contains("${missing}, which does not exist") })
        #expect(messages.contains { $0.hasPrefix("43 d") && $0.contains("only count, share and completeness indicators can have watch") })
        #expect(messages.contains { $0.hasPrefix("48 e") && $0.contains("unknown format 'percentage'") })
    }

    @Test func everyProblemIsReportedAtOnce() {
        let yaml = withField(
            """
              - type: integr
                name: a
                label: A
              - type: text
                name: total
                label: T
              - type: integer
                name: b
                label: {en: B}
                constraint: . > ${nowhere}

            """)
        let found = problems(yaml)
        #expect(found.count == 4, "\(found.map(\.description))")
        #expect(found.map(\.line) == found.map(\.line).sorted())
        #expect(Set(found.compactMap(\.field)) == ["a", "total", "b"])
    }

    @Test func shippedFormsLoad() throws {
        let catalog = Fixtures.catalog()
        #expect(catalog.problems.isEmpty, "\(catalog.problems)")
        #expect(catalog.allForms.map { "\($0.id)@\($0.version)" } == ["cadre-team@2026.1", "community-branch@2026.1", "village-branch@2026.1", "village-branch@2026.2"])
        let village = try #require(catalog.form("village-branch"))
        #expect(village.version == "2026.2")
        #expect(village.unitLevel == .village)
        #expect(village.periodType == .annual)
        #expect(village.indicators.count >= 20)
        #expect(village.indicators.contains { $0.watch })
        #expect(catalog.form("village-branch@2026.1")?.version == "2026.1")
        #expect(catalog.form("village-branch@1999") == nil)
    }

    @Test func versionsOrderNumerically() {
        #expect(FormCatalog.compareVersions("2026.2", "2026.10"))
        #expect(!FormCatalog.compareVersions("2026.10", "2026.2"))
        #expect(FormCatalog.compareVersions("2026", "2026.1"))
    }

    @Test func renderedIssueNamesFileLineFieldAndColumn() {
        let issue = FormIssue(file: "forms/a.yaml", line: 12, field: "x", column: 7, message: LocalizedText(zh: "错", en: "wrong"))
        #expect(issue.rendered(.en) == "forms/a.yaml:12: field 'x': wrong (expression column 7)")
        #expect(issue.rendered(.zh) == "forms/a.yaml:12: 字段 x:错(表达式第 7 列)")
    }
}
