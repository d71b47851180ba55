import Foundation

/// CSV as this project writes it (RFC 4180): for spreadsheets (exports,
/// the report's CSV) and for data files (the pulled unit registry).
public enum CSV {
    /// A field: quoted when it holds a comma, a quote or a line break
    /// (looked for byte by byte: "\r\n" is one Character in Swift).
    public static func field(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Fields joined by commas, ending with `ending`.
    public static func line(_ fields: [String], ending: String = "\r\n") -> String {
        fields.map(field).joined(separator: ",") + ending
    }

    /// Text for a spreadsheet cell: text that a spreadsheet would run as a
    /// formula (`=`, `+`, `-`, `@`, a tab or a carriage return first) gets an
    /// apostrophe in front, which the spreadsheet shows as plain text.
    public static func text(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return text }
        return "'" + text
    }

    /// The lines of a CSV file's text, a byte-order mark dropped; "\r\n",
    /// "\n" and "\r" all end a line ("\r\n" is one Character in Swift, so
    /// each is named). Empty lines are kept, so an index + 1 is a line number.
    public static func lines(_ text: String) -> [String] {
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body.removeFirst() }
        return body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).map(String.init)
    }

    /// The fields of one line (commas, and fields in double quotes with
    /// `""` for a quote): what registry files need.
    public static func fields(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" {
                            current.append("\"")
                        } else {
                            quoted = false
                            pending = next
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "\"" && current.isEmpty {
                quoted = true
            } else if c == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        fields.append(current)
        return fields
    }
}
