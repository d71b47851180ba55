import Foundation
import SurveyCore
import SurveyFixtures
import SurveySpreadsheet
import Testing
import ZIPFoundation

/// Workbooks read as their writers write them: this project's own, one
/// written by openpyxl, and parts as LibreOffice and WPS write them
/// (inline strings, formula results, cells without references, prefixed
/// element names, rich text with phonetic guides).
@Suite("Reading .xlsx workbooks")
struct XLSXReaderTests {
    func texts(_ sheet: ReadSheet) -> [[String]] {
        sheet.rows.map { row in
            let width = (row.cells.keys.max() ?? -1) + 1
            return (0..<width).map { row.cells[$0]?.text ?? "" }
        }
    }

    @Test func readsBackWhatTheWriterWrote() throws {
        let data = try XLSXWriter.data([
            Sheet(name: "survey", header: ["type", "name", "label::Chinese (zh)"], rows: [
                [.text("integer"), .text("members_total"), .text("党员总数")],
                [.text("text"), .empty, .text("备注")],
                [.number(46), .number(2.5), .text("130102001203")],
            ]),
            Sheet(name: "choices", header: ["list_name"], rows: [[.text("yes_no")]]),
        ])
        let sheets = try XLSXReader.read(data, name: "form.xlsx")
        try #require(sheets.map(\.name) == ["survey", "choices"])
        #expect(texts(sheets[0]) == [["type", "name", "label::Chinese (zh)"], ["integer", "members_total", "党员总数"], ["text", "", "备注"], ["46", "2.5", "130102001203"]])
        #expect(sheets[0].rows.map(\.number) == [1, 2, 3, 4])
        #expect(sheets[0].rows[3][0] == .number(46))
        #expect(sheets[0].rows[3][2] == .text("130102001203"), "a code written as text stays text")
    }

    @Test func readsPartsAsLibreOfficeAndWPSWriteThem() throws {
        let workbook = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
            <x:sheets><x:sheet name="settings" sheetId="2" r:id="rId7"/><x:sheet name="survey" sheetId="1" r:id="rId1"/></x:sheets></x:workbook>
            """
        let relations = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
            <Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/other.xml"/>
            </Relationships>
            """
        let shared = """
            <?xml version="1.0" encoding="UTF-8"?>
            <sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3">
            <si><t>select_one yes_no</t></si>
            <si><r><rPr><b/></rPr><t>村</t></r><r><t xml:space="preserve"> 书记 </t></r><rPh sb="0" eb="1"><t>cun</t></rPh></si>
            <si><t></t></si>
            </sst>
            """
        let survey = """
            <?xml version="1.0" encoding="UTF-8"?>
            <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
            <row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="inlineStr"><is><t>&lt;内联&gt; &amp; text</t></is></c></row>
            <row r="3"><c t="s"><v>1</v></c><c t="str"><f>A1</f><v>formula text</v></c><c t="b"><v>1</v></c><c t="e"><v>#N/A</v></c></row>
            <row r="4"><c r="B4"><v>3.0</v></c><c r="C4"><v>1E-3</v></c><c r="D4" t="s"><v>2</v></c><c r="E4"/><c r="F4"><v>2.2999999999999998</v></c></row>
            <row r="5"><c r="A5" s="1"/></row>
            <row><c r="AA6"><v>-12</v></c></row>
            </sheetData></worksheet>
            """
        let settings = """
            <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
            <row r="1"><c r="A1" t="inlineStr"><is><t>form_id</t></is></c></row></sheetData></worksheet>
            """
        let archive = try Archive(data: Data(), accessMode: .create)
        for (path, text) in [
            ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", relations), ("xl/sharedStrings.xml", shared),
            ("xl/worksheets/sheet1.xml", survey), ("xl/worksheets/other.xml", settings),
        ] {
            let bytes = Data(text.utf8)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .deflate) { position, size in
                bytes.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        let sheets = try XLSXReader.read(try #require(archive.data), name: "wps.xlsx")
        try #require(sheets.map(\.name) == ["settings", "survey"], "in the workbook's order, each found through its relation")
        #expect(texts(sheets[0]) == [["form_id"]])
        let rows = sheets[1].rows
        #expect(rows.map(\.number) == [1, 3, 4, 6], "rows with nothing are left out; a row without its number follows the one before")
        #expect(rows[0][0] == .text("select_one yes_no") && rows[0][1] == nil && rows[0][2] == .text("<内联> & text"))
        #expect(rows[1][0] == .text("村 书记 "), "rich-text runs joined, the phonetic guide left out")
        #expect(rows[1][1] == .text("formula text") && rows[1][2] == .bool(true) && rows[1][3] == .error("#N/A"))
        #expect(rows[2][1]?.text == "3" && rows[2][2]?.text == "0.001" && rows[2][3] == nil && rows[2][4] == nil)
        #expect(rows[2][5]?.text == "2.3", "a fraction as Excel writes it, read in its shortest form")
        #expect(rows[3][26] == .number(-12))
    }

    @Test func saysWhatIsWrongWithAFileThatIsNotAWorkbook() throws {
        #expect(throws: XLSXReadError.self) { try XLSXReader.read(Data("type,name\n".utf8), name: "form.csv") }
        do {
            _ = try XLSXReader.read(Data("type,name\n".utf8), name: "form.csv")
        } catch {
            #expect(error.message.text(.en) == "form.csv is not an .xlsx workbook (it does not open as ZIP)")
            #expect(error.message.text(.zh).contains("不是 .xlsx 工作簿"))
        }
        let archive = try Archive(data: Data(), accessMode: .create)
        let bytes = Data("<workbook><sheets><sheet name='a'></workbook>".utf8)
        try archive.addEntry(with: "xl/workbook.xml", type: .file, uncompressedSize: Int64(bytes.count)) { position, size in
            bytes.subdata(in: Int(position)..<Int(position) + size)
        }
        let broken = try #require(archive.data)
        do {
            _ = try XLSXReader.read(broken, name: "broken.xlsx")
            Issue.record("a workbook part that is not XML was read")
        } catch {
            #expect(error.message.text(.en).hasPrefix("broken.xlsx: xl/workbook.xml line "), "\(error.message.text(.en))")
        }
    }

    @Test func columnLetters() {
        for (letters, index) in [("A", 0), ("Z", 25), ("AA", 26), ("AZ", 51), ("BA", 52), ("XFD", 16383)] {
            #expect(XLSXReader.column(of: letters + "12") == index)
            #expect(XLSXReader.letters(of: index) == letters)
        }
        #expect(XLSXReader.column(of: "12") == nil)
    }

    @Test("a workbook written by openpyxl: shared strings, numbers, booleans, Chinese, empty cells", .enabled(if: SpreadsheetReader.python != nil))
    func readsWhatOpenpyxlWrote() throws {
        let python = try #require(SpreadsheetReader.python)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-xlsx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("form.xlsx").path
        let script = """
            import sys, openpyxl
            book = openpyxl.Workbook()
            survey = book.active
            survey.title = "survey"
            survey.append(["type", "name", "label::Chinese (zh)", "required"])
            survey.append(["integer", "members_total", "党员总数", True])
            survey.append(["decimal", "income", None, False])
            survey.append([None, None, None, None])
            survey.append([7, 2.25, "  空格  ", None])
            choices = book.create_sheet("choices")
            choices.append(["list_name", "name", "label"])
            choices.append(["level", 1, "小学"])
            book.save(sys.argv[1])
            """
        let run = try CommandRun.run(URL(fileURLWithPath: python), ["-c", script, file], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let sheets = try XLSXReader.read(URL(fileURLWithPath: file))
        try #require(sheets.map(\.name) == ["survey", "choices"])
        #expect(texts(sheets[0]) == [
            ["type", "name", "label::Chinese (zh)", "required"], ["integer", "members_total", "党员总数", "TRUE"], ["decimal", "income", "", "FALSE"],
            ["7", "2.25", "  空格  "],
        ])
        #expect(sheets[0].rows.map(\.number) == [1, 2, 3, 5])
        #expect(sheets[1].rows[1][1] == .number(1) && sheets[1].rows[1][1]?.text == "1")
    }
}
