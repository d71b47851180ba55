import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore

/// `vsurvey baseline`: last period's surveys the device holds, which new
/// surveys start from (prefill) and are checked against (`previous()`).
struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "上期调查(新调查的起点)/ Last period's surveys that new ones start from",
        discussion: """
            vsurvey sync 会取回令牌范围内各单位上一期的调查(只取有变化的),离线时照样可用:新填一份调查时,沿用上期答案的题目以“上年:…”给出,回车即保留;previous() 和警示也以此比较。
            vsurvey sync fetches last period's survey of each unit in the token's scope (only what changed), and they work offline: a new survey shows last year's answer as 上年/last year with each question that carries over, Enter keeps it, and previous() and the warnings compare with it.
            """,
        subcommands: [List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "列出本机保存的上期调查 / List the baselines this device holds")

        @OptionGroup var options: GlobalOptions
        @Option(help: ArgumentHelp("只列这个表单 / Only this form", valueName: "id"))
        var form: String?
        @Option(help: ArgumentHelp("只列这一期,如 2025 / Only this period, such as 2025", valueName: "period"))
        var period: String?
        @Flag(help: "以 JSON 输出 / Print JSON")
        var json = false

        func run() throws {
            let workspace = try Workspace(options, access: .readOnly)
            let console = workspace.console
            let baselines = try storeStep(console) { try workspace.store.baselines(formID: form, period: period) }
            if json {
                let items: [JSONValue] = baselines.map { baseline in
                    [
                        "form": .string(baseline.formID), "period": .string(baseline.period), "unit": .string(baseline.unitCode),
                        "version": .string(baseline.formVersion), "instance_id": .string(baseline.instanceID), "revision": .integer(baseline.revision),
                        "hash": .string(baseline.contentHash), "fetched_at": .string(Timestamp.iso(baseline.fetchedAt)),
                    ]
                }
                console.out(JSONValue.object(JSONObject([("baselines", .array(items))])).serialized(pretty: true))
                return
            }
            guard !baselines.isEmpty else {
                console.out(
                    console.text(
                        L(
                            "本机还没有上期调查;联网后运行 vsurvey sync 取回令牌范围内各单位上一期的调查",
                            "this device holds no surveys of last period yet; run vsurvey sync while online to fetch those of the token's units")))
                return
            }
            let header = [
                console.text(L("表单", "Form")), console.text(L("报告期", "Period")), console.text(L("单位", "Unit")),
                console.text(L("版本", "Version")), console.text(L("修订", "Revision")), console.text(L("取回时间", "Fetched")),
            ]
            let rows = baselines.map { baseline in
                [
                    baseline.formID, baseline.period, console.unitName(baseline.unitCode, workspace.registry), baseline.formVersion,
                    String(baseline.revision), Timestamp.forPeople(baseline.fetchedAt),
                ]
            }
            console.table(header, rows)
            console.out(console.dim(console.text(L("共 \(baselines.count) 份", "\(baselines.count) in all"))))
        }
    }
}

extension Workspace {
    /// The same unit's survey of the period before `period`, as the device
    /// holds it, settled with `form` for `previous()` and the warnings;
    /// nil when there is none (or the database predates baselines).
    func baseline(form: Form, unit: String, period: String) -> Baseline? {
        guard let previous = Period(period)?.previous?.description,
            let stored = try? store.baseline(formID: form.id, period: previous, unit: unit)
        else { return nil }
        return form.baseline(stored.answerObject, period: previous, today: options.todayNumber)
    }

    /// The warnings of a survey's answers as they stand, with its confirmations.
    func warnings(of survey: StoredSurvey, form: Form) -> [FiredWarning] {
        let baseline = baseline(form: form, unit: survey.unitCode, period: survey.period)
        return form.validate(survey.answerObject, today: options.todayNumber, previous: baseline).warningsConfirmed(by: survey.confirmationList)
    }
}
