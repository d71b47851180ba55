import Foundation
import SurveyCore
import SurveyFixtures
import Testing

@Suite("vsurvey report on the device's own surveys")
struct ReportCommandTests {
    @Test("figures worked out by hand for two villages: table, CSV and JSON agree, with the weak-economy village on its watch list")
    func handComputed() throws {
        let data = try scratchDirectory()
        let sample = try JSONParser().parse(Data(contentsOf: Fixtures.samplesDirectory.appendingPathComponent("village-branch-valid.json")))
        // 东关村 (城关镇) as in the sample: 46 members, 18 aged 60+, operating income 82,000 of 186,000 元.
        var answers = try #require(sample["answers"]?.objectValue)
        let first = data.appendingPathComponent("first.json")
        try Data(JSONValue.object(answers).serializedBytes()).write(to: first)
        // 吕家台村 (河西镇): 46 members, 24 aged 60+, operating and collective income 40,000 元 (weak).
        answers["members_age_46_59"] = .integer(8)
        answers["members_age_60_over"] = .integer(24)
        answers["operating_income"] = .integer(40_000)
        answers["collective_income"] = .integer(40_000)
        let second = data.appendingPathComponent("second.json")
        try Data(JSONValue.object(answers).serializedBytes()).write(to: second)
        for (file, unit) in [(first, "130102001203"), (second, "130102002201")] {
            let run = try vsurvey(
                [
                    "fill", "village-branch", "--unit", unit, "--period", "2026", "--answers", file.path, "--finalize", "--data-dir", data.path, "--today",
                    "2026-11-26",
                ])
            #expect(run.status == 0, "\(run.stderr)")
        }
        // Wide enough for the whole table in one part.
        let table = try vsurvey(["report", "village-branch", "--period", "2026", "--data-dir", data.path, "--lang", "en"], environment: ["COLUMNS": "400"])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        func line(_ label: String) -> [String] {
            (lines.first { $0.hasPrefix(label) } ?? "").dropFirst(label.count).split(separator: " ").map(String.init)
        }
        // Columns: 12 townships, then the county total.
        #expect(line("reported / expected").last == "2/250")
        #expect(line("Reporting completeness").last == "0.8%")  // 2 / 250
        #expect(line("Party members").last == "92")  // 46 + 46
        #expect(line("Ageing rate (members aged 60+)").last == "45.7%")  // (18 + 24) / 92 = 0.4565
        #expect(line("Ageing rate (members aged 60+)").prefix(2) == ["39.1%", "52.2%"])  // 18/46, 24/46
        #expect(line("Villages with a weak collective economy").last == "1")
        #expect(line("Share of villages with a weak collective economy").last == "50.0%")
        #expect(line("Total operating income").last == "¥122,000")  // 82,000 + 40,000
        #expect(line("Average operating income per village").last == "¥61,000")
        #expect(line("Total collective income").last == "¥226,000")  // 186,000 + 40,000
        #expect(table.stdout.contains("Villages with a weak collective economy: 1\n  130102002201 河西镇 吕家台村  ¥40,000"), "\(table.stdout)")
        #expect(table.stdout.contains("Not reported: 248"))

        let json = try vsurvey(["report", "village-branch", "--period", "2026", "--format", "json", "--data-dir", data.path])
        let report = try JSONParser().parse(Array(json.stdout.utf8))
        #expect(report["total"]?["values"]?["ageing_rate"]?.doubleValue.map { abs($0 - 42.0 / 92.0) < 1e-12 } == true)
        #expect(report["total"]?["values"]?["operating_income_total"] == .integer(122_000))

        // CSV for people by default: Chinese headers, percentages as percent.
        let csv = try vsurvey(["report", "village-branch", "--period", "2026", "--format", "csv", "--data-dir", data.path])
        #expect(csv.stdout.hasPrefix("\u{FEFF}单位代码,单位名称,应报送,已报送,按时报送,报送完成率(%),党员总数,"), "\(csv.stdout.prefix(120))")
        #expect(csv.stdout.contains("\r\n130102000000,安平示范县,250,2,0,0.8,92,"))
        // For programs: names, and ratios as fractions.
        let named = try vsurvey(["report", "village-branch", "--period", "2026", "--format", "csv", "--headers", "names", "--data-dir", data.path])
        #expect(named.stdout.hasPrefix("\u{FEFF}unit,名称,expected,reported,on_time,completeness,members,"), "\(named.stdout.prefix(120))")
        #expect(named.stdout.contains("\r\n130102000000,安平示范县,250,2,0,0.008,92,"))
        // A township with nothing reported has empty cells, not zeros (its completeness stays).
        let beigang = try #require(csv.stdout.components(separatedBy: "\r\n").first { $0.hasPrefix("130102003000,") })
        #expect(beigang.hasPrefix("130102003000,北岗镇,22,0,0,0,,"), "\(beigang)")

        // In a terminal 100 columns wide (the default) no line is wider: the
        // townships come in parts, each with the indicators' column; every
        // township and the total are there, and one with nothing reported says so.
        let narrow = try vsurvey(["report", "village-branch", "--period", "2026", "--data-dir", data.path])
        #expect(narrow.status == 0)
        let widest = narrow.stdout.split(separator: "\n").map { DisplayWidth.of(String($0)) }.max() ?? 0
        #expect(widest <= 100, "a line \(widest) columns wide")
        #expect(narrow.stdout.contains("(第 1/2 部分)") && narrow.stdout.contains("(第 2/2 部分)"))
        for township in ["城关镇", "河西镇", "北岗镇", "青龙湾镇", "合计"] { #expect(narrow.stdout.contains(township), "\(township)") }
        let members = narrow.stdout.split(separator: "\n").first { $0.hasPrefix("党员总数") }.map(String.init) ?? ""
        #expect(members.contains("未报送") && !members.contains(" 0 "), "\(members)")
    }

    @Test("a scope not in the registry is an error; a report with no surveys of this device says so and points to --remote")
    func emptyAndUnknownScopes() throws {
        let data = try scratchDirectory("report-empty")
        let unknown = try vsurvey(["report", "village-branch", "--unit", "999999999999", "--period", "2026", "--data-dir", data.path, "--lang", "en"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unit 999999999999 is not in the unit registry"), "\(unknown)")
        let html = data.appendingPathComponent("r.html").path
        let empty = try vsurvey(["report", "village-branch", "--period", "2026", "--html", html, "--data-dir", data.path, "--lang", "en"])
        #expect(empty.status == 0)
        #expect(empty.stderr.contains("this device has no finalized surveys") && empty.stderr.contains("--remote"), "\(empty.stderr)")
        // Nothing reported anywhere: the total says so too, rather than 0 members.
        let table = try vsurvey(["report", "village-branch", "--period", "2026", "--data-dir", data.path], environment: ["COLUMNS": "400"])
        let members = table.stdout.split(separator: "\n").first { $0.hasPrefix("党员总数") }.map(String.init) ?? ""
        #expect(members.hasSuffix("未报送") && !members.split(separator: " ").contains("0"), "\(members)")
    }
}

@Suite("form check and the server's SQL")
struct IndicatorCheckTests {
    @Test("an indicator that SQL cannot compute exactly is refused by form check, with its line and reason")
    func divisionRefused() throws {
        let directory = try scratchDirectory()
        let original = try String(contentsOf: Fixtures.formsDirectory.appendingPathComponent("village-branch.yaml"), encoding: .utf8)
        let changed = original.replacingOccurrences(of: "condition: ${secretary_age} >= 60", with: "condition: ${secretary_age} div 2 >= 30")
        #expect(changed != original)
        let file = directory.appendingPathComponent("village-branch.yaml")
        try changed.write(to: file, atomically: true, encoding: .utf8)
        let run = try vsurvey(["form", "check", file.path, "--lang", "en"], in: directory)
        #expect(run.status == 1)
        let line = changed.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("name: secretary_60_plus") }.map { $0 + 1 }
        #expect(run.stdout.contains("village-branch.yaml:\(line ?? 0): secretary_60_plus: div and mod cannot be used in an indicator"), "\(run.stdout)")
    }
}
