import Foundation
import SurveyCore
import ZIPFoundation

/// One cell of a sheet: text (a code stays text, so `130102001203` never
/// becomes `1.30102E+11`), a number, or nothing; a streamed worksheet may
/// also name a string of its shared-string table (`StreamedPackage`).
public enum SheetCell: Sendable, Equatable {
    case text(String)
    case number(Double)
    case empty
    /// The string at this index of the workbook's shared strings.
    case shared(Int)
}

/// One sheet: a name, a header row (bold, frozen) and rows of cells.
public struct Sheet: Sendable {
    public var name: String
    public var header: [String]
    public var rows: [[SheetCell]]

    public init(name: String, header: [String], rows: [[SheetCell]] = []) {
        self.name = name
        self.header = header
        self.rows = rows
    }
}

public struct SpreadsheetError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}

/// Office Open XML workbooks (.xlsx) as Excel, WPS, LibreOffice and
/// openpyxl read them: strings inline (no shared-string table to build),
/// numbers as numbers, the header row bold and frozen, columns sized to
/// their content. The bytes depend only on the sheets (entries are dated
/// 1980-01-01), so the same export is the same file.
public enum XLSXWriter {
    /// The workbook as the bytes of an .xlsx file.
    public static func data(_ sheets: [Sheet]) throws -> Data {
        guard !sheets.isEmpty else { throw SpreadsheetError(description: "a workbook needs at least one sheet") }
        let names = uniqueNames(sheets.map(\.name))
        var files: [(String, Data)] = [
            ("[Content_Types].xml", Data(contentTypes(count: sheets.count).utf8)),
            ("_rels/.rels", Data(rootRelationships.utf8)),
            ("xl/workbook.xml", Data(workbook(names).utf8)),
            ("xl/_rels/workbook.xml.rels", Data(workbookRelationships(count: sheets.count).utf8)),
            ("xl/styles.xml", Data(styles.utf8)),
        ]
        for (index, sheet) in sheets.enumerated() {
            files.append(("xl/worksheets/sheet\(index + 1).xml", Data(worksheet(sheet).utf8)))
        }
        let archive: Archive
        do {
            archive = try Archive(data: Data(), accessMode: .create)
        } catch {
            throw SpreadsheetError(description: "cannot make the workbook's container: \(error)")
        }
        let dated = Date(timeIntervalSince1970: 315_532_800)
        for (path, content) in files {
            try archive.addEntry(
                with: path, type: .file, uncompressedSize: Int64(content.count), modificationDate: dated, compressionMethod: .deflate
            ) { position, size in
                content.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let bytes = archive.data else { throw SpreadsheetError(description: "the workbook's container is empty") }
        return bytes
    }

    /// Sheet names as Excel takes them: at most 31 characters, none of
    /// `[]:*?/\`, not empty, each different (case-insensitively).
    static func uniqueNames(_ names: [String]) -> [String] {
        var used = Set<String>()
        return names.enumerated().map { index, name in
            var clean = String(name.map { "[]:*?/\\".contains($0) ? "_" : $0 }.prefix(31)).trimmingCharacters(in: .whitespaces)
            if clean.isEmpty { clean = "Sheet\(index + 1)" }
            var candidate = clean
            var number = 2
            while used.contains(candidate.lowercased()) {
                let suffix = " (\(number))"
                candidate = String(clean.prefix(31 - suffix.count)) + suffix
                number += 1
            }
            used.insert(candidate.lowercased())
            return candidate
        }
    }

    /// `A`, `B`, … `Z`, `AA`, …
    static func column(_ index: Int) -> String {
        var number = index + 1
        var letters = ""
        while number > 0 {
            let remainder = (number - 1) % 26
            letters = String(UnicodeScalar(UInt8(65 + remainder))) + letters
            number = (number - 1) / 26
        }
        return letters
    }

    /// Text as XML character data: markup escaped, and characters XML 1.0
    /// cannot hold (controls other than tab and newlines) left out.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func worksheet(_ sheet: Sheet) -> String {
        let columns = max(sheet.header.count, sheet.rows.map(\.count).max() ?? 0)
        // A column's width in characters, a CJK character counting two, as the terminal tables count them.
        var widths = sheet.header.map(DisplayWidth.of)
        widths += Array(repeating: 0, count: max(0, columns - widths.count))
        for row in sheet.rows {
            for (index, cell) in row.enumerated() {
                switch cell {
                case .text(let text): widths[index] = max(widths[index], DisplayWidth.of(text))
                case .number(let value): widths[index] = max(widths[index], number(value).count)
                case .empty, .shared: break
                }
            }
        }
        var xml = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
            <sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>
            <sheetFormatPr defaultRowHeight="15"/>
            """
        if columns > 0 {
            xml += "<cols>"
            for (index, width) in widths.enumerated() {
                xml += "<col min=\"\(index + 1)\" max=\"\(index + 1)\" width=\"\(min(60, max(8, width + 2)))\" customWidth=\"1\"/>"
            }
            xml += "</cols>"
        }
        xml += "<sheetData>"
        func row(_ line: Int, _ cells: [SheetCell], style: Int) {
            xml += "<row r=\"\(line)\">"
            for (index, cell) in cells.enumerated() {
                let reference = column(index) + String(line)
                let styled = style > 0 ? " s=\"\(style)\"" : ""
                switch cell {
                case .text(let text): xml += "<c r=\"\(reference)\" t=\"inlineStr\"\(styled)><is><t xml:space=\"preserve\">\(escape(text))</t></is></c>"
                case .number(let value) where value.isFinite: xml += "<c r=\"\(reference)\"\(styled)><v>\(number(value))</v></c>"
                case .shared(let index): xml += "<c r=\"\(reference)\" t=\"s\"\(styled)><v>\(index)</v></c>"
                case .number, .empty: break
                }
            }
            xml += "</row>"
        }
        row(1, sheet.header.map(SheetCell.text), style: 1)
        for (offset, cells) in sheet.rows.enumerated() { row(offset + 2, cells, style: 0) }
        xml += "</sheetData>"
        if columns > 0, !sheet.rows.isEmpty {
            xml += "<autoFilter ref=\"A1:\(column(columns - 1))\(sheet.rows.count + 1)\"/>"
        }
        xml += "</worksheet>"
        return xml
    }

    static func contentTypes(count: Int, sharedStrings: Bool = false) -> String {
        var xml = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
            <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
            <Default Extension="xml" ContentType="application/xml"/>
            <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
            <Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
            """
        for index in 1...count {
            xml +=
                "<Override PartName=\"/xl/worksheets/sheet\(index).xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
        }
        if sharedStrings {
            xml +=
                "<Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/>"
        }
        return xml + "</Types>"
    }

    static let rootRelationships = """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
        <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
        </Relationships>
        """

    static func workbook(_ names: [String]) -> String {
        var xml = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
            <sheets>
            """
        for (index, name) in names.enumerated() {
            xml += "<sheet name=\"\(escape(name))\" sheetId=\"\(index + 1)\" r:id=\"rId\(index + 1)\"/>"
        }
        return xml + "</sheets></workbook>"
    }

    static func workbookRelationships(count: Int, sharedStrings: Bool = false) -> String {
        var xml = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            """
        for index in 1...count {
            xml +=
                "<Relationship Id=\"rId\(index)\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet\(index).xml\"/>"
        }
        xml +=
            "<Relationship Id=\"rId\(count + 1)\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/>"
        if sharedStrings {
            xml +=
                "<Relationship Id=\"rId\(count + 2)\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/>"
        }
        return xml + "</Relationships>"
    }

    /// Two cell formats: plain, and bold for the header row.
    static let styles = """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
        <fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>
        <fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
        <borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
        <cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
        <cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>
        <cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
        </styleSheet>
        """
}
