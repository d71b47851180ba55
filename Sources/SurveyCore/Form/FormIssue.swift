/// One problem in a form file, with where it is.
public struct FormIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// The field (or choice list, indicator, setting) the problem is in.
    public var field: String?
    /// The column within an expression, when the problem is in one.
    public var column: Int?
    public var message: LocalizedText

    public init(file: String, line: Int, field: String? = nil, column: Int? = nil, message: LocalizedText) {
        self.file = file
        self.line = line
        self.field = field
        self.column = column
        self.message = message
    }

    /// `file:line: field 'x': message (column N)`, in the given language.
    public func rendered(_ language: Language) -> String {
        var text = "\(file):\(line): "
        if let field {
            text += language == .zh ? "字段 \(field):" : "field '\(field)': "
        }
        text += message.text(language)
        if let column {
            text += language == .zh ? "(表达式第 \(column) 列)" : " (expression column \(column))"
        }
        return text
    }

    public var description: String { rendered(.en) }
}

/// Every problem found in a form; a form with any problem is not loaded.
public struct FormLoadError: Error, Sendable, CustomStringConvertible {
    public var issues: [FormIssue]

    public init(issues: [FormIssue]) {
        self.issues = issues
    }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
