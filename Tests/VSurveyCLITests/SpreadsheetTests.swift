import Foundation
import SurveyCore
import SurveyFixtures
import Testing

@Suite("Exports for people, opened with a real spreadsheet reader (openpyxl)", .enabled(if: SpreadsheetReader.wanted))
struct SpreadsheetTests {
    func rows(_ sheet: JSONValue?) -> [[JSONValue]] { (sheet?["rows"]?.arrayValue ?? []).map { $0.arrayValue ?? [] } }
    func values(_ row: [JSONValue]) -> [JSONValue] { row.map { $0["value"] ?? .null } }

    @Test("xlsx: a sheet for the surveys and one per repeat, Chinese headers and choice labels, codes as text, numbers as numbers, header frozen and bold")
    func workbookInChinese() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        for sample in ["village-branch-valid.json", "village-branch-valid-shell-village.json"] {
            let run = try vsurvey(["fill", "village-branch", "--answers", "forms/samples/\(sample)", "--finalize"] + today, environment: environment)
            #expect(run.status == 0, "\(run)")
        }
        let file = URL(fileURLWithPath: home).appendingPathComponent("村党组织.xlsx").path
        let run = try vsurvey(["export", "--format", "xlsx", "--form", "village-branch", "-o", file], environment: environment)
        #expect(run.status == 0, "\(run)")
        #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)
        let book = try SpreadsheetReader.read(file)
        let sheets = book["sheets"]?.arrayValue ?? []
        #expect(sheets.map { $0["title"]?.stringValue ?? "" } == ["村党组织建设情况调查", "其他“两委”成员"])
        for sheet in sheets {
            #expect(sheet["freeze"] == "A2", "\(sheet["title"] ?? .null)")
            #expect(sheet["header_bold"] == .bool(true))
        }
        let main = rows(sheets.first)
        #expect(main.count == 3)
        let header = values(main[0]).compactMap(\.stringValue)
        #expect(header.prefix(9) == ["调查编号", "修订", "状态", "表单", "版本", "单位代码", "单位名称", "报告期", "更新时间"])
        #expect(header.contains("党员总数") && header.contains("组织类型") && !header.contains("members_total"))
        func cell(_ row: [JSONValue], _ label: String) -> JSONValue? { header.firstIndex(of: label).flatMap { $0 < row.count ? row[$0] : nil } }
        let east = try #require(main.dropFirst().first { cell($0, "单位名称")?["value"] == "东关村" })
        #expect(cell(east, "单位代码")?["value"] == "130102001203" && cell(east, "单位代码")?["type"] == "str", "a unit code stays text")
        #expect(cell(east, "报告期")?["type"] == "str")
        #expect(cell(east, "党员总数")?["value"] == 46 && cell(east, "党员总数")?["type"] == "int")
        #expect(cell(east, "书记年报酬")?["value"] == 42000)
        #expect(cell(east, "状态")?["value"] == "已定稿")
        #expect(cell(east, "组织类型")?["value"] == "党支部")
        #expect(cell(east, "书记是否兼任村委会主任(一肩挑)")?["value"] == "是", "\(header)")
        let members = rows(sheets.last)
        #expect(values(members[0]).prefix(3) == ["调查编号", "序号", "职务"])
        // Every committee member of both surveys, each joined to its survey.
        let ids = Set(main.dropFirst().compactMap { $0.first?["value"]?.stringValue })
        #expect(members.count - 1 == 4, "\(members.count - 1) entries")
        #expect(members.dropFirst().allSatisfy { ids.contains($0.first?["value"]?.stringValue ?? "") })
        #expect(members.dropFirst().contains { values($0).contains("副书记") })
    }

    @Test("xlsx in English, and with codes and names for programs; CSV with labels")
    func workbookInEnglishAndCodes() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        _ = try vsurvey(["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--finalize"] + today, environment: environment)
        let english = URL(fileURLWithPath: home).appendingPathComponent("en.xlsx").path
        #expect(try vsurvey(["export", "--format", "xlsx", "-o", english, "--lang", "en"], environment: environment).status == 0)
        let book = try SpreadsheetReader.read(english)
        let main = rows(book["sheets"]?.arrayValue?.first)
        #expect(book["sheets"]?.arrayValue?.first?["title"] == "Village party branch survey")
        #expect(values(main[0]).prefix(2) == ["Survey id", "Revision"])
        #expect(values(main[1]).contains("finalized") && values(main[1]).contains("Party branch"), "\(values(main[1]).prefix(12))")

        let codes = URL(fileURLWithPath: home).appendingPathComponent("codes.xlsx").path
        #expect(try vsurvey(["export", "--format", "xlsx", "-o", codes, "--values", "codes", "--headers", "names"], environment: environment).status == 0)
        let coded = rows(try SpreadsheetReader.read(codes)["sheets"]?.arrayValue?.first)
        #expect(values(coded[0]).contains("members_total") && values(coded[1]).contains("finalized") && values(coded[1]).contains("branch"))

        let csv = URL(fileURLWithPath: home).appendingPathComponent("labels.csv")
        #expect(try vsurvey(["export", "-o", csv.path, "--values", "labels", "--headers", "labels"], environment: environment).status == 0)
        let text = String(decoding: try Data(contentsOf: csv).dropFirst(3), as: UTF8.self)
        #expect(text.hasPrefix("调查编号,修订,状态") && text.contains(",已定稿,") && text.contains(",党支部,"))
    }
}
