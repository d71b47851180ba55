import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore

/// Surveys as documents for export and `show --json`.
enum SurveyExport {
    /// One survey with its envelope, as the server will receive it.
    static func document(_ survey: StoredSurvey) -> JSONValue {
        var object = JSONObject()
        object["instance_id"] = .string(survey.instanceID)
        object["revision"] = .integer(survey.revision)
        if let replaced = survey.replacesRevision { object["replaces"] = .integer(replaced) }
        object["form"] = .string(survey.formID)
        object["version"] = .string(survey.formVersion)
        object["unit"] = .string(survey.unitCode)
        object["period"] = .string(survey.period)
        object["status"] = .string(survey.status.rawValue)
        object["updated_at"] = .string(ListCommand.timestamp(survey.updatedAt))
        object["answers"] = .object(survey.answerObject)
        return .object(object)
    }

    static func csvLine(_ fields: [String]) -> String { CSV.line(fields) }

    /// An answer in a CSV cell: choices joined by spaces, as XLSForm exports
    /// them. Text that a spreadsheet would run as a formula (`=`, `+`, `-`,
    /// `@` first) is prefixed with an apostrophe.
    static func cell(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let text)?:
            return CSV.text(text)
        case .integer(let number)?: return String(number)
        case .number(let number)?: return Value.format(number)
        case .bool(let flag)?: return flag ? "true" : "false"
        case .array(let items)?: return items.map { cell($0) }.joined(separator: " ")
        case .object?: return value!.serialized()
        }
    }
}

/// `vsurvey export`: the surveys as CSV (for Excel), JSON or JSON Lines.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "导出调查 / Export surveys as CSV, JSON or JSON Lines",
        discussion: """
            CSV:每份调查一行,UTF-8 带 BOM(Excel 可直接打开中文);重复组写入另一个文件 <输出>-<重复组>.csv,以 instance_id 关联。CSV 一次导出一个表单。
            CSV has one row per survey, in UTF-8 with a byte order mark so that Excel shows Chinese text; each repeat goes to a second file <output>-<repeat>.csv joined by instance_id. CSV exports one form at a time.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case csv, json, jsonl
    }

    @OptionGroup var options: GlobalOptions
    @Option(help: "格式 csv、json 或 jsonl / Format: csv, json or jsonl")
    var format: Format = .csv
    @Option(name: [.short, .long], help: ArgumentHelp("输出文件;json/jsonl 默认输出到屏幕 / Output file; json and jsonl default to standard output", valueName: "file"))
    var output: String?
    @OptionGroup var selection: FilterOptions

    func run() throws {
        let console = options.console()
        let store = try options.openStore(console, access: .readOnly)
        let surveys = try storeStep(console) { try store.list(selection.filter) }.sorted {
            ($0.formID, $0.unitCode, $0.period) < ($1.formID, $1.unitCode, $1.period)
        }
        switch format {
        case .json:
            try write(JSONValue.array(surveys.map(SurveyExport.document)).serialized(pretty: true) + "\n", console: console)
        case .jsonl:
            try write(surveys.map { SurveyExport.document($0).serialized() + "\n" }.joined(), console: console)
        case .csv:
            try exportCSV(surveys, catalog: try options.catalog(console), console: console)
        }
        // JSON to the screen is the output itself; otherwise say where it went.
        if output != nil || format == .csv {
            let place = output ?? "vsurvey-\(selection.form ?? surveys.first?.formID ?? "").csv"
            console.out(console.text(L("已导出 \(surveys.count) 份调查到 \(place)", "Exported \(surveys.count) survey\(surveys.count == 1 ? "" : "s") to \(place)")))
        }
    }

    private func write(_ text: String, to path: String? = nil, console: Console) throws {
        guard let path = path ?? output else {
            print(text, terminator: "")
            return
        }
        do {
            try OwnerOnlyFile.write(text, to: path)
        } catch {
            console.error(L("无法写入 \(path)", "cannot write \(path)"))
            throw ExitCode.failure
        }
    }

    private func exportCSV(_ surveys: [StoredSurvey], catalog: FormCatalog, console: Console) throws {
        let formIDs = Set(surveys.map(\.formID))
        if formIDs.count > 1, selection.form == nil {
            console.error(
                L(
                    "CSV 一次只能导出一个表单,请用 --form 指定(现有:\(formIDs.sorted().joined(separator: "、")))",
                    "CSV exports one form at a time; choose it with --form (present: \(formIDs.sorted().joined(separator: ", ")))"))
            throw ExitCode(64)
        }
        guard let formID = selection.form ?? formIDs.first else {
            console.error(L("没有符合条件的调查", "no surveys match"))
            throw ExitCode.failure
        }
        // Columns: every field of every version present, newest version's order first,
        // so that surveys filled with an older version lose nothing.
        let versions = Set(surveys.map(\.formVersion)).sorted(by: FormCatalog.compareVersions).reversed()
        var forms = versions.compactMap { catalog.form(formID, version: $0) }
        if forms.isEmpty { forms = [try options.form(formID, in: catalog, console)] }
        var topNames: [String] = []
        var repeatColumns: [(name: String, fields: [String])] = []
        for form in forms {
            for field in form.fields where field.repeatIndex == nil && field.type.holdsValue && !topNames.contains(field.name) {
                topNames.append(field.name)
            }
            for repeatIndex in form.repeats {
                let repeatField = form.fields[repeatIndex]
                let inner = form.fields.filter { $0.repeatIndex == repeatField.repeatPosition && $0.type.holdsValue }.map(\.name)
                if let existing = repeatColumns.firstIndex(where: { $0.name == repeatField.name }) {
                    repeatColumns[existing].fields += inner.filter { !repeatColumns[existing].fields.contains($0) }
                } else {
                    repeatColumns.append((repeatField.name, inner))
                }
            }
        }
        let mainPath = output ?? "vsurvey-\(formID).csv"
        let stem = mainPath.hasSuffix(".csv") ? String(mainPath.dropLast(4)) : mainPath
        let registry = catalog.registry
        var main =
            "\u{FEFF}" + SurveyExport.csvLine(["instance_id", "revision", "status", "form", "version", "unit", "unit_name", "period", "updated_at"] + topNames)
        for survey in surveys {
            let answers = survey.answerObject
            let unitName = UnitCode(survey.unitCode).flatMap { registry?.unit($0)?.name } ?? ""
            main += SurveyExport.csvLine(
                [
                    survey.instanceID, String(survey.revision), survey.status.rawValue, survey.formID, survey.formVersion, survey.unitCode, unitName,
                    survey.period, ListCommand.timestamp(survey.updatedAt),
                ] + topNames.map { SurveyExport.cell(answers[$0]) })
        }
        try write(main, to: mainPath, console: console)
        for (name, fields) in repeatColumns {
            var text = "\u{FEFF}" + SurveyExport.csvLine(["instance_id", "entry"] + fields)
            for survey in surveys {
                let entries = survey.answerObject[name]?.arrayValue ?? []
                for (entry, item) in entries.enumerated() {
                    text += SurveyExport.csvLine([survey.instanceID, String(entry + 1)] + fields.map { SurveyExport.cell(item[$0]) })
                }
            }
            try write(text, to: "\(stem)-\(name).csv", console: console)
        }
    }
}
