import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore

/// What every command that works on stored surveys needs.
struct Workspace {
    let console: Console
    let catalog: FormCatalog
    let registry: UnitRegistry?
    let store: SurveyStore
    let options: GlobalOptions

    init(_ options: GlobalOptions, access: SurveyStore.Access = .readWrite) throws {
        self.options = options
        console = options.console()
        catalog = try options.catalog(console)
        registry = try options.registry(catalog, console)
        store = try options.openStore(console, access: access)
    }

    /// The form version a stored survey was filled with.
    func form(of survey: StoredSurvey) throws -> Form {
        try options.form("\(survey.formID)@\(survey.formVersion)", in: catalog, console)
    }

    func find(_ reference: String) throws -> StoredSurvey {
        try storeStep(console) { try store.find(reference) }
    }

    /// Runs the interactive session (from `position`, when given) and says how it ended.
    func fill(_ survey: StoredSurvey, form: Form, position: String? = nil, carried: Set<String> = []) throws {
        var session = FillSession(
            form: form, store: store, survey: survey, console: console, registry: registry, today: options.todayNumber, position: position,
            baseline: baseline(form: form, unit: survey.unitCode, period: survey.period))
        session.carriedEntries = carried
        _ = try storeStep(console) { try session.run() }
    }

    func confirm(_ question: LocalizedText) -> Bool { console.confirm(question) }
}

/// `vsurvey fill`: start a survey, interactively or from an answers file.
struct FillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill",
        abstract: "填写一份调查 / Fill in a survey",
        discussion: """
            交互填写:逐题提问,每答一题即保存;? 帮助,< 上一题,回车跳过选答题,:q 或 Ctrl-D 保存退出。
            用 --answers 从 JSON/YAML 文件读入答案(批量或先在纸上填写的情况);有错误时不保存,除非加 --draft。
            同一表单、单位、报告期只能有一份调查;要修改已有的,用 --edit-existing 或 vsurvey edit。
            Interactive entry asks question by question and saves each answer at once; ? for help, < to go back, Enter skips an optional question, :q or Ctrl-D saves and quits. With --answers the answers come from a JSON or YAML file; nothing is stored when it has errors unless --draft is given. A form, unit and period have one survey; change an existing one with --edit-existing or vsurvey edit.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "表单 ID / Form id (id or id@version)")
    var form: String

    @Option(help: ArgumentHelp("单位代码(12 位)/ Unit code (12 digits)", valueName: "code"))
    var unit: String?

    @Option(help: ArgumentHelp("报告期,如 2026、2026Q3、202607;默认为当前 / Period, e.g. 2026, 2026Q3, 202607; default: the current one", valueName: "period"))
    var period: String?

    @Option(help: ArgumentHelp("答案文件(JSON 或 YAML)/ Answers file (JSON or YAML)", valueName: "file"))
    var answers: String?

    @Flag(help: "与 --answers 同用:检查通过即定稿 / With --answers: finalize when the answers check out")
    var finalize = false

    @Flag(help: "与 --answers 同用:有错误也存为草稿 / With --answers: keep a draft even when there are errors")
    var draft = false

    @Flag(name: .customLong("edit-existing"), help: "已有同一单位和报告期的调查时修改它 / Edit the existing survey for this unit and period")
    var editExisting = false

    @Flag(help: "与 --answers 同用:从本单位上期的调查开始,再用文件中的答案覆盖 / With --answers: start from the unit's survey of last period, then apply the file over it")
    var prefill = false

    @Option(
        name: .customLong("confirm-warnings"),
        help: ArgumentHelp(
            "与 --answers 同用:确认所有警示,并附上这句说明 / With --answers: confirm every warning that fires, with this explanation", valueName: "explanation"))
    var confirmWarnings: String?

    func validate() throws {
        if answers == nil, finalize || draft || prefill || confirmWarnings != nil {
            throw ValidationError(
                "--finalize、--draft、--prefill 和 --confirm-warnings 需与 --answers 同用 / --finalize, --draft, --prefill and --confirm-warnings go with --answers")
        }
        if let confirmWarnings, confirmWarnings.utf8.count > WarningConfirmation.explanationLimit {
            throw ValidationError(
                "--confirm-warnings 的说明最长 \(WarningConfirmation.explanationLimit) 字节 / the explanation of --confirm-warnings is at most \(WarningConfirmation.explanationLimit) bytes")
        }
        if finalize && draft {
            throw ValidationError("--finalize 与 --draft 不能同用 / --finalize and --draft cannot be combined")
        }
        if let unit, UnitCode(unit) == nil {
            throw ValidationError("单位代码应为 12 位数字 / the unit code must be 12 digits, not '\(unit)'")
        }
        if let period, Period(period) == nil {
            throw ValidationError("“\(period)” 不是报告期(如 2026、2026Q3、202607)/ '\(period)' is not a period (e.g. 2026, 2026Q3, 202607)")
        }
    }

    func run() throws {
        let workspace = try Workspace(options)
        let console = workspace.console
        let form = try options.form(self.form, in: workspace.catalog, console)

        var fileAnswers: JSONObject?
        var workingAnswers: JSONObject?
        var unitText = unit
        var periodText = period
        if let answers {
            let submission = try console.readSubmission(answers)
            fileAnswers = submission.answers
            unitText = unitText ?? submission.unit
            periodText = periodText ?? submission.period
        }
        guard let unitText else {
            console.error(L("请用 --unit 指定单位代码", "name the unit with --unit"))
            throw ExitCode(64)
        }
        let periodValue = periodText ?? Period.containing(day: options.todayNumber, type: form.periodType).description
        if let asked = Period(periodValue), asked.days.lowerBound > options.todayNumber {
            console.error(
                L(
                    "报告期 \(periodValue) 尚未开始(今天是 \(CivilDate.format(days: options.todayNumber)));请检查 --period 或答案文件中的报告期",
                    "the period \(periodValue) has not begun (today is \(CivilDate.format(days: options.todayNumber))); check --period or the period in the answers file"
                ))
            throw ExitCode.failure
        }
        let envelope = try Submission(json: ["unit": .string(unitText), "period": .string(periodValue), "answers": [:]])
        let envelopeIssues = envelope.envelopeIssues(for: form, registry: workspace.registry)
        if !envelopeIssues.isEmpty {
            for issue in envelopeIssues { console.error(issue.message) }
            throw ExitCode.failure
        }

        if let existing = try storeStep(console, { try workspace.store.existing(formID: form.id, unit: unitText, period: periodValue) }) {
            guard
                editExisting
                    || (fileAnswers == nil
                        && workspace.confirm(
                            L(
                                "\(console.unitName(unitText, workspace.registry)) 在 \(periodValue) 已有调查 \(existing.shortID)(\(existing.status.label.zh)),修改它吗?",
                                "\(console.unitName(unitText, workspace.registry)) already has survey \(existing.shortID) (\(existing.status.label.en!)) for \(periodValue). Edit it?"
                            )))
            else {
                console.error(
                    L(
                        "\(unitText) 在 \(periodValue) 已有调查 \(existing.shortID);用 --edit-existing 或 vsurvey edit \(existing.shortID) 修改",
                        "\(unitText) already has survey \(existing.shortID) for \(periodValue); change it with --edit-existing or vsurvey edit \(existing.shortID)"
                    ))
                throw ExitCode.failure
            }
            let editForm = try workspace.form(of: existing)
            let baseline = workspace.baseline(form: editForm, unit: unitText, period: periodValue)
            if prefill, let fileAnswers { workingAnswers = Self.overlay(fileAnswers, on: editForm.prefilled(from: baseline?.answers ?? [:])) }
            // Check before anything is written: bad answers leave no revision behind.
            if editForm.version != form.version {
                console.out(
                    console.dim(
                        console.text(
                            L(
                                "已有调查用的是表单版本 \(editForm.version),按该版本修改",
                                "the existing survey uses form version \(editForm.version); it is changed in that version"))))
            }
            if let fileAnswers = workingAnswers ?? fileAnswers {
                // Checked before anything is written, then stored in one transaction.
                let result = check(fileAnswers, form: editForm, console: console, baseline: baseline)
                if !result.isValid, !draft { throw ExitCode.failure }
                let finalizeNow = finalize && result.isValid
                let confirmations = confirmations(for: result, keeping: existing.confirmationList)
                let saved = try storeStep(console) {
                    try workspace.store.edit(
                        existing, answers: result.isValid ? result.answers : fileAnswers, finalize: finalizeNow, confirmations: confirmations)
                }
                report(saved, result: result, finalized: finalizeNow, workspace: workspace)
            } else {
                // As vsurvey edit: a new revision only when an answer changes.
                try workspace.fill(existing, form: editForm)
            }
            return
        }

        var survey = StoredSurvey(formID: form.id, formVersion: form.version, unitCode: unitText, period: periodValue, answers: JSONObject())
        let baseline = workspace.baseline(form: form, unit: unitText, period: periodValue)
        if var fileAnswers {
            if prefill {
                if let baseline {
                    fileAnswers = Self.overlay(fileAnswers, on: form.prefilled(from: baseline.answers))
                } else {
                    console.out(
                        console.yellow(
                            console.text(
                                L(
                                    "本机没有 \(unitText) 上期(\(Period(periodValue)?.previous?.description ?? ""))的调查,只用文件中的答案(联网后 vsurvey sync 可取回)",
                                    "this device holds no survey of \(unitText) for last period (\(Period(periodValue)?.previous?.description ?? "")); only the file's answers are used (vsurvey sync fetches it when online)"
                                ))))
                }
            }
            let result = check(fileAnswers, form: form, console: console, baseline: baseline)
            if !result.isValid, !draft { throw ExitCode.failure }
            survey.setConfirmations(confirmations(for: result, keeping: []))
            try store(fileAnswers, result: result, into: &survey, workspace: workspace)
            return
        }
        // Interactive: a unit with last period's survey starts from it.
        var carried: Set<String> = []
        if let baseline {
            let start = form.prefilled(from: baseline.answers)
            if !start.isEmpty {
                survey.answers = JSONValue.object(start).serialized()
                for field in form.fields where field.repeatPosition != nil {
                    for entry in 0..<(start[field.name]?.arrayValue?.count ?? 0) { carried.insert("\(field.name)[\(entry + 1)]") }
                }
            }
        }
        survey = try storeStep(console) { try workspace.store.create(survey) }
        console.out(console.text(L("新建调查 \(survey.shortID)", "New survey \(survey.shortID)")))
        if let baseline, survey.answers != "{}" {
            console.out(
                console.dim(
                    console.text(
                        L(
                            "从本单位 \(baseline.period) 的调查开始:沿用的题目显示“上年:…”,回车即保留,输入新答案即修改;上年的“两委”成员逐条确认。",
                            "Starting from the unit's survey of \(baseline.period): questions that carry over show last year's answer; Enter keeps it, typing a new answer changes it; last year's committee members are confirmed one by one."
                        ))))
        }
        try workspace.fill(survey, form: form, carried: carried)
    }

    /// The file's answers laid over last period's: a key in the file
    /// replaces the baseline's (a repeat as a whole).
    static func overlay(_ answers: JSONObject, on start: JSONObject) -> JSONObject {
        var result = start
        for (key, value) in answers { result[key] = value }
        return result
    }

    /// The confirmations to keep with the survey: `--confirm-warnings`
    /// confirms every warning that fires; earlier confirmations of warnings
    /// that still fire are kept.
    func confirmations(for result: ValidationResult, keeping earlier: [WarningConfirmation]) -> [WarningConfirmation] {
        var list = result.applicable(earlier)
        if let confirmWarnings {
            let have = Set(list.map { $0.warning + "\u{0}" + $0.path })
            for warning in result.firedWarnings where !have.contains(warning.name + "\u{0}" + warning.path) {
                list.append(WarningConfirmation(warning: warning.name, path: warning.path, explanation: confirmWarnings))
            }
        }
        return list
    }

    /// Checks answers from a file; lists the errors when there are any and
    /// no --draft was given (the caller then stores nothing), and the
    /// warnings that fire (which never stop a survey).
    func check(_ answers: JSONObject, form: Form, console: Console, baseline: Baseline?) -> ValidationResult {
        let result = form.validate(answers, today: options.todayNumber, previous: baseline)
        if !result.firedWarnings.isEmpty {
            let confirmed = confirmWarnings != nil
            console.out(
                console.yellow("⚠ ")
                    + console.text(
                        confirmed
                            ? L("\(result.firedWarnings.count) 条警示,已按 --confirm-warnings 确认:", "\(result.firedWarnings.count) warning\(result.firedWarnings.count == 1 ? "" : "s"), confirmed with --confirm-warnings:")
                            : L(
                                "\(result.firedWarnings.count) 条警示(不影响保存;核实后可用 --confirm-warnings \"说明\" 确认):",
                                "\(result.firedWarnings.count) warning\(result.firedWarnings.count == 1 ? "" : "s") (the survey is still stored; once checked, confirm with --confirm-warnings \"explanation\"):"
                            )))
            for warning in result.firedWarnings {
                var shown = warning
                if let confirmWarnings {
                    shown.confirmed = true
                    shown.explanation = confirmWarnings
                }
                console.out("  " + console.describe(shown, in: form))
            }
        }
        if !result.isValid && !draft {
            console.out(
                console.red("✗ ")
                    + console.text(
                        L(
                            "\(self.answers ?? ""):\(result.issues.count) 个问题,未保存",
                            "\(self.answers ?? ""): \(result.issues.count) problem\(result.issues.count == 1 ? "" : "s"); nothing was stored")))
            for issue in result.issues { console.out("  " + console.describe(issue, in: form)) }
            console.out(console.dim(console.text(L("加 --draft 可先存为草稿", "add --draft to keep it as a draft anyway"))))
        }
        return result
    }

    /// Stores a new survey's checked answers in one transaction: finalized,
    /// or a draft (as typed, when they have errors).
    func store(_ answers: JSONObject, result: ValidationResult, into survey: inout StoredSurvey, workspace: Workspace) throws {
        let finalizeNow = finalize && result.isValid
        var record = survey
        record.answers = JSONValue.object(result.isValid ? result.answers : answers).serialized()
        record.status = finalizeNow ? .finalized : .draft
        record.finalizedAt = finalizeNow ? record.createdAt : nil
        let saved = try storeStep(workspace.console) { try workspace.store.create(record) }
        survey = saved
        report(saved, result: result, finalized: finalizeNow, workspace: workspace)
    }

    func report(_ saved: StoredSurvey, result: ValidationResult, finalized: Bool, workspace: Workspace) {
        let console = workspace.console
        var what = console.unitName(saved.unitCode, workspace.registry) + " " + saved.period
        if saved.revision > 1 { what += console.text(L(",修订 \(saved.revision)", ", revision \(saved.revision)")) }
        if finalized {
            console.out(console.green("✓ ") + console.text(L("已定稿 \(saved.shortID)(\(what))", "Finalized \(saved.shortID) (\(what))")))
        } else {
            let note =
                result.isValid
                ? L("", "") : L(",有 \(result.issues.count) 个问题待改", ", with \(result.issues.count) problem\(result.issues.count == 1 ? "" : "s") to fix")
            console.out(console.text(L("已存为草稿 \(saved.shortID)(\(what))\(note.zh)", "Saved as draft \(saved.shortID) (\(what))\(note.en ?? "")")))
        }
    }
}

/// `vsurvey resume ID`: continue a draft where it stopped.
struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "继续填写草稿 / Continue filling a draft")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "调查编号(vsurvey list 所示,至少 4 位)/ Survey id as vsurvey list shows it (4 characters or more)")
    var id: String

    func run() throws {
        let workspace = try Workspace(options)
        let survey = try workspace.find(id)
        guard survey.status == .draft else {
            workspace.console.error(
                L(
                    "调查 \(survey.shortID) 已\(survey.status.label.zh),要修改请用 vsurvey edit \(survey.shortID)",
                    "survey \(survey.shortID) is \(survey.status.label.en!); to change it use vsurvey edit \(survey.shortID)"))
            throw ExitCode.failure
        }
        try workspace.fill(survey, form: try workspace.form(of: survey))
    }
}

/// `vsurvey edit ID`: change a survey; after finalizing this makes a new revision.
struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit", abstract: "修改调查;已定稿或已上报的会生成新修订 / Change a survey; a finalized or sent one gets a new revision")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "调查编号 / Survey id")
    var id: String
    @Option(
        help: ArgumentHelp("直接跳到这道题(字段名,或题目中的文字)/ Go straight to this question (a field name, or words of its label)", valueName: "field"))
    var at: String?

    func run() throws {
        let workspace = try Workspace(options)
        let console = workspace.console
        let survey = try workspace.find(id)
        let form = try workspace.form(of: survey)
        var position: String?
        if let at {
            func isQuestion(_ field: Field) -> Bool { ![.note, .calculate, .group, .repeat].contains(field.type) }
            let labelled = form.fields.first { field in
                isQuestion(field) && (field.label?.zh.contains(at) == true || field.label?.en?.lowercased().contains(at.lowercased()) == true)
            }
            guard let field = form.field(named: at) ?? labelled, isQuestion(field) else {
                console.error(
                    L(
                        "表单 \(form.id) 中没有题目 “\(at)”;vsurvey form show \(form.id) 列出所有题目",
                        "form \(form.id) has no question '\(at)'; vsurvey form show \(form.id) lists them"))
                throw ExitCode.failure
            }
            // A question inside a repeat: its first entry.
            position = field.repeatIndex == nil ? field.name : nil
            if let repeatIndex = field.repeatIndex {
                position = "\(form.fields[form.repeats[repeatIndex]].name)[1].\(field.name)"
            }
        }
        if survey.status.editMakesRevision {
            console.out(
                console.dim(
                    console.text(
                        L(
                            "修改已定稿的调查:改动第一个答案时才会生成新修订(草稿);不改动就退出,调查保持原样。",
                            "Changing a finalized survey: a new revision (a draft) is made at the first changed answer; leave without changes and it stays as it was."
                        ))))
        }
        try workspace.fill(survey, form: form, position: position)
    }
}

/// `vsurvey finalize ID`: check a draft in full and finalize it.
struct FinalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "finalize", abstract: "检查并定稿草稿 / Check a draft and finalize it")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "调查编号 / Survey id")
    var id: String

    func run() throws {
        let workspace = try Workspace(options)
        let console = workspace.console
        let survey = try workspace.find(id)
        guard survey.status == .draft, let rowID = survey.id else {
            console.error(
                L(
                    "只有草稿可以定稿;调查 \(survey.shortID) 的状态是\(survey.status.label.zh)。要修改请用 vsurvey edit \(survey.shortID)",
                    "only drafts can be finalized; survey \(survey.shortID) is \(survey.status.label.en!). To change it use vsurvey edit \(survey.shortID)"))
            throw ExitCode.failure
        }
        let form = try workspace.form(of: survey)
        let result = form.validate(survey.answerObject, today: options.todayNumber)
        guard result.isValid else {
            console.out(
                console.red("✗ ")
                    + console.text(
                        L("\(result.issues.count) 个问题,不能定稿:", "\(result.issues.count) problem\(result.issues.count == 1 ? "" : "s"); it cannot be finalized:")))
            for issue in result.issues { console.out("  " + console.describe(issue, in: form)) }
            console.out(console.dim(console.text(L("用 vsurvey resume \(survey.shortID) 修改", "fix them with vsurvey resume \(survey.shortID)"))))
            throw ExitCode.failure
        }
        try storeStep(console) { try workspace.store.finalize(rowID, answers: result.answers, expectedChange: survey.changeCount) }
        console.out(console.green("✓ ") + console.text(L("已定稿 \(survey.shortID)", "Finalized \(survey.shortID)")))
    }
}

/// `vsurvey discard ID`: delete a draft after confirmation.
struct DiscardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "discard", abstract: "删除草稿(需确认)/ Delete a draft (asks first)")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "调查编号 / Survey id")
    var id: String
    @Flag(name: [.short, .long], help: "不再询问 / Do not ask")
    var yes = false

    func run() throws {
        // Needs neither the forms nor a sound registry: a draft can always be deleted.
        let console = options.console()
        let store = try options.openStore(console)
        let registry = options.registryIfAvailable()
        let survey = try storeStep(console) { try store.find(id) }
        guard survey.status == .draft else {
            console.error(
                L(
                    "只能删除草稿;调查 \(survey.shortID) 已\(survey.status.label.zh)",
                    "only drafts can be discarded; survey \(survey.shortID) is \(survey.status.label.en!)"))
            throw ExitCode.failure
        }
        let what = "\(survey.shortID) \(survey.formID) " + console.unitName(survey.unitCode, registry) + " \(survey.period)"
        guard yes || console.confirm(L("删除草稿 \(what)?此操作不能撤销。", "Delete the draft \(what)? This cannot be undone.")) else {
            console.out(L("未删除", "Nothing was deleted"))
            return
        }
        try storeStep(console) { try store.discard(survey) }
        console.out(L("已删除草稿 \(survey.shortID)", "Deleted draft \(survey.shortID)"))
    }
}

/// `vsurvey list`: the surveys on this device.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "列出本机的调查 / List the surveys on this device")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: FilterOptions
    @Flag(help: "只列乡镇或县里退回、待修改的调查 / Only surveys the township or the county returned for changes")
    var returned = false
    @Flag(help: "以 JSON 输出 / Print JSON")
    var json = false

    func run() throws {
        let options = self.options
        let console = options.console()
        let registry = options.registryIfAvailable()
        let store = try options.openStore(console, access: .readOnly)
        var surveys = try storeStep(console) { try store.list(selection.filter, answers: false) }
        let reviews = try storeStep(console) { try store.reviews(of: surveys.map(\.instanceID)) }
        /// The decision about the revision listed, if the server made one.
        func review(_ survey: StoredSurvey) -> SurveyReview? { reviews[survey.instanceID].flatMap { $0.concerns(survey) ? $0 : nil } }
        if returned { surveys = surveys.filter { review($0)?.status.state == .returned } }
        if json {
            let items: [JSONValue] = surveys.map { survey in
                [
                    "id": .string(survey.instanceID), "revision": .integer(survey.revision), "status": .string(survey.status.rawValue),
                    "form": .string(survey.formID), "version": .string(survey.formVersion), "unit": .string(survey.unitCode),
                    "unit_name": UnitCode(survey.unitCode).flatMap { registry?.unit($0)?.name }.map(JSONValue.string) ?? .null,
                    "period": .string(survey.period), "updated_at": .string(Self.timestamp(survey.updatedAt)),
                    "review": review(survey).map { review in
                        [
                            "state": .string(review.status.state.rawValue), "level": review.status.level.map { .string($0.rawValue) } ?? .null,
                            "comment": review.comment.map(JSONValue.string) ?? .null, "reviewer": .string(review.reviewer),
                            "reviewed_at": .string(review.reviewedAt),
                        ]
                    } ?? .null,
                ]
            }
            console.out(JSONValue.array(items).serialized(pretty: true))
            return
        }
        if surveys.isEmpty {
            console.out(L("没有调查", "No surveys"))
            return
        }
        let header =
            console.language == .zh
            ? ["编号", "表单", "单位", "名称", "报告期", "状态", "修订", "更新时间"]
            : ["id", "form", "unit", "name", "period", "status", "rev", "updated"]
        let rows = surveys.map { survey in
            [
                survey.shortID, survey.formID, survey.unitCode,
                UnitCode(survey.unitCode).flatMap { registry?.unit($0)?.name } ?? "", survey.period,
                (review(survey)?.status.label ?? survey.status.label).text(console.language), String(survey.revision),
                Self.timestamp(survey.updatedAt, short: true),
            ]
        }
        console.table(header, rows)
        console.out(console.dim(console.text(L("共 \(surveys.count) 份", "\(surveys.count) survey\(surveys.count == 1 ? "" : "s")"))))
        // Why the server refused or held a survey, under the table: the reasons are long.
        let explained = surveys.filter { [.rejected, .mismatch, .held].contains($0.status) && !($0.lastError ?? "").isEmpty }
        if !explained.isEmpty {
            console.out()
            console.out(console.bold(console.text(L("原因:", "Reasons:"))))
            for survey in explained {
                console.out(
                    "  \(survey.shortID) \(console.unitName(survey.unitCode, registry)) \(survey.period)(\(survey.status.label.text(console.language)))")
                for line in (survey.lastError ?? "").split(separator: "\n") { console.out("    " + line) }
            }
            console.out(console.dim(console.text(L("改正后用 vsurvey edit 编号 修改,再 vsurvey sync", "fix with vsurvey edit ID, then vsurvey sync"))))
        }
        // What the township or the county said when returning a survey.
        let returned = surveys.compactMap { survey in review(survey).flatMap { $0.status.state == .returned ? (survey, $0) : nil } }
        if !returned.isEmpty {
            console.out()
            console.out(console.bold(console.text(L("退回意见:", "Returned with comments:"))))
            for (survey, review) in returned {
                let when = Timestamp.parse(review.reviewedAt).map { Timestamp.forPeople($0) } ?? review.reviewedAt
                console.out(
                    "  \(survey.shortID) \(console.unitName(survey.unitCode, registry)) \(survey.period)(\(review.status.label.text(console.language)),\(review.reviewer),\(when))"
                )
                for line in (review.comment ?? "").split(separator: "\n") { console.out("    " + console.yellow(String(line))) }
            }
            console.out(console.dim(console.text(L("按意见用 vsurvey edit 编号 修改,再 vsurvey sync", "fix as asked with vsurvey edit ID, then vsurvey sync"))))
        }
    }

    /// A time in the deployment's zone (`Period.timeZone`): `2026-11-26
    /// 08:05` for people (`short`), or RFC 3339 with the offset for
    /// programs. Formatted by hand: a DateFormatter per row makes long
    /// lists slow.
    static func timestamp(_ date: Date, short: Bool = false) -> String {
        if short { return Timestamp.forPeople(date) }
        let offset = Period.timeZone.secondsFromGMT(for: date)
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + offset
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let secondOfDay = seconds - days * 86_400
        let clock = CivilDate.format(days: days) + (short ? " " : "T") + pad(secondOfDay / 3600) + ":" + pad(secondOfDay / 60 % 60)
        if short { return clock }
        let zone = offset == 0 ? "Z" : (offset > 0 ? "+" : "-") + pad(abs(offset) / 3600) + ":" + pad(abs(offset) / 60 % 60)
        return clock + ":" + pad(secondOfDay % 60) + zone
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
}

/// `vsurvey show ID`: one survey's answers as a person reads them.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "显示一份调查的答案 / Show a survey's answers")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "调查编号 / Survey id")
    var id: String
    @Flag(help: "以 JSON 输出(调查信息与答案)/ Print the survey and its answers as JSON")
    var json = false

    func run() throws {
        let workspace = try Workspace(options, access: .readOnly)
        let console = workspace.console
        let survey = try workspace.find(id)
        if json {
            console.out(SurveyExport.document(survey).serialized(pretty: true))
            return
        }
        let form = try workspace.form(of: survey)
        let settled = form.settle(
            survey.answerObject, today: options.todayNumber, previous: workspace.baseline(form: form, unit: survey.unitCode, period: survey.period))
        console.out(console.bold(form.title.text(console.language)) + "  " + console.unitName(survey.unitCode, workspace.registry) + "  " + survey.period)
        var status = console.text(
            L(
                "编号 \(survey.instanceID) · 修订 \(survey.revision) · \(survey.status.label.zh)",
                "id \(survey.instanceID) · revision \(survey.revision) · \(survey.status.label.en!)"))
        if let replaced = survey.replacesRevision { status += console.text(L("(替换修订 \(replaced))", " (replaces revision \(replaced))")) }
        console.out(console.dim(status))
        if let review = try storeStep(console, { try workspace.store.reviews(of: [survey.instanceID]) })[survey.instanceID] {
            let when = Timestamp.parse(review.reviewedAt).map { Timestamp.forPeople($0) } ?? review.reviewedAt
            if review.concerns(survey) {
                let line = console.text(
                    L("审核:\(review.status.label.zh)(\(review.reviewer),\(when))", "review: \(review.status.label.text(.en)) (\(review.reviewer), \(when))"))
                console.out(review.status.state == .returned ? console.yellow(line) : line)
            } else {
                console.out(
                    console.dim(
                        console.text(
                            L(
                                "修订 \(review.revision) 曾\(review.status.label.zh)(\(review.reviewer),\(when));这一修订尚待审核",
                                "revision \(review.revision) was \(review.status.label.text(.en)) (\(review.reviewer), \(when)); this revision waits for review"
                            ))))
            }
            if let comment = review.comment {
                console.out(console.text(L("意见:", "Comment:")))
                for line in comment.split(separator: "\n") { console.out("  " + (review.concerns(survey) ? console.yellow(String(line)) : String(line))) }
            }
        }
        if let reason = survey.lastError, survey.status != .sent || reason.hasPrefix("stale") {
            // What the server answered (rejected, mismatch, held) or why the
            // last try failed (still finalized), kept until the survey changes.
            let heading =
                survey.status == .finalized
                ? L("上次发送失败:", "the last attempt to send failed:") : L("服务器的答复:", "the server's answer:")
            console.out(console.yellow(console.text(heading)))
            for line in reason.split(separator: "\n") { console.out("  " + line) }
        }
        console.out()
        AnswerPresenter(form: form, console: console).show(settled)
        let warnings = workspace.warnings(of: survey, form: form)
        if !warnings.isEmpty {
            console.out()
            console.out(
                console.yellow(
                    console.text(
                        L(
                            "警示(与上期相比或超出常理,需核实;不影响上报):",
                            "Warnings (doubtful against last period or common sense; to check, they do not stop the survey):"))))
            for warning in warnings { console.out("  " + console.describe(warning, in: form)) }
        }
        if survey.status == .draft, !settled.result.issues.isEmpty {
            console.out()
            console.out(
                console.yellow(
                    console.text(
                        L(
                            "尚有 \(settled.result.issues.count) 个问题待改",
                            "\(settled.result.issues.count) problem\(settled.result.issues.count == 1 ? "" : "s") still to fix"))))
        }
    }
}
