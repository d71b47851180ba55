import Foundation
import SurveyCore
import ZIPFoundation

/// Bytes to a file through a buffer of its own, so that a table of a
/// million rows costs a megabyte of memory.
final class BufferedFile {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private(set) var written: Int64 = 0
    private static let limit = 1 << 20

    init(creating url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw SpreadsheetError(description: "cannot create \(url.path)")
        }
        handle = try FileHandle(forWritingTo: url)
        buffer.reserveCapacity(Self.limit + 64 * 1024)
    }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.limit { flush() }
    }

    func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.limit { flush() }
    }

    private func flush() {
        handle.write(Data(buffer))
        written += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        flush()
        try handle.close()
    }
}

/// One table of a streamed export, written to its file as its rows come:
/// a worksheet's XML (inline strings, the header bold and frozen) or CSV
/// (UTF-8 with a byte-order mark, text a spreadsheet would run as a
/// formula neutralised).
public final class TableFile {
    public enum Kind: Sendable { case worksheet, csv }
    let kind: Kind
    let url: URL
    private let file: BufferedFile
    private let columns: Int
    public private(set) var rows = 0

    init(kind: Kind, url: URL, header: [String], widths: [Int]) throws {
        self.kind = kind
        self.url = url
        file = try BufferedFile(creating: url)
        columns = header.count
        switch kind {
        case .worksheet:
            var xml = """
                <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
                <sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>
                <sheetFormatPr defaultRowHeight="15"/>
                """
            if !header.isEmpty {
                xml += "<cols>"
                for (index, width) in widths.enumerated() {
                    xml += "<col min=\"\(index + 1)\" max=\"\(index + 1)\" width=\"\(min(60, max(8, width + 2)))\" customWidth=\"1\"/>"
                }
                xml += "</cols>"
            }
            xml += "<sheetData><row>"
            for text in header { xml += "<c t=\"inlineStr\" s=\"1\"><is><t xml:space=\"preserve\">\(XLSXWriter.escape(text))</t></is></c>" }
            xml += "</row>"
            file.write(xml)
        case .csv:
            file.write([0xEF, 0xBB, 0xBF])
            file.write(CSV.line(header))
        }
    }

    /// One row, its cells in the header's order.
    public func append(_ cells: [SheetCell]) {
        var bytes: [UInt8] = []
        Self.encode(cells, kind: kind, into: &bytes)
        append(encoded: bytes, rows: 1)
    }

    /// Rows already encoded by `encode` (perhaps on another thread).
    public func append(encoded bytes: [UInt8], rows count: Int) {
        rows += count
        file.write(bytes)
    }

    /// Appends one row as this kind of table writes it. Rows and cells of a
    /// worksheet carry no references (`r`): readers place them one after
    /// another, and empty cells are written, so that every cell stays in
    /// its column. Pure, so that pages of rows can be encoded in parallel.
    public static func encode(_ cells: [SheetCell], kind: Kind, into out: inout [UInt8]) {
        switch kind {
        case .worksheet:
            out.append(contentsOf: rowOpen)
            for cell in cells {
                switch cell {
                case .text(let text):
                    let preserve = text.utf8.first.map(isSpace) == true || text.utf8.last.map(isSpace) == true
                    out.append(contentsOf: preserve ? textOpenPreserving : textOpen)
                    appendXML(text, into: &out)
                    out.append(contentsOf: textClose)
                case .number(let value) where value.isFinite:
                    out.append(contentsOf: numberOpen)
                    appendNumber(value, into: &out)
                    out.append(contentsOf: numberClose)
                case .shared(let index):
                    out.append(contentsOf: sharedOpen)
                    appendNumber(Double(index), into: &out)
                    out.append(contentsOf: numberClose)
                case .number, .empty:
                    out.append(contentsOf: emptyCell)
                }
            }
            out.append(contentsOf: rowClose)
        case .csv:
            for (index, cell) in cells.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                switch cell {
                case .empty, .shared: break
                case .number(let value): if value.isFinite { appendNumber(value, into: &out) }
                case .text(let text): appendCSV(CSV.text(text), into: &out)
                }
            }
            out.append(contentsOf: [0x0D, 0x0A])
        }
    }

    private static let rowOpen = Array("<row>".utf8)
    private static let rowClose = Array("</row>".utf8)
    private static let textOpen = Array("<c t=\"inlineStr\"><is><t>".utf8)
    private static let textOpenPreserving = Array("<c t=\"inlineStr\"><is><t xml:space=\"preserve\">".utf8)
    private static let textClose = Array("</t></is></c>".utf8)
    private static let numberOpen = Array("<c><v>".utf8)
    private static let sharedOpen = Array("<c t=\"s\"><v>".utf8)
    private static let numberClose = Array("</v></c>".utf8)
    private static let emptyCell = Array("<c/>".utf8)

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    /// Text as XML character data; the bytes go in as they are unless one
    /// of them needs escaping or leaving out (markup, controls, and — to be
    /// safe — every character whose UTF-8 starts with EF, where U+FFFE and
    /// U+FFFF live).
    static func appendXML(_ text: String, into out: inout [UInt8]) {
        for byte in text.utf8 where byte < 0x20 || byte == 0x26 || byte == 0x3C || byte == 0x3E || byte == 0x22 || byte == 0xEF {
            out.append(contentsOf: XLSXWriter.escape(text).utf8)
            return
        }
        out.append(contentsOf: text.utf8)
    }

    /// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
    static func appendCSV(_ text: String, into out: inout [UInt8]) {
        for byte in text.utf8 where byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") || byte == 0x0A || byte == 0x0D {
            out.append(contentsOf: CSV.field(text).utf8)
            return
        }
        out.append(contentsOf: text.utf8)
    }

    /// A whole number as its digits; anything else as Swift writes it.
    static func appendNumber(_ value: Double, into out: inout [UInt8]) {
        guard value == value.rounded(), abs(value) < 1e15 else {
            out.append(contentsOf: Value.format(value).utf8)
            return
        }
        var number = Int64(value)
        if number == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        if number < 0 {
            out.append(UInt8(ascii: "-"))
            number = -number
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while number > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(number % 10)
                number /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
        }
    }

    func finish() throws {
        if kind == .worksheet {
            var tail = "</sheetData>"
            if columns > 0, rows > 0 { tail += "<autoFilter ref=\"A1:\(XLSXWriter.column(columns - 1))\(rows + 1)\"/>" }
            file.write(tail + "</worksheet>")
        }
        try file.close()
    }
}

/// An export of several tables packed into one ZIP file as it is made: an
/// .xlsx workbook (a worksheet a table) or a ZIP of CSV files. Each table
/// is written to its own scratch file first (ZIPFoundation must know an
/// entry's size before it writes it), then added to the archive; the
/// archive itself is a file too, so memory does not grow with the rows.
/// After each entry, `published` hears how many bytes from the archive's
/// start are final (everything before its central directory), so that a
/// download can start with the small entries while the tables are made.
public final class StreamedPackage {
    public enum Format: Sendable { case xlsx, csvZip }
    public let format: Format
    public let archiveURL: URL
    private let directory: URL
    private let archive: Archive
    private let names: [String]
    public let tables: [TableFile]
    private let published: (Int64) -> Void
    /// Tables up to this size (uncompressed) are deflated; larger ones stored.
    public static let deflateLimit: Int64 = 256 << 20
    private let dated = Date(timeIntervalSince1970: 315_532_800)

    /// Starts the package at `archive`, its tables' files in `directory` (a
    /// scratch directory the caller removes), with the tables' names and
    /// headers; the parts that do not depend on the rows go into the
    /// archive at once.
    public init(
        format: Format, archive archiveURL: URL, directory: URL, tables: [(name: String, header: [String], widths: [Int])], readme: String? = nil,
        sharedStrings: [String] = [], published: @escaping (Int64) -> Void
    ) throws {
        self.format = format
        self.directory = directory
        self.published = published
        self.archiveURL = archiveURL
        do {
            archive = try Archive(url: archiveURL, accessMode: .create)
        } catch {
            throw SpreadsheetError(description: "cannot make the export's container: \(error)")
        }
        switch format {
        case .xlsx:
            names = XLSXWriter.uniqueNames(tables.map(\.name))
        case .csvZip:
            var used = Set<String>()
            names = tables.map { table in
                var name = String(table.name.map { "/\\:*?\"<>|".contains($0) ? "_" : $0 })
                while used.contains(name) { name += "_" }
                used.insert(name)
                return name + ".csv"
            }
        }
        self.tables = try tables.enumerated().map { index, table in
            try TableFile(
                kind: format == .xlsx ? .worksheet : .csv, url: directory.appendingPathComponent("table\(index)"), header: table.header,
                widths: table.widths)
        }
        switch format {
        case .xlsx:
            let shared = !sharedStrings.isEmpty
            try add("[Content_Types].xml", XLSXWriter.contentTypes(count: tables.count, sharedStrings: shared))
            try add("_rels/.rels", XLSXWriter.rootRelationships)
            try add("xl/workbook.xml", XLSXWriter.workbook(names))
            try add("xl/_rels/workbook.xml.rels", XLSXWriter.workbookRelationships(count: tables.count, sharedStrings: shared))
            try add("xl/styles.xml", XLSXWriter.styles)
            if shared {
                // The strings many cells repeat (choice labels, township names):
                // a cell names one by its index instead of holding it.
                var xml = """
                    <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                    <sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="\(sharedStrings.count)">
                    """
                for text in sharedStrings { xml += "<si><t xml:space=\"preserve\">\(XLSXWriter.escape(text))</t></si>" }
                try add("xl/sharedStrings.xml", xml + "</sst>")
            }
        case .csvZip:
            try add("README.txt", readme ?? names.joined(separator: "\n"))
        }
    }

    private func add(_ path: String, _ text: String) throws {
        let content = Data(text.utf8)
        try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(content.count), modificationDate: dated, compressionMethod: .deflate) {
            position, size in content.subdata(in: Int(position)..<Int(position) + size)
        }
        publish()
    }

    /// Adds every table to the archive, closes it and says its whole length.
    public func finish() throws {
        for (index, table) in tables.enumerated() {
            try table.finish()
            let path = format == .xlsx ? "xl/worksheets/sheet\(index + 1).xml" : names[index]
            let size = try FileManager.default.attributesOfItem(atPath: table.url.path)[.size] as? Int64 ?? 0
            let handle = try FileHandle(forReadingFrom: table.url)
            defer { try? handle.close() }
            // ZIPFoundation deflates at zlib's default level on one core,
            // about 80 MB a second: a table larger than `deflateLimit` is
            // stored as it is, so that a national export is not held up by
            // minutes of compression.
            let method: CompressionMethod = size > Self.deflateLimit ? .none : .deflate
            try archive.addEntry(with: path, type: .file, uncompressedSize: size, modificationDate: dated, compressionMethod: method, bufferSize: 256 * 1024) {
                _, chunk in handle.readData(ofLength: chunk)
            }
            try? FileManager.default.removeItem(at: table.url)
            publish()
        }
        let length = try FileManager.default.attributesOfItem(atPath: archiveURL.path)[.size] as? Int64 ?? 0
        published(length)
    }

    /// The bytes before the central directory are final: the end-of-central-
    /// directory record (the archive's last 22 bytes, no comment) says where
    /// the directory starts. A ZIP64 archive says it elsewhere; then nothing
    /// is published before the end.
    private func publish() {
        guard let handle = try? FileHandle(forReadingFrom: archiveURL) else { return }
        defer { try? handle.close() }
        guard let end = try? handle.seekToEnd(), end >= 22 else { return }
        try? handle.seek(toOffset: end - 22)
        guard let record = try? handle.read(upToCount: 22), record.count == 22 else { return }
        let bytes = [UInt8](record)
        func word(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        guard word(0) == 0x0605_4b50, word(16) != 0xFFFF_FFFF else { return }
        published(Int64(word(16)))
    }
}
