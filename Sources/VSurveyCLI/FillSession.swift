import Foundation
import SurveyCore
import SurveyStore

/// Interactive entry of one survey in the terminal. Every accepted answer
/// is saved to the draft before the next question is asked, so stopping at
/// any moment loses at most the answer being typed.
struct FillSession {
    let form: Form
    let store: SurveyStore
    var survey: StoredSurvey
    let console: Console
    let registry: UnitRegistry?
    let today: Int
    var answers: JSONObject

    enum Outcome { case finalized, savedDraft }

    init(form: Form, store: SurveyStore, survey: StoredSurvey, console: Console, registry: UnitRegistry?, today: Int) {
        self.form = form
        self.store = store
        self.survey = survey
        self.console = console
        self.registry = registry
        self.today = today
        answers = survey.answerObject
    }

    private var zh: Bool { console.language == .zh }
    private func t(_ zh: String, _ en: String) -> String { console.text(L(zh, en)) }

    mutating func run() throws -> Outcome {
        let interrupt = Self.onInterrupt(
            t(
                "\n草稿已保存(最后一个未回车的答案除外)。继续填写:vsurvey resume \(survey.shortID)\n",
                "\nThe draft is saved (all but an answer not yet entered). Continue with: vsurvey resume \(survey.shortID)\n"))
        defer { interrupt.cancel() }
        console.out(console.bold(form.title.text(console.language)) + "  " + console.unitName(survey.unitCode, registry) + "  " + survey.period)
        console.out(
            console.dim(
                t(
                    "编号 \(survey.shortID)(修订 \(survey.revision))。每答一题即自动保存;输入 ? 查看帮助,< 返回上一题。",
                    "Survey \(survey.shortID) (revision \(survey.revision)). Each answer is saved at once; type ? for help, < to go back.")))
        var position = survey.position
        var lastSection: Int? = -1
        while true {
            let settled = form.settle(answers, today: today)
            let steps = Questionnaire.steps(settled)
            guard let index = locate(position, in: steps, settled: settled) else {
                switch try review(settled) {
                case .finalized: return .finalized
                case .savedDraft: return .savedDraft
                case .goTo(let path):
                    position = path
                    continue
                }
            }
            let step = steps[index]
            let field = form.fields[step.fieldIndex]
            let section = form.ancestors(of: step.fieldIndex).first { form.fields[$0].type == .group }
            if section != lastSection {
                lastSection = section
                if let section, let label = form.fields[section].label {
                    console.out()
                    console.out(console.bold("== " + label.text(console.language) + " =="))
                }
            }
            let next = index + 1 < steps.count ? steps[index + 1].path : "$end"
            switch step.kind {
            case .note:
                console.out(console.dim("※ " + (field.label?.text(console.language) ?? "")))
                position = next
            case .addEntry:
                guard let action = askAddEntry(field, count: step.entry ?? 0) else { return try stop() }
                switch action {
                case .back: position = previousQuestion(before: index, in: steps)
                case .add:
                    let entry = answers.addEntry(to: field)
                    position = "\(field.name)[\(entry + 1)]."
                    try save(position: position)
                case .done: position = next
                }
            case .question:
                let questionNumber = steps[...index].filter { $0.kind == .question }.count
                let questionTotal = steps.filter { $0.kind == .question }.count
                guard let action = try ask(step, field, settled: settled, number: questionNumber, total: questionTotal) else { return try stop() }
                switch action {
                case .back: position = previousQuestion(before: index, in: steps)
                case .next:
                    // The answer may have made later questions asked or not: step on
                    // from this question in the steps as they are now.
                    let now = Questionnaire.steps(form.settle(answers, today: today))
                    if let here = now.firstIndex(where: { $0.path == step.path }) {
                        position = here + 1 < now.count ? now[here + 1].path : "$end"
                    } else {
                        position = next
                    }
                    try save(position: position, accepted: (field, step.entry))
                }
            }
        }
    }

    /// On Ctrl-C, says that the draft is safe before the process ends: every
    /// accepted answer is already on disk, so there is nothing else to do.
    static func onInterrupt(_ message: String) -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            FileHandle.standardOutput.write(Data(message.utf8))
            exit(130)
        }
        source.resume()
        return source
    }

    /// The step to show: the saved position, a prefix such as
    /// `committee_members[3].` for a new entry, else the first unanswered question.
    private func locate(_ position: String?, in steps: [FillStep], settled: SettledSurvey) -> Int? {
        if position == "$end" { return nil }
        guard let position else { return steps.isEmpty ? nil : 0 }
        do {
            if let exact = steps.firstIndex(where: { $0.path == position }) { return exact }
            if position.hasSuffix("."), let first = steps.firstIndex(where: { $0.path.hasPrefix(position) }) { return first }
        }
        // The saved place is gone (its question is no longer asked): the first unanswered question.
        return steps.firstIndex { step in
            step.kind == .question && answers.answer(form.fields[step.fieldIndex], in: form, entry: step.entry) == nil
        }
    }

    private func previousQuestion(before index: Int, in steps: [FillStep]) -> String? {
        var candidate = index - 1
        while candidate >= 0 {
            if steps[candidate].kind != .note { return steps[candidate].path }
            candidate -= 1
        }
        console.out(console.dim(t("已经是第一题", "This is the first question")))
        return steps[index].path
    }

    /// Saves the draft. When another window changed it meanwhile, the
    /// answer just accepted is laid over the draft as it now is and saved
    /// again, so neither that window's answers nor this one are lost.
    private mutating func save(position: String?, accepted: (field: Field, entry: Int?)? = nil) throws {
        guard let id = survey.id else { preconditionFailure("a session always works on a stored draft") }
        do {
            survey.changeCount = try store.saveDraft(id, answers: answers, position: position, expectedChange: survey.changeCount)
        } catch let error as StoreError where error.kind == .conflict {
            guard let accepted, let latest = try? store.find(survey.instanceID), latest.id == id, latest.status == .draft else { throw error }
            var merged = latest.answerObject
            merged.setAnswer(answers.answer(accepted.field, in: form, entry: accepted.entry), for: accepted.field, in: form, entry: accepted.entry)
            survey.changeCount = try store.saveDraft(id, answers: merged, position: position, expectedChange: latest.changeCount)
            answers = merged
            console.out(
                console.yellow(
                    t("这份草稿刚在另一个窗口中被修改;已合并,本题答案已保存。", "This draft was just changed in another window; the changes are merged and this answer is saved.")))
        }
        survey.position = position
    }

    private func stop() throws -> Outcome {
        console.out()
        console.out(t("草稿已保存。继续填写:vsurvey resume \(survey.shortID)", "The draft is saved. Continue with: vsurvey resume \(survey.shortID)"))
        return .savedDraft
    }

    // MARK: Questions

    enum QuestionAction { case next, back }

    /// Asks one question until it gets an acceptable answer; nil at the end of input.
    private mutating func ask(_ step: FillStep, _ field: Field, settled: SettledSurvey, number: Int, total: Int) throws -> QuestionAction? {
        let presenter = AnswerPresenter(form: form, console: console)
        while true {
            console.out()
            var heading = console.dim(zh ? "第 \(number)/\(total) 题" : "Question \(number)/\(total)")
            if let entry = step.entry, let repeatIndex = field.repeatIndex {
                let repeatLabel = form.fields[form.repeats[repeatIndex]].label?.text(console.language) ?? ""
                heading += console.dim(zh ? "  \(repeatLabel) 第 \(entry + 1) 条" : "  \(repeatLabel), entry \(entry + 1)")
            }
            console.out(heading)
            var label = field.label?.text(console.language) ?? field.name
            if let measure = field.measure { label += zh ? "(\(measure.zh))" : " (\(measure.text(.en)))" }
            if isRequired(field, settled: settled, path: step.path) { label += console.red(" *") }
            console.out(console.bold(label))
            if let hint = field.hint { console.out(console.dim(hint.text(console.language))) }
            if let choices = field.choices, field.type != .yesNo {
                for (offset, choice) in choices.choices.enumerated() {
                    console.out("  \(offset + 1)) " + choice.label.text(console.language))
                }
            }
            let existing = answers.answer(field, in: form, entry: step.entry)
            var promptText = "> "
            if existing != nil {
                promptText = t(
                    "[当前:\(presenter.display(settled.value(of: field, entry: step.entry), of: field))] > ",
                    "[now: \(presenter.display(settled.value(of: field, entry: step.entry), of: field))] > ")
            } else if let suggested = field.defaultValue {
                // The form's default is offered; Enter takes it.
                promptText = t("[默认:\(presenter.display(suggested, of: field))] > ", "[default: \(presenter.display(suggested, of: field))] > ")
            } else if field.type == .yesNo {
                promptText = t("(1 是 / 2 否) > ", "(1 yes / 2 no) > ")
            }
            console.prompt(promptText)
            guard let line = console.readAnswer() else { return nil }
            var input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty, existing == nil, let suggested = field.defaultValue?.json {
                input = AnswerInput.text(of: suggested)
            }
            switch input {
            case "<":
                return .back
            case "?", "？":
                help(field)
                continue
            case ":q":
                return nil
            case "":
                if existing != nil { return .next }
                if isRequired(field, settled: settled, path: step.path) {
                    console.out(console.red(t("此题必须回答", "This question must be answered")))
                    continue
                }
                return .next
            case "-":
                answers.setAnswer(nil, for: field, in: form, entry: step.entry)
                if isRequired(field, settled: settled, path: step.path) {
                    console.out(console.yellow(t("已清空;此题必答,请重新回答", "Cleared; this question is required, answer it again")))
                    continue
                }
                return .next
            default:
                break
            }
            let previous = existing
            answers.setAnswer(AnswerInput.parse(input, for: field, today: today), for: field, in: form, entry: step.entry)
            let checked = form.settle(answers, today: today)
            if let problem = checked.issues(at: step.path).first(where: { $0.code != .required }) {
                console.out(console.red("✗ " + problem.message.text(console.language)))
                answers.setAnswer(previous, for: field, in: form, entry: step.entry)
                continue
            }
            // Keep the answer as the engine read it: 40, not "40".
            answers.setAnswer(checked.value(of: field, entry: step.entry).json, for: field, in: form, entry: step.entry)
            return .next
        }
    }

    private func isRequired(_ field: Field, settled: SettledSurvey, path: String) -> Bool {
        switch field.requirement {
        case .optional: return false
        case .required: return true
        // The engine reports a conditional requirement only while it holds and the answer is missing.
        case .when: return settled.issues(at: path).contains { $0.code == .required }
        }
    }

    private func help(_ field: Field) {
        console.out(
            console.dim(t("输入答案后回车。选择题可输入序号(多选用空格分开)。", "Type the answer and press Enter. For choices type their numbers (several separated by spaces).")))
        console.out(
            console.dim(
                t(
                    "回车:保留当前答案或跳过选答题;-:清空;<:上一题;:q 或 Ctrl-D:保存并退出。",
                    "Enter: keep the current answer or skip an optional question; -: clear; <: previous question; :q or Ctrl-D: save and quit.")))
        if let constraint = field.constraint {
            console.out(console.dim(t("规则:", "Rule: ") + (field.constraintMessage?.text(console.language) ?? constraint.source)))
        }
        func shown(_ limit: Limit) -> String {
            if case .today = limit { return t("今天", "today") }
            return limit.description
        }
        switch (field.minimum, field.maximum) {
        case (let low?, let high?): console.out(console.dim(t("取值范围:\(shown(low)) 至 \(shown(high))", "Allowed: \(shown(low)) to \(shown(high))")))
        case (let low?, nil): console.out(console.dim(t("不小于 \(shown(low))", "At least \(shown(low))")))
        case (nil, let high?): console.out(console.dim(t("不大于 \(shown(high))", "At most \(shown(high))")))
        case (nil, nil): break
        }
        if field.type == .date { console.out(console.dim(t("日期格式 YYYY-MM-DD,或输入“今天”", "Dates are written YYYY-MM-DD, or type 'today'"))) }
    }

    enum EntryAction { case add, done, back }

    private func askAddEntry(_ field: Field, count: Int) -> EntryAction? {
        let label = field.label?.text(console.language) ?? field.name
        console.out()
        if count < field.minCount {
            console.out(
                t("“\(label)”至少需要 \(field.minCount) 条,现有 \(count) 条,添加一条。", "'\(label)' needs at least \(field.minCount) entries and has \(count); adding one.")
            )
            return .add
        }
        while true {
            console.prompt(t("添加一条“\(label)”?(已有 \(count) 条)[y/N] > ", "Add an entry to '\(label)'? (\(count) so far) [y/N] > "))
            guard let line = console.readAnswer() else { return nil }
            switch line.trimmingCharacters(in: .whitespaces).lowercased() {
            case "y", "yes", "是", "1": return .add
            case "", "n", "no", "否", "2": return .done
            case "<": return .back
            case ":q": return nil
            default: console.out(console.red(t("请回答 y 或 n", "Answer y or n")))
            }
        }
    }

    // MARK: Review and finalizing

    enum ReviewAction {
        case finalized, savedDraft
        case goTo(String)
    }

    private mutating func review(_ settled: SettledSurvey) throws -> ReviewAction {
        console.out()
        console.out(console.bold(t("== 核对答案 ==", "== Review ==")))
        AnswerPresenter(form: form, console: console).show(settled)
        let issues = settled.result.issues
        console.out()
        if !issues.isEmpty {
            console.out(
                console.red(t("还有 \(issues.count) 个问题,不能定稿:", "\(issues.count) problem\(issues.count == 1 ? "" : "s") left; the survey cannot be finalized:")))
            for issue in issues { console.out("  " + console.describe(issue, in: form)) }
            // Problems no question can fix (an unknown field or too many entries
            // from an answers file) cannot be reached by going back.
            let reachable = Questionnaire.steps(settled).contains { $0.path == issues[0].path && $0.kind == .question }
            guard reachable else {
                console.out(
                    console.yellow(
                        t(
                            "这个问题不能在逐题填写中修改:请改正答案文件后用 vsurvey fill --answers --edit-existing 重新导入,或用 vsurvey discard 删除草稿。",
                            "This problem cannot be fixed question by question: correct the answers file and load it again with vsurvey fill --answers --edit-existing, or delete the draft with vsurvey discard."
                        )))
                try save(position: "$end")
                return .savedDraft
            }
            console.prompt(t("回到第一个问题修改?[Y/n] > ", "Go to the first problem to fix it? [Y/n] > "))
            guard let line = console.readAnswer(), !["n", "no", "否"].contains(line.trimmingCharacters(in: .whitespaces).lowercased()) else {
                _ = try stop()
                return .savedDraft
            }
            return .goTo(issues[0].path)
        }
        console.prompt(t("全部通过检查。现在定稿吗?定稿后等待上报。[y/N] > ", "Everything checks out. Finalize now? It then waits to be sent. [y/N] > "))
        guard let line = console.readAnswer() else { return .savedDraft }
        switch line.trimmingCharacters(in: .whitespaces).lowercased() {
        case "y", "yes", "是":
            guard let id = survey.id else { return .savedDraft }
            try store.finalize(id, answers: settled.result.answers, expectedChange: survey.changeCount)
            console.out(console.green(t("✓ 已定稿:\(survey.shortID)", "✓ Finalized: \(survey.shortID)")))
            return .finalized
        case "<":
            let steps = Questionnaire.steps(settled)
            return .goTo(steps.last(where: { $0.kind == .question })?.path ?? "")
        default:
            try save(position: "$end")
            _ = try stop()
            return .savedDraft
        }
    }
}

/// Turns what a person types into an answer: choice numbers into choice
/// names, 是/否 and y/n into yes/no, full-width digits into digits.
enum AnswerInput {
    static func parse(_ input: String, for field: Field, today: Int) -> JSONValue {
        let text = normalize(input)
        switch field.type {
        case .selectOne:
            return .string(choice(text, field.choices))
        case .selectMultiple:
            let parts = text.split { $0 == " " || $0 == "," || $0 == "、" || $0 == "," }.map(String.init)
            return .array(parts.map { .string(choice($0, field.choices)) })
        case .yesNo:
            switch text.lowercased() {
            case "1", "y", "yes", "是", "有": return "yes"
            case "2", "n", "no", "否", "无", "没有": return "no"
            default: return .string(text)
            }
        case .date:
            if ["today", "今天"].contains(text.lowercased()) { return .string(CivilDate.format(days: today)) }
            return .string(text)
        case .integer, .decimal:
            return .string(text.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "_", with: ""))
        default:
            return .string(input.trimmingCharacters(in: .whitespaces))
        }
    }

    /// A stored answer as a person would type it (for taking a default).
    static func text(of value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .integer(let number): return String(number)
        case .number(let number): return Value.format(number)
        case .bool(let flag): return flag ? "yes" : "no"
        case .array(let items): return items.map(text(of:)).joined(separator: " ")
        case .null, .object: return ""
        }
    }

    /// Full-width digits, letters and punctuation as their ASCII forms.
    static func normalize(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if (0xFF01...0xFF5E).contains(scalar.value), let ascii = Unicode.Scalar(scalar.value - 0xFEE0) {
                scalars.append(ascii)
            } else if scalar.value == 0x3000 {
                scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars).trimmingCharacters(in: .whitespaces)
    }

    /// A choice by its number, name or label.
    static func choice(_ text: String, _ list: ChoiceList?) -> String {
        guard let list else { return text }
        if let number = Int(text), number >= 1, number <= list.choices.count { return list.choices[number - 1].name }
        if list.contains(text) { return text }
        if let match = list.choices.first(where: { $0.label.zh == text || $0.label.en?.lowercased() == text.lowercased() }) {
            return match.name
        }
        return text
    }
}
