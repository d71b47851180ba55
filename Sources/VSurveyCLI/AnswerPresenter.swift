import SurveyCore

/// Shows a survey's answers as a person reads them: by section, with
/// choice labels instead of codes and units of measure.
struct AnswerPresenter {
    let form: Form
    let console: Console

    private var zh: Bool { console.language == .zh }

    /// An answer as text, e.g. `42 人`, `党支部`, `是`.
    func display(_ value: Value, of field: Field) -> String {
        ReadableSurvey.display(value, of: field).text(console.language)
    }

    /// Every question that is asked, with its answer, section by section;
    /// with `numbers` (an answer's path to its question number), each
    /// question carries the number `:12` jumps to.
    func show(_ settled: SettledSurvey, numbers: [String: Int] = [:]) {
        for index in form.rootFields { show(index, settled, entry: nil, depth: 0, numbers: numbers) }
    }

    private func show(_ index: Int, _ settled: SettledSurvey, entry: Int?, depth: Int, numbers: [String: Int]) {
        let field = form.fields[index]
        let indent = String(repeating: "  ", count: depth)
        let label = field.label?.text(console.language) ?? field.name
        switch field.type {
        case .note:
            return
        case .group:
            guard settled.isRelevant(field, entry: entry) else { return }
            console.out(indent + console.bold(label))
            for child in field.children { show(child, settled, entry: entry, depth: depth + 1, numbers: numbers) }
        case .repeat:
            guard settled.isRelevant(field) else { return }
            let count = settled.entryCount(of: field)
            console.out(indent + console.bold(label) + console.dim(zh ? "(\(count) 条)" : " (\(count) entries)"))
            for entry in 0..<count {
                console.out(indent + "  " + console.cyan(zh ? "第 \(entry + 1) 条" : "Entry \(entry + 1)"))
                for child in field.children { show(child, settled, entry: entry, depth: depth + 2, numbers: numbers) }
            }
        default:
            guard settled.isRelevant(field, entry: entry) else { return }
            let value = settled.value(of: field, entry: entry)
            let mark = field.isComputed ? "= " : ""
            let path = ReadableSurvey.path(of: field, in: form, entry: entry)
            let number = numbers[path].map { console.dim("\($0). ") } ?? ""
            console.out(indent + number + mark + label + (zh ? ":" : ": ") + display(value, of: field))
        }
    }
}
