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
    /// Editing a finalized or sent survey: its new revision (a draft) is
    /// made only when an answer changes, so looking through a survey and
    /// leaving changes nothing.
    var editing: StoredSurvey?
    /// The revision this edit made, when it made one.
    var editDraft = false
    /// Where `:12` and the counter count from: the question numbers as
    /// last shown.
    private var lastSteps: [FillStep] = []
    /// What Ctrl-C says: whether a draft exists changes during the session.
    private let interruptText = InterruptText()
    /// Came to a question from the review (or `edit --at`): once it is
    /// answered, back to the review, unless the answer made another
    /// required question asked.
    private var returnToReview = false
    /// The same unit's survey of last period, if the device holds one:
    /// `previous()` and the warnings read it, and questions that carry
    /// over show its answer.
    let baseline: Baseline?
    /// Repeat entries carried over from last period and not yet looked at
    /// (`committee_members[2]`, counting from 1): each is kept, changed or
    /// removed when the session reaches it.
    var carriedEntries: Set<String> = []
    /// The person's confirmations of doubtful answers, saved with the draft.
    private var confirmations: [WarningConfirmation]
    private var confirmationsChanged = false

    enum Outcome { case finalized, savedDraft, unchanged, reverted }

    /// `survey` is a draft, or (for `vsurvey edit`) a finalized or sent
    /// survey whose new revision is made at the first change.
    init(
        form: Form, store: SurveyStore, survey: StoredSurvey, console: Console, registry: UnitRegistry?, today: Int, position: String? = nil,
        baseline: Baseline? = nil
    ) {
        self.baseline = baseline
        confirmations = survey.confirmationList
        self.form = form
        self.store = store
        self.survey = survey
        self.console = console
        self.registry = registry
        self.today = today
        answers = survey.answerObject
        if survey.status.editMakesRevision { editing = survey }
        if let position {
            self.survey.position = position
            returnToReview = true
        }
    }

    /// Whether this session is a look at a finalized survey that nothing has changed yet.
    private var untouchedEdit: Bool { editing != nil && !editDraft }

    private var zh: Bool { console.language == .zh }
    private func t(_ zh: String, _ en: String) -> String { console.text(L(zh, en)) }

    mutating func run() throws -> Outcome {
        interruptText.set(
            untouchedEdit
                ? t("\n没有修改;调查 \(survey.shortID) 保持原样。\n", "\nNothing changed; survey \(survey.shortID) stays as it was.\n")
                : t(
                    "\n草稿已保存(最后一个未回车的答案除外)。继续填写:vsurvey resume \(survey.shortID)\n",
                    "\nThe draft is saved (all but an answer not yet entered). Continue with: vsurvey resume \(survey.shortID)\n"))
        let interrupt = Self.onInterrupt(interruptText)
        defer { interrupt.cancel() }
        console.out(console.bold(form.title.text(console.language)) + "  " + console.unitName(survey.unitCode, registry) + "  " + survey.period)
        console.out(
            console.dim(
                t(
                    "编号 \(survey.shortID)(修订 \(survey.revision))。每答一题即自动保存;输入 ? 查看帮助,< 返回上一题,:题号 跳到某题。",
                    "Survey \(survey.shortID) (revision \(survey.revision)). Each answer is saved at once; type ? for help, < to go back, :number to jump.")))
        var position = survey.position
        var lastSection: Int? = -1
        while true {
            let settled = form.settle(answers, today: today, previous: baseline)
            let steps = Questionnaire.steps(settled)
            lastSteps = steps
            guard let index = locate(position, in: steps, settled: settled) else {
                switch try review(settled) {
                case .done(let outcome): return outcome
                case .goTo(let path):
                    position = path
                    returnToReview = true
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
                guard let action = askAddEntry(field, count: step.entry ?? 0, required: settled.requiredEntries(of: field)) else { return try stop() }
                switch action {
                case .back: position = previousQuestion(before: index, in: steps)
                case .jump(let path): position = path
                case .add:
                    let entry = answers.addEntry(to: field)
                    position = "\(field.name)[\(entry + 1)]."
                    try save(position: position)
                case .done: position = next
                }
            case .question:
                if let entry = step.entry, let repeatIndex = field.repeatIndex {
                    let repeatField = form.fields[form.repeats[repeatIndex]]
                    let key = "\(repeatField.name)[\(entry + 1)]"
                    if carriedEntries.contains(key), steps.firstIndex(where: { $0.path.hasPrefix(key + ".") }) == index {
                        guard let choice = askCarriedEntry(repeatField, entry: entry, settled: settled) else { return try stop() }
                        carriedEntries.remove(key)
                        switch choice {
                        case .keep:
                            position = steps[index...].first { !$0.path.hasPrefix(key + ".") }?.path ?? "$end"
                            try save(position: position)
                            continue
                        case .change:
                            break
                        case .remove:
                            answers.removeEntry(entry, from: repeatField)
                            carriedEntries = Set(
                                carriedEntries.compactMap { other -> String? in
                                    guard let open = other.lastIndex(of: "["), other.hasPrefix(repeatField.name + "["),
                                        let number = Int(other[other.index(after: open)...].dropLast())
                                    else { return other }
                                    return number > entry + 1 ? "\(repeatField.name)[\(number - 1)]" : other
                                })
                            position = key + "."
                            try save(position: position)
                            console.out(console.dim(t("已删除这一条", "Entry removed")))
                            continue
                        }
                    }
                }
                let questionNumber = steps[...index].filter { $0.kind == .question }.count
                let questionTotal = steps.filter { $0.kind == .question }.count
                guard let action = try ask(step, field, settled: settled, number: questionNumber, total: questionTotal) else { return try stop() }
                switch action {
                case .back: position = previousQuestion(before: index, in: steps)
                case .jump(let path): position = path
                case .next:
                    // The answer may have made later questions asked or not: step on
                    // from this question in the steps as they are now.
                    let settledNow = form.settle(answers, today: today, previous: baseline)
                    let now = Questionnaire.steps(settledNow)
                    if returnToReview {
                        let missing = Set(settledNow.result.issues.filter { $0.code == .required }.map(\.path))
                        position = now.first { $0.kind == .question && missing.contains($0.path) }?.path ?? "$end"
                    } else if let here = now.firstIndex(where: { $0.path == step.path }) {
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
    static func onInterrupt(_ message: InterruptText) -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            FileHandle.standardOutput.write(Data(message.get().utf8))
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
        if let original = editing, !editDraft {
            // Nothing is written while the answers are the finalized survey's own.
            guard answers != original.answerObject else {
                survey.position = position
                return
            }
            survey = try store.edit(original, answers: answers)
            editDraft = true
            interruptText.set(
                t(
                    "\n修改已保存在草稿(修订 \(survey.revision))里,最后一个未回车的答案除外;再次定稿前不会上报。继续:vsurvey resume \(survey.shortID)\n",
                    "\nThe changes are in the draft (revision \(survey.revision)), all but an answer not yet entered; it is not sent until finalized again. Continue with: vsurvey resume \(survey.shortID)\n"
                ))
            console.out(
                console.yellow(
                    t(
                        "已建立修订 \(survey.revision)(草稿):再次定稿前,这份调查不会上报。",
                        "Revision \(survey.revision) made (a draft): the survey is not sent until it is finalized again.")))
        }
        guard let id = survey.id else { preconditionFailure("a session always works on a stored draft") }
        defer {
            if confirmationsChanged, (try? store.setConfirmations(id, confirmations)) != nil {
                confirmationsChanged = false
                survey.setConfirmations(confirmations)
            }
        }
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

    /// Stops before the end (`:q`, end of input). An edit that changed
    /// nothing leaves the survey as it was; one that changed something asks
    /// whether to keep the changes, and says the survey now waits to be
    /// finalized again.
    private mutating func stop() throws -> Outcome {
        console.out()
        if untouchedEdit {
            console.out(
                t(
                    "没有修改;调查 \(survey.shortID) 保持原样(\(survey.status.label.zh))。",
                    "Nothing changed; survey \(survey.shortID) stays as it was (\(survey.status.label.text(.en)))."))
            return .unchanged
        }
        if let original = editing, editDraft {
            let keep = console.confirm(
                L(
                    "这份调查已修改,现为草稿(修订 \(survey.revision)),再次定稿前不会上报。保留这些修改吗?",
                    "The survey was changed and is now a draft (revision \(survey.revision)); it is not sent until finalized again. Keep the changes?"),
                default: true)
            if !keep {
                try store.discard(survey)
                console.out(
                    t(
                        "已撤销修改;调查 \(original.shortID) 回到修订 \(original.revision)(\(original.status.label.zh))。",
                        "Changes undone; survey \(original.shortID) is back at revision \(original.revision) (\(original.status.label.text(.en)))."))
                return .reverted
            }
            console.out(
                console.yellow(
                    t(
                        "修改已保存为草稿;它不再是已定稿状态。定稿:vsurvey finalize \(survey.shortID),继续修改:vsurvey resume \(survey.shortID)",
                        "The changes are kept as a draft; the survey is no longer finalized. Finalize: vsurvey finalize \(survey.shortID); go on: vsurvey resume \(survey.shortID)"
                    )))
            return .savedDraft
        }
        console.out(t("草稿已保存。继续填写:vsurvey resume \(survey.shortID)", "The draft is saved. Continue with: vsurvey resume \(survey.shortID)"))
        return .savedDraft
    }

    /// The path a jump names: question `number` as counted on screen, or
    /// the first question whose label or name contains the text; nil (and
    /// a message) when there is none.
    private func jumpTarget(_ target: EntryKey.JumpTarget) -> String? {
        let questions = lastSteps.filter { $0.kind == .question }
        switch target {
        case .number(let number):
            guard number <= questions.count else {
                console.out(console.red(t("没有第 \(number) 题(共 \(questions.count) 题)", "There is no question \(number) (there are \(questions.count))")))
                return nil
            }
            return questions[number - 1].path
        case .text(let text):
            let wanted = text.lowercased()
            let found = questions.first { step in
                let field = form.fields[step.fieldIndex]
                return field.name.lowercased().contains(wanted) || field.label?.zh.contains(text) == true
                    || field.label?.en?.lowercased().contains(wanted) == true
            }
            guard let found else {
                console.out(console.red(t("没有题目含“\(text)”", "No question contains '\(text)'")))
                return nil
            }
            return found.path
        }
    }

    // MARK: Questions

    enum QuestionAction {
        case next, back
        case jump(String)
    }

    /// Asks one question until it gets an acceptable answer; nil at the end of input.
    private mutating func ask(_ step: FillStep, _ field: Field, settled: SettledSurvey, number: Int, total: Int) throws -> QuestionAction? {
        let presenter = AnswerPresenter(form: form, console: console)
        while true {
            console.out()
            // The total grows as repeats and conditional questions come in: "about".
            var heading = console.dim(zh ? "第 \(number) 题,共约 \(total) 题" : "Question \(number) of about \(total)")
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
            // A cascading select offers only the choices its filter lets through.
            let offered = settled.offeredChoices(for: field, entry: step.entry, today: today)
            if let choices = offered, field.type != .yesNo {
                if choices.choices.isEmpty {
                    console.out(console.dim(t("(按前面的答案没有可选项)", "(no choice fits the earlier answers)")))
                }
                for (offset, choice) in choices.choices.enumerated() {
                    console.out("  \(offset + 1)) " + choice.label.text(console.language))
                }
            }
            let existing = answers.answer(field, in: form, entry: step.entry)
            var promptText = "> "
            if existing != nil, isLastPeriods(field, entry: step.entry) {
                // Carried over and not changed: Enter keeps last year's answer.
                let shown = presenter.display(settled.value(of: field, entry: step.entry), of: field)
                promptText = t("[上年:\(shown)] > ", "[last year: \(shown)] > ")
            } else if existing != nil {
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
            // Not in an edit: Enter there leaves an empty answer empty, so looking changes nothing.
            if input.isEmpty, existing == nil, editing == nil, let suggested = field.defaultValue?.json {
                input = AnswerInput.text(of: suggested)
            }
            switch EntryKey.read(input) {
            case .back?:
                return .back
            case .help?:
                help(field)
                continue
            case .quit?:
                return nil
            case .jump(let target)?:
                if let path = jumpTarget(target) { return .jump(path) }
                continue
            case .clear?:
                answers.setAnswer(nil, for: field, in: form, entry: step.entry)
                if isRequired(field, settled: settled, path: step.path) {
                    console.out(console.yellow(t("已清空;此题必答,请重新回答", "Cleared; this question is required, answer it again")))
                    continue
                }
                return .next
            case nil:
                break
            }
            switch input {
            case "":
                if existing != nil {
                    // Keeping an answer may still leave a warning to confirm.
                    let checked = form.settle(answers, today: today, previous: baseline)
                    if checked.issues(at: step.path).isEmpty, confirmWarnings(at: step.path, field: field, checked, entry: step.entry) == .correct {
                        answers.setAnswer(nil, for: field, in: form, entry: step.entry)
                        continue
                    }
                    return .next
                }
                if isRequired(field, settled: settled, path: step.path) {
                    console.out(console.red(t("此题必须回答", "This question must be answered")))
                    continue
                }
                return .next
            default:
                break
            }
            let previous = existing
            answers.setAnswer(AnswerInput.parse(input, for: field, choices: offered, today: today), for: field, in: form, entry: step.entry)
            let checked = form.settle(answers, today: today, previous: baseline)
            if let problem = checked.issues(at: step.path).first(where: { $0.code != .required }) {
                console.out(console.red("✗ " + problem.message.text(console.language)))
                if problem.code == .constraint, let context = constraintContext(field, checked, entry: step.entry) {
                    console.out(console.dim(context))
                }
                answers.setAnswer(previous, for: field, in: form, entry: step.entry)
                continue
            }
            // Keep the answer as the engine read it: 40, not "40".
            answers.setAnswer(checked.value(of: field, entry: step.entry).json, for: field, in: form, entry: step.entry)
            switch confirmWarnings(at: step.path, field: field, checked, entry: step.entry) {
            case .confirmed?, nil: return .next
            case .correct?:
                answers.setAnswer(previous, for: field, in: form, entry: step.entry)
                continue
            }
        }
    }

    /// Whether the answer at a question is last period's, carried over and
    /// not changed (so the prompt says 上年).
    private func isLastPeriods(_ field: Field, entry: Int?) -> Bool {
        guard let baseline, field.prefill, let now = answers.answer(field, in: form, entry: entry) else { return false }
        guard let repeatIndex = field.repeatIndex else { return baseline.answers[field.name] == now }
        let repeatField = form.fields[form.repeats[repeatIndex]]
        guard let entry, repeatField.prefill, let entries = baseline.answers[repeatField.name]?.arrayValue else { return false }
        // Entries shift when one is removed: find last year's by content.
        let first = form.fields[repeatField.children[0]]
        let mine = answers.answer(first, in: form, entry: entry)
        return entries.contains { $0[field.name] == now && $0[first.name] == mine }
    }

    enum WarningAnswer { case confirmed, correct }

    /// Shows the warnings an accepted answer fires that are not confirmed
    /// yet, with last period's value, and asks to confirm (Enter, or a short
    /// explanation, then Enter) or to correct the answer (`<`). nil when
    /// nothing fires.
    private mutating func confirmWarnings(at path: String, field: Field, _ checked: SettledSurvey, entry: Int?) -> WarningAnswer? {
        let confirmed = Set(confirmations.map { $0.warning + "\u{0}" + $0.path })
        let firing = checked.result.firedWarnings.filter { $0.path == path }
        // Confirmations of warnings that no longer fire here are dropped.
        let before = confirmations.count
        confirmations.removeAll { confirmation in confirmation.path == path && !firing.contains { $0.name == confirmation.warning } }
        if confirmations.count != before { confirmationsChanged = true }
        let open = firing.filter { !confirmed.contains($0.name + "\u{0}" + $0.path) }
        guard !open.isEmpty else { return nil }
        let presenter = AnswerPresenter(form: form, console: console)
        for warning in open {
            console.out(console.yellow("⚠ " + warning.message.text(console.language)))
        }
        if let baseline, field.repeatIndex == nil {
            let last = baseline.value(of: field)
            let now = presenter.display(checked.value(of: field, entry: entry), of: field)
            let lastText = last.isEmpty ? t("未填", "no answer") : presenter.display(last, of: field)
            console.out(console.dim(t("  (本题 \(now);上年 \(lastText))", "  (this answer \(now); last year \(lastText))")))
        }
        while true {
            console.prompt(t("确认无误请回车(可先写一句说明);< 改答案 > ", "Enter confirms it (a short explanation first, if you like); < to correct it > "))
            guard let line = console.readAnswer() else { return .confirmed }
            let text = line.trimmingCharacters(in: .whitespaces)
            if EntryKey.read(text) == .back { return .correct }
            guard text.utf8.count <= WarningConfirmation.explanationLimit else {
                console.out(console.red(t("说明太长(最多约 160 个汉字)", "The explanation is too long (500 bytes at most)")))
                continue
            }
            for warning in open {
                confirmations.append(WarningConfirmation(warning: warning.name, path: warning.path, explanation: text))
            }
            confirmationsChanged = true
            return .confirmed
        }
    }

    enum CarriedEntryChoice { case keep, change, remove }

    /// Shows an entry carried over from last period and asks whether to
    /// keep it as it is (Enter), change it field by field, or remove it.
    private func askCarriedEntry(_ repeatField: Field, entry: Int, settled: SettledSurvey) -> CarriedEntryChoice? {
        let presenter = AnswerPresenter(form: form, console: console)
        let label = repeatField.label?.text(console.language) ?? repeatField.name
        let parts = repeatField.children.map { form.fields[$0] }.filter(\.takesAnswer).compactMap { field -> String? in
            let value = settled.value(of: field, entry: entry)
            return value.isEmpty ? nil : presenter.display(value, of: field)
        }
        console.out()
        console.out(console.bold(t("\(label) 第 \(entry + 1) 条(上年):", "\(label), entry \(entry + 1) (last year):")) + " " + parts.joined(separator: " · "))
        while true {
            console.prompt(t("回车保留;2 逐项修改;3 删除这一条 > ", "Enter keeps it; 2 to change it field by field; 3 to remove it > "))
            guard let line = console.readAnswer() else { return nil }
            switch AnswerInput.normalize(line) {
            case "", "1": return .keep
            case "2": return .change
            case "3": return .remove
            default:
                if EntryKey.read(line) == .quit { return nil }
                console.out(console.red(t("请回车(保留)、输入 2(修改)或 3(删除)", "Press Enter (keep), or type 2 (change) or 3 (remove)")))
            }
        }
    }

    /// The answers a broken rule reads, with their values, so that the
    /// person sees what to change: `本题 11;35岁及以下党员 5,…,党员总数 46`.
    private func constraintContext(_ field: Field, _ settled: SettledSurvey, entry: Int?) -> String? {
        guard let constraint = field.constraint else { return nil }
        let presenter = AnswerPresenter(form: form, console: console)
        var seen = Set<String>()
        let others = constraint.references.filter { $0 != field.name && seen.insert($0).inserted }.compactMap { name -> String? in
            guard let other = form.field(named: name), other.type != .group, other.type != .repeat else { return nil }
            let value = settled.value(of: other, entry: other.repeatIndex == field.repeatIndex ? entry : nil)
            let label = other.label?.text(console.language) ?? other.name
            return "\(label) \(value.isEmpty ? t("未答", "no answer") : presenter.display(value, of: other))"
        }
        guard !others.isEmpty else { return nil }
        let own = t("本题 ", "this answer ") + presenter.display(settled.value(of: field, entry: entry), of: field)
        return "  (" + ([own] + others).joined(separator: t(";", "; ")) + ")"
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
                    "回车:保留当前答案或跳过选答题;-:清空;<:上一题;:12 跳到第 12 题,:跳 党员 跳到含“党员”的题;:q 或 Ctrl-D:保存并退出。全角符号(<、《、:)同样可用。",
                    "Enter: keep the current answer or skip an optional question; -: clear; <: previous question; :12 goes to question 12, :go members to the first question about members; :q or Ctrl-D: save and quit. Full-width keys work too."
                )))
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

    enum EntryAction {
        case add, done, back
        case jump(String)
    }

    /// `required`: the entries a `repeat_count` asks for; they are added
    /// without asking, and no more are offered.
    private func askAddEntry(_ field: Field, count: Int, required: Int? = nil) -> EntryAction? {
        let label = field.label?.text(console.language) ?? field.name
        console.out()
        if let required {
            guard count < required else { return .done }
            console.out(t("“\(label)”按 repeat_count 应有 \(required) 条,现有 \(count) 条,添加一条。", "'\(label)' takes \(required) entries (its repeat_count) and has \(count); adding one."))
            return .add
        }
        if count < field.minCount {
            console.out(
                t("“\(label)”至少需要 \(field.minCount) 条,现有 \(count) 条,添加一条。", "'\(label)' needs at least \(field.minCount) entries and has \(count); adding one.")
            )
            return .add
        }
        while true {
            console.prompt(
                t(
                    "\(label):已有 \(count) 条。再添加一条吗?(1 是 / 2 否)> ",
                    "\(label): \(count) so far. Add another? (1 yes / 2 no) > "))
            guard let line = console.readAnswer() else { return nil }
            switch EntryKey.read(line) {
            case .back?: return .back
            case .quit?: return nil
            case .jump(let target)?:
                if let path = jumpTarget(target) { return .jump(path) }
                continue
            case .help?, .clear?, nil: break
            }
            // No default: an Enter out of habit neither adds an entry nor ends the list.
            switch YesNo.read(line) {
            case true?: return .add
            case false?: return .done
            case nil: console.out(console.red(t("请输入 1(再添加一条)或 2(不再添加)", "Type 1 (add another) or 2 (no more)")))
            }
        }
    }

    // MARK: Review and finalizing

    enum ReviewAction {
        case done(Outcome)
        case goTo(String)
    }

    private mutating func review(_ settled: SettledSurvey) throws -> ReviewAction {
        console.out()
        console.out(console.bold(t("== 核对答案(:题号 跳到该题修改)==", "== Review (:number goes to that question) ==")))
        var numbers: [String: Int] = [:]
        for (offset, step) in Questionnaire.steps(settled).filter({ $0.kind == .question }).enumerated() { numbers[step.path] = offset + 1 }
        AnswerPresenter(form: form, console: console).show(settled, numbers: numbers)
        let issues = settled.result.issues
        let warnings = settled.result.warningsConfirmed(by: confirmations)
        if !warnings.isEmpty {
            console.out()
            let open = warnings.filter { !$0.confirmed }.count
            console.out(
                console.yellow(
                    t(
                        "警示 \(warnings.count) 条\(open > 0 ? ",\(open) 条未确认(不影响定稿;:题号 回到该题确认或修改)" : ",均已确认"):",
                        "\(warnings.count) warning\(warnings.count == 1 ? "" : "s")\(open > 0 ? ", \(open) not confirmed (finalizing is still possible; :number goes back to confirm or correct)" : ", all confirmed"):"
                    )))
            for warning in warnings {
                let number = numbers[warning.path].map { ":\($0) " } ?? ""
                console.out("  " + number + console.describe(warning, in: form))
            }
        }
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
                        editing != nil
                            ? t(
                                "这个问题不能在逐题填写中修改:请改正答案文件后用 vsurvey fill --answers --edit-existing 重新导入。",
                                "This problem cannot be fixed question by question: correct the answers file and load it again with vsurvey fill --answers --edit-existing."
                            )
                            : t(
                                "这个问题不能在逐题填写中修改:请改正答案文件后用 vsurvey fill --answers --edit-existing 重新导入,或用 vsurvey discard 删除草稿。",
                                "This problem cannot be fixed question by question: correct the answers file and load it again with vsurvey fill --answers --edit-existing, or delete the draft with vsurvey discard."
                            )))
                try save(position: "$end")
                return .done(try stop())
            }
            guard console.confirm(L("回到第一个问题修改?", "Go to the first problem to fix it?"), default: true) else {
                return .done(try stop())
            }
            return .goTo(issues[0].path)
        }
        if untouchedEdit {
            console.out(
                t(
                    "没有修改。回车保持原样退出;< 返回上一题;:题号 跳到某题修改。",
                    "Nothing changed. Press Enter to leave it as it was; < for the last question; :number to change one."))
        }
        while true {
            console.prompt(
                untouchedEdit
                    ? "> "
                    : t(
                        "全部通过检查。现在定稿吗?定稿后等待上报。(1 是 / 2 否;< 返回;:题号 跳转)> ",
                        "Everything checks out. Finalize now? It then waits to be sent. (1 yes / 2 no; < back; :number to jump) > "))
            guard let line = console.readAnswer() else { return .done(try stop()) }
            switch EntryKey.read(line) {
            case .back?:
                let steps = Questionnaire.steps(settled)
                return .goTo(steps.last(where: { $0.kind == .question })?.path ?? "")
            case .jump(let target)?:
                if let path = jumpTarget(target) { return .goTo(path) }
                continue
            case .quit?:
                return .done(try stop())
            case .help?, .clear?, nil:
                break
            }
            if untouchedEdit { return .done(try stop()) }
            let empty = line.trimmingCharacters(in: .whitespaces).isEmpty
            switch empty ? false : YesNo.read(line) {
            case true?:
                guard let id = survey.id else { return .done(.savedDraft) }
                try store.finalize(id, answers: settled.result.answers, expectedChange: survey.changeCount)
                console.out(console.green(t("✓ 已定稿:\(survey.shortID)", "✓ Finalized: \(survey.shortID)")))
                return .done(.finalized)
            case false?:
                try save(position: "$end")
                console.out()
                console.out(
                    console.yellow(
                        t(
                            "未定稿:调查 \(survey.shortID) 仍是草稿,不会上报。定稿:vsurvey finalize \(survey.shortID)",
                            "Not finalized: survey \(survey.shortID) is still a draft and will not be sent. To finalize: vsurvey finalize \(survey.shortID)")))
                return .done(.savedDraft)
            case nil:
                console.out(console.red(t("请输入 1(定稿)或 2(暂不定稿)", "Type 1 (finalize) or 2 (not now)")))
            }
        }
    }
}

/// Turns what a person types into an answer: choice numbers into choice
/// names, 是/否 and y/n into yes/no, full-width digits into digits.
enum AnswerInput {
    /// `choices` are those offered (a cascading select's filtered list), which
    /// numbers count in; the field's whole list without it.
    static func parse(_ input: String, for field: Field, choices: ChoiceList? = nil, today: Int) -> JSONValue {
        let text = normalize(input)
        let list = choices ?? field.choices
        switch field.type {
        case .selectOne:
            return .string(choice(text, list))
        case .selectMultiple:
            let parts = text.split { $0 == " " || $0 == "," || $0 == "、" || $0 == "," }.map(String.init)
            return .array(parts.map { .string(choice($0, list)) })
        case .yesNo:
            switch text.lowercased() {
            case "1", "y", "yes", "是", "有": return "yes"
            case "2", "n", "no", "否", "无", "没有": return "no"
            default: return .string(text)
            }
        case .date:
            if ["today", "今天"].contains(text.lowercased()) { return .string(CivilDate.format(days: today)) }
            return .string(date(text) ?? text)
        case .integer, .decimal:
            return .string(number(text, measure: field.measure))
        default:
            return .string(input.trimmingCharacters(in: .whitespaces))
        }
    }

    /// `2026年12月1日`, `2026.12.1`, `2026/12/1` or `2026-12-1` as
    /// `2026-12-01`; nil for anything else (the engine then says what a
    /// date looks like).
    static func date(_ text: String) -> String? {
        let parts = text.replacing(/[年月\.\/]/, with: "-").replacing(/日$|号$/, with: "").split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), parts[0].count == 4,
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        return String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// Counters people add to a count of a field that names no measure
    /// (`1971年`, `3个`).
    static let counters = ["人", "名", "个", "位", "次", "户", "岁", "年", "件", "项", "期", "天"]

    /// A number as typed, made plain: thousands separators dropped, the
    /// field's own measure taken off (`46人`, `42,000元`; a counter when
    /// the field names none), and `万` / `千` multiplied out (`3.6万` is
    /// 36000, `3.6万元` too where the field is in 元; not where the measure
    /// is itself 万元). Any other unit stays, so the engine refuses the
    /// answer rather than store it in the wrong unit.
    static func number(_ text: String, measure: LocalizedText?) -> String {
        var plain = text.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "_", with: "").replacingOccurrences(of: " ", with: "")
        let own = [measure?.zh, measure?.en].compactMap { $0 }.filter { !$0.isEmpty }
        let units = (own.isEmpty ? counters : own).sorted { $0.count > $1.count }
        if let unit = units.first(where: { plain.hasSuffix($0) && plain.count > $0.count }) {
            plain.removeLast(unit.count)
        }
        // The measure is itself a multiple (万元): the number is in it already.
        if own.contains(where: { $0.hasPrefix("万") || $0.hasPrefix("千") }) { return plain }
        for (suffix, factor) in [("万", 10_000.0), ("千", 1_000.0)] where plain.hasSuffix(suffix) {
            let digits = String(plain.dropLast(suffix.count))
            guard let value = Double(digits), value.isFinite else { return text }
            let scaled = value * factor
            return scaled == scaled.rounded() && abs(scaled) < 1e15 ? String(Int64(scaled)) : Value.format(scaled)
        }
        return plain
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

/// The message Ctrl-C prints, set by the session as it changes and read on
/// the signal's queue.
final class InterruptText: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""

    func set(_ value: String) { lock.withLock { text = value } }
    func get() -> String { lock.withLock { text } }
}
