import SurveyCore

/// The columns of a form's export, over every version of it: the fields of
/// the surveys table (the newest version's order first, then fields only
/// older versions have), and each repeat's fields, so that surveys filled
/// with an older version lose nothing. The device's `vsurvey export` and
/// the server's raw exports lay out their tables with it.
public struct ExportLayout: Sendable {
    /// The form's versions, newest first.
    public let forms: [Form]
    /// The top-level fields that hold answers.
    public let topFields: [Field]
    /// Each repeat, with the fields of its entries.
    public let repeats: [(field: Field, inner: [Field])]

    public init(forms: [Form]) {
        self.forms = forms
        var topFields: [Field] = []
        var repeats: [(field: Field, inner: [Field])] = []
        for form in forms {
            for field in form.fields where field.repeatIndex == nil && field.type.holdsValue && !topFields.contains(where: { $0.name == field.name }) {
                topFields.append(field)
            }
            for repeatIndex in form.repeats {
                let repeatField = form.fields[repeatIndex]
                let inner = form.fields.filter { $0.repeatIndex == repeatField.repeatPosition && $0.type.holdsValue }
                if let existing = repeats.firstIndex(where: { $0.field.name == repeatField.name }) {
                    repeats[existing].inner += inner.filter { field in !repeats[existing].inner.contains { $0.name == field.name } }
                } else {
                    repeats.append((repeatField, inner))
                }
            }
        }
        self.topFields = topFields
        self.repeats = repeats
    }

    /// Each field's choice labels in `language`, by choice name (yes and no
    /// for yes/no questions), for turning many answers into cells quickly.
    public static func choiceLabels(_ fields: [Field], language: Language) -> [[String: String]] {
        fields.map { field in
            var labels: [String: String] = [:]
            if field.type == .yesNo {
                labels["yes"] = language == .en ? "Yes" : "是"
                labels["no"] = language == .en ? "No" : "否"
            }
            for choice in field.choices?.choices ?? [] where labels[choice.name] == nil { labels[choice.name] = choice.label.text(language) }
            return labels
        }
    }

    /// An answer as a cell, with the field's choice labels looked up in
    /// `labels` (from `choiceLabels`) when there are any.
    public static func cell(_ value: JSONValue?, labels: [String: String]?, language: Language) -> SheetCell {
        switch value {
        case nil, .null?: return .empty
        case .integer(let number)?: return .number(Double(number))
        case .number(let number)?: return .number(number)
        case .bool(let flag)?: return .text(flag ? "true" : "false")
        case .object?: return .text(value!.serialized())
        case .string(let text)?: return .text(labels?[text] ?? text)
        case .array(let items)?:
            let names = items.map { item -> String in if case .string(let text) = item { text } else { item.serialized() } }
            guard let labels else { return .text(names.joined(separator: " ")) }
            return .text(names.map { labels[$0] ?? $0 }.joined(separator: language == .en ? "; " : "、"))
        }
    }

    /// A field's header: its label in `language`, or its name.
    public static func header(_ field: Field, labels: Bool, language: Language) -> String {
        labels ? field.label?.text(language) ?? field.name : field.name
    }

    /// An answer as a cell: numbers as numbers; a choice as its code or,
    /// with `labels`, its label (several joined by 、 or ;).
    public static func cell(_ value: JSONValue?, _ field: Field, labels: Bool, language: Language) -> SheetCell {
        cell(value, labels: labels ? choiceLabels([field], language: language)[0] : nil, language: language)
    }

    /// The label of a choice the field offers (是 for yes), or the text as it is.
    public static func label(of name: String, _ field: Field, _ language: Language) -> String {
        if field.type == .yesNo {
            if name == "yes" { return language == .en ? "Yes" : "是" }
            if name == "no" { return language == .en ? "No" : "否" }
        }
        return field.choices?.choices.first { $0.name == name }?.label.text(language) ?? name
    }
}
