import Foundation
import SurveyCore
import ZIPFoundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A cell as a workbook holds it.
public enum ReadCell: Sendable, Equatable {
    /// Text: a shared string, an inline string or a formula's text result.
    case text(String)
    /// A number (`1`, `2.5`, `1E-3` in the file).
    case number(Double)
    case bool(Bool)
    /// An error value such as `#N/A`.
    case error(String)

    /// The cell as a person reads it: a name typed as `1` is `1`, not
    /// `1.0`; a fraction in its shortest form (Excel writes 2.3 as
    /// `2.2999999999999998`); booleans as TRUE and FALSE.
    public var text: String {
        switch self {
        case .text(let text): return text
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return JSONValue.number(value).serialized()
        case .bool(let value): return value ? "TRUE" : "FALSE"
        case .error(let text): return text
        }
    }
}

/// One row of a sheet: its number as the spreadsheet shows it (from 1)
/// and its cells by column (from 0, column A).
public struct ReadRow: Sendable, Equatable {
    public var number: Int
    public var cells: [Int: ReadCell]

    public init(number: Int, cells: [Int: ReadCell]) {
        self.number = number
        self.cells = cells
    }

    public subscript(column: Int) -> ReadCell? { cells[column] }
}

/// One sheet: its name and its rows that hold something, in order.
public struct ReadSheet: Sendable, Equatable {
    public var name: String
    public var rows: [ReadRow]

    public init(name: String, rows: [ReadRow]) {
        self.name = name
        self.rows = rows
    }
}

/// What could not be read, and where.
public struct XLSXReadError: Error, Sendable, CustomStringConvertible {
    public var message: LocalizedText
    public var description: String { message.text(.en) }
}

/// Reads .xlsx workbooks (Office Open XML) as Excel, LibreOffice, WPS and
/// openpyxl write them: the ZIP container through ZIPFoundation, each part
/// through an XML parser; shared strings (rich-text runs joined, phonetic
/// runs left out), inline strings, formula results, numbers, booleans,
/// errors and empty cells; cells with or without their references.
public enum XLSXReader {
    public static func read(_ url: URL) throws(XLSXReadError) -> [ReadSheet] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw XLSXReadError(message: L("无法读取 \(url.path)", "cannot read \(url.path)"))
        }
        return try read(data, name: url.lastPathComponent)
    }

    public static func read(_ data: Data, name: String) throws(XLSXReadError) -> [ReadSheet] {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw XLSXReadError(message: L("\(name) 不是 .xlsx 工作簿(无法作为 ZIP 打开)", "\(name) is not an .xlsx workbook (it does not open as ZIP)"))
        }
        func part(_ path: String) throws(XLSXReadError) -> Data? {
            guard let entry = archive[path] else { return nil }
            var bytes = Data()
            do {
                _ = try archive.extract(entry, skipCRC32: false) { bytes.append($0) }
            } catch {
                throw XLSXReadError(message: L("\(name):\(path) 已损坏", "\(name): \(path) is damaged"))
            }
            return bytes
        }
        guard let workbook = try part("xl/workbook.xml") else {
            throw XLSXReadError(message: L("\(name) 中没有 xl/workbook.xml,不是 .xlsx 工作簿", "\(name) has no xl/workbook.xml; it is not an .xlsx workbook"))
        }
        let sheets = try Self.parse(workbook, WorkbookParts(), part: "xl/workbook.xml", in: name).sheets
        let relations = try part("xl/_rels/workbook.xml.rels").map { data throws(XLSXReadError) in
            try Self.parse(data, Relationships(), part: "xl/_rels/workbook.xml.rels", in: name).targets
        } ?? [:]
        let shared = try part("xl/sharedStrings.xml").map { data throws(XLSXReadError) in
            try Self.parse(data, SharedStrings(), part: "xl/sharedStrings.xml", in: name).strings
        } ?? []
        var result: [ReadSheet] = []
        for (index, sheet) in sheets.enumerated() {
            // Targets are relative to xl/ (or absolute from the root).
            var path = relations[sheet.relation].map { $0.hasPrefix("/") ? String($0.dropFirst()) : "xl/" + $0 } ?? "xl/worksheets/sheet\(index + 1).xml"
            path = path.replacingOccurrences(of: "xl/./", with: "xl/")
            guard let data = try part(path) else {
                throw XLSXReadError(message: L("\(name) 的工作表 “\(sheet.name)” 缺少 \(path)", "\(name): the sheet '\(sheet.name)' lacks its part \(path)"))
            }
            let rows = try Self.parse(data, Worksheet(shared: shared), part: path, in: name).rows
            result.append(ReadSheet(name: sheet.name, rows: rows))
        }
        return result
    }

    /// Column index (0 for A) of a cell reference such as `AB12`.
    public static func column(of reference: String) -> Int? {
        var column = 0
        var letters = 0
        for byte in reference.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): column = column * 26 + Int(byte - UInt8(ascii: "A")) + 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"): column = column * 26 + Int(byte - UInt8(ascii: "a")) + 1
            default: return letters == 0 ? nil : column - 1
            }
            letters += 1
            if letters > 3 { return nil }
        }
        return letters == 0 ? nil : column - 1
    }

    /// The letters of a column index (0 is A).
    public static func letters(of column: Int) -> String { XLSXWriter.column(column) }

    static func parse<Handler: PartHandler>(_ data: Data, _ handler: Handler, part: String, in name: String) throws(XLSXReadError) -> Handler {
        let parser = XMLParser(data: data)
        // Names are matched without their prefixes (`x:row` as some writers
        // put it is `row`), which is what namespace processing would give
        // for the few elements read here.
        parser.delegate = handler
        // Foundation on Linux may answer true for a document that is not
        // well-formed, and then sets parserError: both are failures.
        let parsed = parser.parse()
        if !parsed || parser.parserError != nil {
            let code = (parser.parserError as NSError?)?.code ?? 0
            let reason: LocalizedText =
                switch code {
                case XMLParser.ErrorCode.emptyDocumentError.rawValue: L("不是 XML 或是空的", "it is not XML, or it is empty")
                case XMLParser.ErrorCode.prematureDocumentEndError.rawValue: L("XML 不完整或格式不对", "the XML is incomplete or not well-formed")
                default: L("XML 格式不对(错误 \(code))", "the XML is not well-formed (error \(code))")
                }
            throw XLSXReadError(
                message: L(
                    "\(name):\(part) 第 \(parser.lineNumber) 行无法读取:\(reason.text(.zh))",
                    "\(name): \(part) line \(parser.lineNumber): \(reason.text(.en))"))
        }
        return handler
    }
}

/// A part's reader. Each conforms to XMLParserDelegate itself: a
/// conformance inherited from a base class would use the protocol's
/// empty defaults, not a subclass's methods.
typealias PartHandler = NSObject & XMLParserDelegate

extension String {
    /// An XML name without its namespace prefix.
    var localName: Substring {
        guard let colon = lastIndex(of: ":") else { return self[...] }
        return self[index(after: colon)...]
    }
}

/// `xl/workbook.xml`: the sheets in order, with their relation ids.
final class WorkbookParts: NSObject, XMLParserDelegate {
    var sheets: [(name: String, relation: String)] = []

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]
    ) {
        guard elementName.localName == "sheet" else { return }
        let relation = attributes.first { $0.key.hasSuffix(":id") }?.value ?? attributes["id"] ?? ""
        sheets.append((attributes["name"] ?? "Sheet\(sheets.count + 1)", relation))
    }
}

/// `xl/_rels/workbook.xml.rels`: relation id to part path.
final class Relationships: NSObject, XMLParserDelegate {
    var targets: [String: String] = [:]

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]
    ) {
        guard elementName.localName == "Relationship", let id = attributes["Id"], let target = attributes["Target"] else { return }
        targets[id] = target
    }
}

/// `xl/sharedStrings.xml`: each `si`'s text, its runs joined; phonetic
/// guides (`rPh`) are not part of the text.
final class SharedStrings: NSObject, XMLParserDelegate {
    var strings: [String] = []
    var current = ""
    var inText = false
    var phonetic = 0

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]
    ) {
        switch elementName.localName {
        case "si": current = ""
        case "rPh": phonetic += 1
        case "t": inText = phonetic == 0
        default: break
        }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        switch elementName.localName {
        case "si": strings.append(current)
        case "rPh": phonetic -= 1
        case "t": inText = false
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText { current += string }
    }
}

/// A worksheet's rows. A cell's type (`t`): `s` shared string, `inlineStr`,
/// `str` a formula's text, `b` boolean, `e` error, `n` or none a number
/// (`d`, an ISO date, is kept as its text).
final class Worksheet: NSObject, XMLParserDelegate {
    let shared: [String]
    var rows: [ReadRow] = []
    var row: ReadRow?
    var nextRow = 1
    var nextColumn = 0
    var cellColumn = 0
    var cellType = "n"
    var value = ""
    var inline = ""
    var capturing: Capture = .none
    var phonetic = 0

    enum Capture { case none, value, inline }

    init(shared: [String]) { self.shared = shared }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]
    ) {
        switch elementName.localName {
        case "row":
            let number = attributes["r"].flatMap(Int.init) ?? nextRow
            row = ReadRow(number: number, cells: [:])
            nextRow = number + 1
            nextColumn = 0
        case "c":
            cellColumn = attributes["r"].flatMap(XLSXReader.column(of:)) ?? nextColumn
            nextColumn = cellColumn + 1
            cellType = attributes["t"] ?? "n"
            value = ""
            inline = ""
        case "v": capturing = .value
        case "rPh": phonetic += 1
        case "t" where phonetic == 0: capturing = .inline
        default: break
        }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        switch elementName.localName {
        case "v", "t": capturing = .none
        case "rPh": phonetic -= 1
        case "c":
            if let cell = cell() { row?.cells[cellColumn] = cell }
        case "row":
            if let row, !row.cells.isEmpty { rows.append(row) }
            row = nil
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        switch capturing {
        case .value: value += string
        case .inline: inline += string
        case .none: break
        }
    }

    func cell() -> ReadCell? {
        switch cellType {
        case "s":
            guard let index = Int(value.trimmingCharacters(in: .whitespaces)), shared.indices.contains(index) else { return nil }
            return shared[index].isEmpty ? nil : .text(shared[index])
        case "inlineStr": return inline.isEmpty ? nil : .text(inline)
        case "str", "d": return value.isEmpty ? nil : .text(value)
        case "b": return value.isEmpty ? nil : .bool(value.trimmingCharacters(in: .whitespaces) == "1")
        case "e": return value.isEmpty ? nil : .error(value)
        default:
            let written = value.trimmingCharacters(in: .whitespaces)
            guard !written.isEmpty else { return nil }
            guard let number = Double(written) else { return .text(written) }
            return .number(number)
        }
    }
}
