import Foundation
import SurveyCore

/// Writes to the terminal in the user's language, with colour only when
/// standard output is a terminal and `NO_COLOR` is not set.
struct Console {
    let language: Language
    let colour: Bool
    let environment: [String: String]

    init(language: Language, environment: [String: String]) {
        self.language = language
        self.environment = environment
        colour = isatty(STDOUT_FILENO) != 0 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
    }

    func text(_ message: LocalizedText) -> String { message.text(language) }

    /// The terminal's width in columns: `COLUMNS`, else the terminal's own
    /// size when standard output is one, else 100.
    var width: Int {
        if let columns = environment["COLUMNS"].flatMap(Int.init), columns >= 20 { return columns }
        var size = winsize()
        if isatty(STDOUT_FILENO) != 0, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 20 { return Int(size.ws_col) }
        return 100
    }

    func out(_ line: String = "") {
        print(line)
    }

    func out(_ message: LocalizedText) { print(text(message)) }

    /// Writes a prompt without a line end and makes sure it is shown, even
    /// when standard output is a pipe.
    func prompt(_ text: String) {
        print(text, terminator: "")
        fflush(nil)
    }

    /// Reads one line of input; nil at the end of input (Ctrl-D).
    func readAnswer() -> String? {
        fflush(nil)
        return readLine(strippingNewline: true)
    }

    func yellow(_ text: String) -> String { paint(text, "33") }
    func cyan(_ text: String) -> String { paint(text, "36") }

    func error(_ message: LocalizedText) { error(text(message)) }

    func error(_ line: String) {
        FileHandle.standardError.write(Data((language == .zh ? "错误:" : "error: ").utf8) + Data((line + "\n").utf8))
    }

    /// A line on standard error without the `error:` word: the details
    /// under an error, and warnings.
    func detail(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    func red(_ text: String) -> String { paint(text, "31") }
    func green(_ text: String) -> String { paint(text, "32") }
    func bold(_ text: String) -> String { paint(text, "1") }
    func dim(_ text: String) -> String { paint(text, "2") }

    private func paint(_ text: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    /// A table whose columns line up by display width, so Chinese aligns.
    func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { DisplayWidth.of($0[column]) }.max() ?? 0 }
        func render(_ row: [String]) -> String {
            row.enumerated().map { DisplayWidth.pad($1, to: widths[$0]) }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        out(bold(render(header)))
        for row in rows { out(render(row)) }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
