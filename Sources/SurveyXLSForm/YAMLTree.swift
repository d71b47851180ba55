import Foundation
import Yams

/// Where a value came from in a workbook: a sheet, a row as the
/// spreadsheet numbers it, and a column (its letters and its header).
public struct CellPlace: Sendable, Equatable {
    public var sheet: String
    public var row: Int?
    public var column: String?
    public var header: String?

    public init(sheet: String, row: Int? = nil, column: String? = nil, header: String? = nil) {
        self.sheet = sheet
        self.row = row
        self.column = column
        self.header = header
    }
}

/// A YAML value as the importer builds it and the exporter reads it: the
/// form file's tree, each mapping entry with the cell it came from.
indirect enum YAMLTree: Equatable {
    case scalar(String)
    case mapping([Entry])
    case sequence([YAMLTree])

    struct Entry: Equatable {
        var key: String
        var value: YAMLTree
        var place: CellPlace?
    }

    subscript(key: String) -> YAMLTree? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    var scalar: String? {
        if case .scalar(let text) = self { return text }
        return nil
    }

    var entries: [Entry] {
        if case .mapping(let entries) = self { return entries }
        return []
    }

    var items: [YAMLTree] {
        if case .sequence(let items) = self { return items }
        return []
    }

    /// Whether every value is a scalar: written on one line as `{a: 1}`.
    var isFlat: Bool {
        switch self {
        case .scalar: return true
        case .mapping(let entries): return entries.allSatisfy { $0.value.scalar != nil }
        case .sequence(let items): return items.allSatisfy { $0.scalar != nil }
        }
    }

    /// The tree of a Yams node: scalars keep the text written.
    init(_ node: Node) {
        switch node {
        case .scalar(let scalar): self = .scalar(scalar.string)
        case .mapping(let mapping):
            self = .mapping(mapping.map { Entry(key: $0.key.string ?? "", value: YAMLTree($0.value), place: nil) })
        case .sequence(let sequence): self = .sequence(sequence.map(YAMLTree.init))
        case .alias: self = .scalar("")
        }
    }

    /// The value on one line, as YAML's flow style writes it: what a cell
    /// holds for a setting such as `constants` or an indicator's `bins`.
    var flow: String {
        switch self {
        case .scalar(let text): return YAMLWriter.scalar(text)
        case .mapping(let entries): return "{" + entries.map { YAMLWriter.scalar($0.key) + ": " + $0.value.flow }.joined(separator: ", ") + "}"
        case .sequence(let items): return "[" + items.map(\.flow).joined(separator: ", ") + "]"
        }
    }
}

/// Writes a form's tree as a YAML file a person can read and edit: block
/// style for the structure, labels on one line, strings quoted only where
/// YAML needs it. Records which line came from which cell, so that a
/// problem the form loader finds on a line is named by its cell.
struct YAMLWriter {
    private(set) var text = ""
    private(set) var line = 1
    /// The cell each written line came from, by line.
    private(set) var places: [Int: CellPlace] = [:]

    mutating func comment(_ text: String) {
        for part in text.split(separator: "\n", omittingEmptySubsequences: false) {
            emit("# " + part, place: nil)
        }
    }

    mutating func blank() { emit("", place: nil) }

    private mutating func emit(_ content: String, place: CellPlace?) {
        text += content + "\n"
        if let place { places[line] = place }
        line += 1
    }

    /// A top-level or nested mapping's entries, `indent` spaces in.
    mutating func write(_ entries: [YAMLTree.Entry], indent: Int, place inherited: CellPlace? = nil) {
        let pad = String(repeating: " ", count: indent)
        for entry in entries {
            let place = entry.place ?? inherited
            let key = Self.scalar(entry.key)
            switch entry.value {
            case .scalar(let value) where entry.key == "version" && !value.contains("'"):
                // A version such as 2026.2 reads as text, quoted so that nobody takes it for a number.
                emit("\(pad)\(key): '\(value)'", place: place)
            case .scalar(let value):
                emit("\(pad)\(key): \(Self.scalar(value))", place: place)
            case .mapping(let inner) where entry.value.isFlat && !inner.isEmpty:
                emit("\(pad)\(key): \(entry.value.flow)", place: place)
            case .sequence where entry.value.isFlat:
                emit("\(pad)\(key): \(entry.value.flow)", place: place)
            case .mapping(let inner):
                emit("\(pad)\(key):", place: place)
                write(inner, indent: indent + 2, place: place)
            case .sequence(let items):
                emit("\(pad)\(key):", place: place)
                writeItems(items, indent: indent + 2, place: place)
            }
        }
    }

    /// A block sequence: each mapping item starts with `- ` and its first key.
    mutating func writeItems(_ items: [YAMLTree], indent: Int, place: CellPlace?) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            switch item {
            case .mapping(let entries) where !entries.isEmpty:
                // The first entry on the dash's line, the rest below it.
                var first = YAMLWriter()
                first.write([entries[0]], indent: 0, place: place)
                let lines = first.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                for (offset, content) in lines.enumerated() {
                    let linePlace = first.places[offset + 1] ?? entries[0].place ?? place
                    emit((offset == 0 ? pad + "- " : pad + "  ") + content, place: linePlace)
                }
                write(Array(entries.dropFirst()), indent: indent + 2, place: entries[0].place ?? place)
            default:
                emit(pad + "- " + item.flow, place: place)
            }
        }
    }

    /// A scalar as YAML text: plain where YAML reads it back unchanged as
    /// the same text, else in single quotes, or double quotes with escapes
    /// for line breaks and control characters.
    static func scalar(_ text: String) -> String {
        if isPlain(text) { return text }
        if !text.contains("'"), !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\u{7F}" }) {
            return "'" + text + "'"
        }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            case "\r": quoted += "\\r"
            default:
                if scalar.value < 0x20 || scalar == "\u{7F}" {
                    quoted += String(format: "\\x%02X", scalar.value)
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }

    private static let special: Set<Unicode.Scalar> = [
        ":", "#", "{", "}", "[", "]", ",", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`", "?", "\\",
    ]

    private static func isPlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
        if first == " " || last == " " || first == "-" || first == "~" { return false }
        for scalar in text.unicodeScalars where special.contains(scalar) || scalar.value < 0x20 || scalar == "\u{7F}" { return false }
        // Words YAML would read as something other than the same text
        // are still text to the form loader, but quoted they say so.
        switch text.lowercased() {
        case "null", "~", "": return false
        default: return true
        }
    }
}
