import ArgumentParser
import Foundation
import SurveyCore
import SurveyFixtures
import Testing

@testable import VSurveyCLI

typealias Run = CommandRun

/// Runs the built binary, from `directory` (the repository by default), in
/// a clean environment with `LANG` set as given.
func vsurvey(_ arguments: [String], in directory: URL = Fixtures.root, environment: [String: String] = [:]) throws -> Run {
    try CommandRun.run(try binary(), arguments, in: directory, environment: environment)
}

/// The `vsurvey` executable beside the test bundle, as SwiftPM builds it.
func binary() throws -> URL { try Binaries.url("vsurvey") }

let today = ["--today", "2026-11-26"]

@Suite("The vsurvey command, run as a user runs it")
struct CLITests {
    @Test func checksTheShippedForms() throws {
        let run = try vsurvey(["form", "check"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("✓ forms/village-branch.yaml: village-branch@2026.2 村党组织建设情况调查"))
        #expect(run.stdout.contains("✓ forms/village-branch-2026.1.yaml: village-branch@2026.1 村党组织建设情况调查"))
        #expect(run.stdout.contains("forms/units/sample-county.csv: 单位名录"))
        #expect(run.stdout.contains("全部 4 个表单通过检查"))
    }

    @Test func checkListsEveryProblemAndFails() throws {
        let directory = try scratchDirectory()
        let file = directory.appendingPathComponent("bad.yaml")
        try """
        settings:
          form_id: bad
          version: "1"
          title: {zh: 坏}
          period_type: annual
          unit_level: village
        survey:
          - type: integr
            name: a
            label: A
          - type: note
            name: n
            label: N
            constraint: . > 1

        """.write(to: file, atomically: true, encoding: .utf8)
        let run = try vsurvey(["form", "check", file.path, "forms/village-branch.yaml", "--lang", "en"])
        #expect(run.status == 1)
        #expect(run.stdout.contains("\(file.path):8: field 'a': unknown type 'integr'"), "\(run.stdout)")
        #expect(run.stdout.contains("\(file.path):14: field 'n': a note field cannot have 'constraint'"))
        #expect(run.stdout.contains("✓ forms/village-branch.yaml"))
        #expect(run.stdout.contains("1 of 2 forms failed the check"))
    }

    @Test func validatesAValidSample() throws {
        let run = try vsurvey(["form", "validate", "village-branch", "forms/samples/village-branch-valid.json"] + today)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("130102001203 东关村"))
        #expect(!run.stdout.contains("\u{1B}["), "no colour when not a terminal")
    }

    @Test func invalidSampleFailsWithTheRulesMessage() throws {
        let file = "forms/samples/village-branch-invalid-age-sum.json"
        let zh = try vsurvey(["form", "validate", "village-branch", file] + today)
        #expect(zh.status == 1)
        #expect(zh.stdout.contains("members_age_60_over(60岁及以上):四个年龄段人数之和应等于党员总数"), "\(zh.stdout)")
        let en = try vsurvey(["form", "validate", "village-branch", file, "--lang", "en"] + today)
        #expect(en.stdout.contains("members_age_60_over (Aged 60 and over): The four age groups must add up to the total number of members"), "\(en.stdout)")
        let locale = try vsurvey(["form", "validate", "village-branch", file] + today, environment: ["LANG": "en_US.UTF-8"])
        #expect(locale.stdout.contains("The four age groups"))
    }

    @Test func validateAsJSON() throws {
        let run = try vsurvey(
            ["form", "validate", "village-branch", "forms/samples/village-branch-invalid-member-birth-year-missing.json", "--json", "--lang", "en"] + today)
        #expect(run.status == 1)
        let result = try JSONParser().parse(run.stdout)
        #expect(result["valid"] == false)
        #expect(result["issues"]?.arrayValue?.first?["path"] == "committee_members[2].birth_year")
        #expect(result["issues"]?.arrayValue?.first?["code"] == "required")
        #expect(result["answers"]?["secretary_age"] != nil)
    }

    @Test func badAnswerFileSaysWhere() throws {
        let directory = try scratchDirectory()
        let file = directory.appendingPathComponent("broken.json")
        try "{\n  \"members_total\": 12,\n  \"branch_type\" \"branch\"\n}\n".write(to: file, atomically: true, encoding: .utf8)
        let run = try vsurvey(["form", "validate", "village-branch", file.path, "--lang", "en"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(file.path):3:17: expected ':' after the key"), "\(run.stderr)")
    }

    @Test func unknownFormListsTheForms() throws {
        let run = try vsurvey(["form", "show", "village", "--lang", "en"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("no form 'village'. Forms available: cadre-team@2026.1, community-branch@2026.1, village-branch@2026.1"))
    }

    @Test func showsAFormAsAPersonReadsIt() throws {
        let zh = try vsurvey(["form", "show", "village-branch"])
        #expect(zh.status == 0)
        #expect(zh.stdout.contains("1. 组织类型  [单选,必答]"))
        #expect(zh.stdout.contains("党员总数(人)"))
        #expect(zh.stdout.contains("其他“两委”成员  (重复组,0–15 条)"))
        #expect(zh.stdout.contains("≤ 今天"))
        #expect(zh.stdout.contains("汇总指标"))
        let en = try vsurvey(["form", "show", "village-branch@2026.1", "--lang", "en"])
        #expect(en.stdout.contains("1. Type of party organisation  [choose one, required]"))
    }

    @Test func listsForms() throws {
        let run = try vsurvey(["form", "list", "--lang", "en"])
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n")
        // A header, then cadre-team, community-branch and village-branch's two versions.
        #expect(lines.count == 5)
        #expect(lines[0].hasPrefix("form"))
        #expect(run.stdout.contains("village-branch"))
    }

    @Test func formsFromAnotherDirectory() throws {
        let directory = try scratchDirectory()
        let run = try vsurvey(["form", "list", "--lang", "en"], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.contains("no forms: there is no ./forms here"))
        let explicit = try vsurvey(["form", "list", "--forms", Fixtures.formsDirectory.path], in: directory)
        #expect(explicit.status == 0)
        #expect(explicit.stdout.contains("village-branch"))
        let environment = try vsurvey(["form", "list"], in: directory, environment: ["VSURVEY_FORMS": Fixtures.formsDirectory.path])
        #expect(environment.stdout.contains("cadre-team"))
    }

    @Test func brokenRegistryStopsValidation() throws {
        let directory = try scratchDirectory()
        let forms = directory.appendingPathComponent("forms")
        try FileManager.default.createDirectory(at: forms.appendingPathComponent("units"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: Fixtures.formsDirectory.appendingPathComponent("village-branch.yaml"), to: forms.appendingPathComponent("village-branch.yaml"))
        try "code,name,level,parent\n130102000000,县,county,\n13010200100,坏,township,130102000000\n".write(
            to: forms.appendingPathComponent("units/u.csv"), atomically: true, encoding: .utf8)
        let sample = Fixtures.samplesDirectory.appendingPathComponent("village-branch-valid.json").path
        let run = try vsurvey(["form", "validate", "village-branch", sample, "--lang", "en"] + today, in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.contains("the unit registry has errors"))
        #expect(run.stderr.contains("forms/units/u.csv:3: code '13010200100' is not 12 digits"), "\(run.stderr)")
        let check = try vsurvey(["form", "check", "--lang", "en"], in: directory)
        #expect(check.status == 1)
        #expect(check.stdout.contains("1 registry file has errors"))
    }

    @Test func evaluatesExpressions() throws {
        let plain = try vsurvey(["expr", "1 + 2 * 3"])
        #expect(plain.status == 0)
        #expect(plain.stdout == "7 (number)\n")
        let withForm = try vsurvey(
            ["expr", "${secretary_age} >= 60 or ${committee_size}", "--form", "village-branch", "--answers", "forms/samples/village-branch-valid.json"] + today)
        #expect(withForm.stdout == "true (boolean)\n", "\(withForm)")
        let raw = try vsurvey(["expr", "${members_total} * 2", "--answers", "forms/samples/village-branch-valid.json"])
        #expect(raw.status == 0)
        #expect(raw.stdout.hasSuffix("(number)\n"))
    }

    @Test func expressionErrorPointsAtTheColumn() throws {
        let run = try vsurvey(["expr", "1 + (2 * 3", "--lang", "en"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("column 5: '(' lacks its closing ')'"), "\(run.stderr)")
        #expect(run.stdout == "1 + (2 * 3\n    ^\n")
    }

    @Test func helpExplains() throws {
        let run = try vsurvey(["form", "validate", "--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("答案文件为 JSON 或 YAML"))
        #expect(run.stdout.contains("--today"))
    }
}

@Suite("Parsing the command line in process")
struct CommandParsingTests {
    @Test func rejectsAnUnknownLanguage() {
        #expect(throws: (any Error).self) { try VSurvey.parseAsRoot(["form", "list", "--lang", "fr"]) }
    }

    @Test func rejectsABadToday() {
        #expect(throws: (any Error).self) { try VSurvey.parseAsRoot(["form", "list", "--today", "2026-02-30"]) }
    }

    @Test func requiresTheAnswersFile() {
        #expect(throws: (any Error).self) { try VSurvey.parseAsRoot(["form", "validate", "village-branch"]) }
    }

    @Test func csvCellsNeverRunAsFormulas() {
        let form = Fixtures.catalog().form("village-branch")!
        let text = form.field(named: "notes")!
        let sources = form.field(named: "income_sources")!
        let codes = ExportStyle(labels: false, labelHeaders: false, language: .zh)
        func csv(_ value: JSONValue, _ field: Field) -> String { SurveyExport.csvText(SurveyExport.cell(value, field, codes)) }
        #expect(csv(.string("=HYPERLINK(\"x\")"), text) == "'=HYPERLINK(\"x\")")
        #expect(csv(.string("+1"), text) == "'+1")
        #expect(csv(.integer(-5), text) == "-5")
        #expect(csv(["land", "rental"], sources) == "land rental")
        #expect(CSV.field("a,\"b\"") == "\"a,\"\"b\"\"\"")
    }

    @Test func parsesValidate() throws {
        let command = try VSurvey.parseAsRoot(["form", "validate", "village-branch", "a.json", "--json", "--lang", "en"])
        let validate = try #require(command as? FormCommand.Validate)
        #expect(validate.form == "village-branch")
        #expect(validate.json)
        #expect(validate.options.language == .en)
    }
}

@Suite("What a person types is understood")
struct NaturalAnswerTests {
    @Test("numbers with their unit, 万 and 千, separators; dates written the Chinese way")
    func numbersAndDates() {
        let people = L("人", "people")
        let yuan = L("元", "yuan")
        for (typed, measure, plain) in [
            ("46人", people, "46"), ("46 人", people, "46"), ("46", people, "46"), ("3.6万", yuan, "36000"), ("3.6万元", yuan, "36000"),
            ("42,000元", yuan, "42000"), ("1.5千", yuan, "1500"), ("1971年", nil, "1971"), ("12 people", people, "12"), ("abc", people, "abc"),
            ("万", yuan, "万"), ("1.23456万", yuan, "12345.6"),
            // Never stored in the wrong unit: a field in 万元 takes the number as it is; another unit is left for the engine to refuse.
            ("3.6万元", L("万元", "10,000 yuan"), "3.6"), ("3.6", L("万元", "10,000 yuan"), "3.6"), ("36000元", L("万元", "10,000 yuan"), "36000元"),
            ("3年", L("月", "months"), "3年"), ("5户", people, "5户"), ("46元", people, "46元"),
        ] as [(String, LocalizedText?, String)] {
            #expect(AnswerInput.number(typed, measure: measure) == plain, "\(typed)")
        }
        for (typed, date) in [
            ("2026年12月1日", "2026-12-01"), ("2026年1月5号", "2026-01-05"), ("2026.12.1", "2026-12-01"), ("2026/3/09", "2026-03-09"), ("2026-12-1", "2026-12-01"),
        ] {
            #expect(AnswerInput.date(typed) == date, "\(typed)")
        }
        for typed in ["2026年13月1日", "26-12-01", "yesterday", "2026-12"] { #expect(AnswerInput.date(typed) == nil, "\(typed)") }
    }

    @Test("keys and yes/no read the same half-width or full-width, with what Shift+, types in Chinese mode")
    func keys() {
        #expect(EntryKey.read("<") == .back && EntryKey.read("＜") == .back && EntryKey.read("《") == .back)
        #expect(EntryKey.read(":q") == .quit && EntryKey.read("：q") == .quit && EntryKey.read("：ｑ") == .quit)
        #expect(EntryKey.read("？") == .help && EntryKey.read("?") == .help)
        #expect(EntryKey.read(":12") == .jump(.number(12)) && EntryKey.read("：１２") == .jump(.number(12)))
        #expect(EntryKey.read(":跳 党员总数") == .jump(.text("党员总数")) && EntryKey.read(":go members") == .jump(.text("members")))
        #expect(EntryKey.read("46") == nil && EntryKey.read("q") == nil && EntryKey.read(":") == nil)
    }
}
