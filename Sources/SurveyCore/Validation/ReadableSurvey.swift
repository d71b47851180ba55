/// A survey's answers as a person reads them: sections and repeat entries
/// as headings, each question that is asked with its label and its answer
/// (choice labels instead of codes, units of measure), in form order. The
/// device's `show`, the server's survey page and its API use the same lines.
public struct ReadableLine: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A group's heading.
        case section
        /// A repeat's heading (its label and how many entries it has).
        case repeatHeading = "repeat"
        /// One entry of a repeat.
        case entry
        /// A question and its answer.
        case answer
    }

    public var kind: Kind
    /// Nesting depth: 0 at the top of the form.
    public var depth: Int
    /// The answer's path (`members[2].name`), or the group's or repeat's name.
    public var path: String
    public var label: LocalizedText
    /// The answer as text (`42 人`, `党支部`, `(未答)`); for a repeat
    /// heading, its number of entries; nil for sections and entries.
    public var value: LocalizedText?
    /// Whether the form computes the value (a calculation).
    public var computed: Bool
}

/// One answer that differs between two revisions of a survey.
public struct AnswerChange: Sendable, Equatable {
    public var path: String
    public var label: LocalizedText
    /// The answer before (nil: the question was not asked).
    public var before: LocalizedText?
    /// The answer after (nil: the question is no longer asked).
    public var after: LocalizedText?
}

public enum ReadableSurvey {
    /// An answer as text in both languages, e.g. `42 人`, `党支部`, `是`.
    public static func display(_ value: Value, of field: Field) -> LocalizedText {
        if value.isEmpty { return L("(未答)", "(no answer)") }
        func text(_ language: Language) -> String {
            var text: String
            switch value {
            case .string(let name) where field.choices != nil:
                text = field.choices?.label(of: name)?.text(language) ?? name
            case .choices(let names):
                text = names.map { field.choices?.label(of: $0)?.text(language) ?? $0 }.joined(separator: language == .zh ? "、" : ", ")
            case .number(let number):
                text = Value.format(number)
            case .string("yes") where field.type == .yesNo || field.type == .calculate:
                text = language == .zh ? "是" : "yes"
            case .string("no") where field.type == .yesNo || field.type == .calculate:
                text = language == .zh ? "否" : "no"
            default:
                text = value.string
            }
            if let measure = field.measure { text += (language == .zh ? "" : " ") + measure.text(language) }
            return text
        }
        return L(text(.zh), text(.en))
    }

    /// The answer path of a field in a repeat's entry, as validation names it.
    public static func path(of field: Field, in form: Form, entry: Int?) -> String {
        field.repeatIndex.map { "\(form.fields[form.repeats[$0]].name)[\((entry ?? 0) + 1)].\(field.name)" } ?? field.name
    }

    /// Every question that is asked, with its answer, section by section.
    public static func lines(_ settled: SettledSurvey) -> [ReadableLine] {
        var lines: [ReadableLine] = []
        for index in settled.form.rootFields { append(index, settled, entry: nil, depth: 0, to: &lines) }
        return lines
    }

    private static func append(_ index: Int, _ settled: SettledSurvey, entry: Int?, depth: Int, to lines: inout [ReadableLine]) {
        let form = settled.form
        let field = form.fields[index]
        let label = field.label ?? L(field.name, field.name)
        switch field.type {
        case .note:
            return
        case .group:
            guard settled.isRelevant(field, entry: entry) else { return }
            lines.append(ReadableLine(kind: .section, depth: depth, path: field.name, label: label, value: nil, computed: false))
            for child in field.children { append(child, settled, entry: entry, depth: depth + 1, to: &lines) }
        case .repeat:
            guard settled.isRelevant(field) else { return }
            let count = settled.entryCount(of: field)
            lines.append(
                ReadableLine(kind: .repeatHeading, depth: depth, path: field.name, label: label, value: L("\(count) 条", "\(count) entries"), computed: false))
            for entry in 0..<count {
                lines.append(
                    ReadableLine(
                        kind: .entry, depth: depth + 1, path: "\(field.name)[\(entry + 1)]", label: L("第 \(entry + 1) 条", "Entry \(entry + 1)"),
                        value: nil, computed: false))
                for child in field.children { append(child, settled, entry: entry, depth: depth + 2, to: &lines) }
            }
        default:
            guard settled.isRelevant(field, entry: entry) else { return }
            lines.append(
                ReadableLine(
                    kind: .answer, depth: depth, path: path(of: field, in: form, entry: entry), label: label,
                    value: display(settled.value(of: field, entry: entry), of: field), computed: field.isComputed))
        }
    }

    /// What changed from `before` to `after` (two revisions, possibly of
    /// different form versions), in the order of `after`'s form, then the
    /// answers `after` no longer has. With no `before`, nothing changed.
    public static func changes(from before: [ReadableLine]?, to after: [ReadableLine]) -> [AnswerChange] {
        guard let before else { return [] }
        var earlier: [String: ReadableLine] = [:]
        for line in before where line.kind == .answer { earlier[line.path] = line }
        var changes: [AnswerChange] = []
        var seen = Set<String>()
        for line in after where line.kind == .answer {
            seen.insert(line.path)
            let old = earlier[line.path]
            if old?.value != line.value {
                changes.append(AnswerChange(path: line.path, label: line.label, before: old?.value, after: line.value))
            }
        }
        for line in before where line.kind == .answer && !seen.contains(line.path) {
            changes.append(AnswerChange(path: line.path, label: line.label, before: line.value, after: nil))
        }
        return changes
    }
}
