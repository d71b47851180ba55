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
            file.write(CSV.line(header) + "\r\n")
        }
    }

    /// One row, its cells in the header's order. Rows and cells carry no
    /// references (`r`): readers place them one after another, and empty
    /// cells are written, so that every cell stays in its column.
    public func append(_ cells: [SheetCell]) {
        rows += 1
        switch kind {
        case .worksheet:
            var xml = "<row>"
            for cell in cells {
                switch cell {
                case .text(let text): xml += "<c t=\"inlineStr\"><is><t xml:space=\"preserve\">\(XLSXWriter.escape(text))</t></is></c>"
                case .number(let value) where value.isFinite: xml += "<c><v>\(XLSXWriter.number(value))</v></c>"
                case .number, .empty: xml += "<c/>"
                }
            }
            xml += "</row>"
            file.write(xml)
        case .csv:
            var fields: [String] = []
            fields.reserveCapacity(cells.count)
            for cell in cells {
                switch cell {
                case .empty: fields.append("")
                case .number(let number): fields.append(number.isFinite ? Value.format(number) : "")
                case .text(let text): fields.append(CSV.text(text))
                }
            }
            file.write(CSV.line(fields) + "\r\n")
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
    private let dated = Date(timeIntervalSince1970: 315_532_800)

    /// Starts the package at `archive`, its tables' files in `directory` (a
    /// scratch directory the caller removes), with the tables' names and
    /// headers; the parts that do not depend on the rows go into the
    /// archive at once.
    public init(
        format: Format, archive archiveURL: URL, directory: URL, tables: [(name: String, header: [String], widths: [Int])], readme: String? = nil,
        published: @escaping (Int64) -> Void
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
            try add("[Content_Types].xml", XLSXWriter.contentTypes(count: tables.count))
            try add("_rels/.rels", XLSXWriter.rootRelationships)
            try add("xl/workbook.xml", XLSXWriter.workbook(names))
            try add("xl/_rels/workbook.xml.rels", XLSXWriter.workbookRelationships(count: tables.count))
            try add("xl/styles.xml", XLSXWriter.styles)
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
            try archive.addEntry(with: path, type: .file, uncompressedSize: size, modificationDate: dated, compressionMethod: .deflate, bufferSize: 256 * 1024) {
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
