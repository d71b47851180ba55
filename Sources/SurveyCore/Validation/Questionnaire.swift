/// One step of filling a form in order: a question (at the top level or in
/// one repeat entry), a note to read, or the choice to add a repeat entry.
public struct FillStep: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case question
        case note
        /// Whether to add another entry to the repeat `fieldIndex`.
        case addEntry
    }

    public let kind: Kind
    /// The question or note, or the repeat for `addEntry`.
    public let fieldIndex: Int
    /// The repeat entry of a question inside a repeat (from 0); for
    /// `addEntry`, the number of entries so far.
    public let entry: Int?
    /// The answer's path (`members_total`, `committee_members[2].birth_year`),
    /// or `committee_members[+]` for adding an entry.
    public let path: String
}

/// Works out which steps a person goes through, given the answers so far:
/// questions that are not asked are skipped, computed values are not asked,
/// repeats offer another entry until their maximum.
public enum Questionnaire {
    public static func steps(_ settled: SettledSurvey) -> [FillStep] {
        var steps: [FillStep] = []
        let form = settled.form
        func visit(_ index: Int, entry: Int?, repeatName: String?) {
            let field = form.fields[index]
            guard field.type == .repeat || settled.isRelevant(field, entry: entry) else { return }
            let path = repeatName.map { "\($0)[\((entry ?? 0) + 1)].\(field.name)" } ?? field.name
            switch field.type {
            case .group:
                for child in field.children { visit(child, entry: entry, repeatName: repeatName) }
            case .repeat:
                guard settled.isRelevant(field) else { return }
                let count = settled.entryCount(of: field)
                for entry in 0..<count {
                    for child in field.children { visit(child, entry: entry, repeatName: field.name) }
                }
                let most = settled.requiredEntries(of: field) ?? field.maxCount
                if most.map({ count < $0 }) ?? true {
                    steps.append(FillStep(kind: .addEntry, fieldIndex: index, entry: count, path: "\(field.name)[+]"))
                }
            case .note:
                steps.append(FillStep(kind: .note, fieldIndex: index, entry: entry, path: path))
            default:
                if field.takesAnswer { steps.append(FillStep(kind: .question, fieldIndex: index, entry: entry, path: path)) }
            }
        }
        for index in form.rootFields { visit(index, entry: nil, repeatName: nil) }
        return steps
    }
}

extension JSONObject {
    /// The answer at a step's place: a top-level answer, or one in a repeat entry.
    public func answer(_ field: Field, in form: Form, entry: Int?) -> JSONValue? {
        guard let repeatIndex = field.repeatIndex, let entry else { return self[field.name] }
        let repeatName = form.fields[form.repeats[repeatIndex]].name
        guard let entries = self[repeatName]?.arrayValue, entry < entries.count else { return nil }
        return entries[entry][field.name]
    }

    /// Sets (or with nil, removes) the answer at a step's place.
    public mutating func setAnswer(_ value: JSONValue?, for field: Field, in form: Form, entry: Int?) {
        guard let repeatIndex = field.repeatIndex, let entry else {
            self[field.name] = value
            return
        }
        let repeatName = form.fields[form.repeats[repeatIndex]].name
        var entries = self[repeatName]?.arrayValue ?? []
        while entries.count <= entry { entries.append(.object(JSONObject())) }
        var object = entries[entry].objectValue ?? JSONObject()
        object[field.name] = value
        entries[entry] = .object(object)
        self[repeatName] = .array(entries)
    }

    /// Adds an empty entry to a repeat and returns its index.
    @discardableResult
    public mutating func addEntry(to repeatField: Field) -> Int {
        var entries = self[repeatField.name]?.arrayValue ?? []
        entries.append(.object(JSONObject()))
        self[repeatField.name] = .array(entries)
        return entries.count - 1
    }

    /// Removes one entry of a repeat.
    public mutating func removeEntry(_ entry: Int, from repeatField: Field) {
        guard var entries = self[repeatField.name]?.arrayValue, entry < entries.count else { return }
        entries.remove(at: entry)
        self[repeatField.name] = entries.isEmpty ? nil : .array(entries)
    }
}
