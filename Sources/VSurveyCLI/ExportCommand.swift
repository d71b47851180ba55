import ArgumentParser
import Foundation
import SurveyCore
import SurveySpreadsheet
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
}

/// One table of an export: the surveys (one row each) or one repeat's
/// entries (one row each, joined to their survey by `instance_id`).
struct ExportTable {
    var name: String
    var label: String
    var columns: [(name: String, label: String)]
    var rows: [[SheetCell]] = []
}

/// What `vsurvey export` writes in its cells and headers.
struct ExportStyle {
    /// Choice labels (是, 党支部) rather than codes (yes, branch).
    var labels: Bool
    /// Question labels (党员总数) rather than field names (members_total).
    var labelHeaders: Bool
    var language: Language
}

extension SurveyExport {
    /// The export's tables for one form: the surveys, then each repeat.
    /// Columns are every field of every version present (the newest
    /// version's order first), so that surveys filled with an older
    /// version lose nothing.
    static func tables(_ surveys: [StoredSurvey], forms: [Form], registry: UnitRegistry?, style: ExportStyle) -> [ExportTable] {
        let en = style.language == .en
        func text(_ label: LocalizedText?, _ name: String) -> String { label?.text(style.language) ?? name }
        let layout = ExportLayout(forms: forms)
        let topFields = layout.topFields
        let repeats = layout.repeats
        let form = forms[0]
        var main = ExportTable(
            name: form.id, label: form.title.text(style.language),
            columns: [
                ("instance_id", en ? "Survey id" : "调查编号"), ("revision", en ? "Revision" : "修订"), ("status", en ? "Status" : "状态"),
                ("form", en ? "Form" : "表单"), ("version", en ? "Version" : "版本"), ("unit", en ? "Unit code" : "单位代码"),
                ("unit_name", en ? "Unit" : "单位名称"), ("period", en ? "Period" : "报告期"), ("updated_at", en ? "Updated" : "更新时间"),
            ] + topFields.map { ($0.name, text($0.label, $0.name)) })
        for survey in surveys {
            let answers = survey.answerObject
            let unitName = UnitCode(survey.unitCode).flatMap { registry?.unit($0)?.name } ?? ""
            main.rows.append(
                [
                    .text(survey.instanceID), .number(Double(survey.revision)),
                    .text(style.labels ? survey.status.label.text(style.language) : survey.status.rawValue), .text(survey.formID),
                    .text(survey.formVersion), .text(survey.unitCode), .text(unitName), .text(survey.period),
                    .text(ListCommand.timestamp(survey.updatedAt, short: style.labels)),
                ] + topFields.map { cell(answers[$0.name], $0, style) })
        }
        var tables = [main]
        for (repeatField, inner) in repeats {
            var table = ExportTable(
                name: repeatField.name, label: text(repeatField.label, repeatField.name),
                columns: [("instance_id", en ? "Survey id" : "调查编号"), ("entry", en ? "Entry" : "序号")] + inner.map { ($0.name, text($0.label, $0.name)) })
            for survey in surveys {
                for (entry, item) in (survey.answerObject[repeatField.name]?.arrayValue ?? []).enumerated() {
                    table.rows.append([.text(survey.instanceID), .number(Double(entry + 1))] + inner.map { cell(item[$0.name], $0, style) })
                }
            }
            tables.append(table)
        }
        return tables
    }

    static func cell(_ value: JSONValue?, _ field: Field, _ style: ExportStyle) -> SheetCell {
        ExportLayout.cell(value, field, labels: style.labels, language: style.language)
    }

    /// A cell as CSV text: numbers plain, text a spreadsheet would run as a
    /// formula neutralised.
    static func csvText(_ cell: SheetCell) -> String {
        switch cell {
        case .empty, .shared: return ""
        case .number(let number): return Value.format(number)
        case .text(let text): return CSV.text(text)
        }
    }
}

/// `vsurvey export`: the surveys as CSV (for Excel), an .xlsx workbook, JSON or JSON Lines.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "导出调查 / Export surveys as an Excel workbook, CSV, JSON or JSON Lines",
        discussion: """
            xlsx:一个 Excel 工作簿,调查一张表、每个重复组一张表(以调查编号关联),表头和选项用文字(--lang 决定中文或英文),单位代码保持为文本,数字为数值,首行冻结。
            CSV:每份调查一行,UTF-8 带 BOM;重复组写入另一个文件 <输出>-<重复组>.csv,以 instance_id 关联。默认字段名和选项代码,供程序读取;--headers labels --values labels 改为文字。CSV 和 xlsx 一次导出一个表单。
            xlsx: one Excel workbook with a sheet for the surveys and one per repeat (joined by the survey id), headers and choices as words in the --lang language, unit codes kept as text, numbers as numbers, the header row frozen.
            CSV: one row per survey in UTF-8 with a byte order mark; each repeat goes to a second file <output>-<repeat>.csv joined by instance_id. By default field names and choice codes, for programs; --headers labels --values labels gives words. CSV and xlsx export one form at a time.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case xlsx, csv, json, jsonl
    }

    enum Values: String, ExpressibleByArgument, CaseIterable { case labels, codes }
    enum Headers: String, ExpressibleByArgument, CaseIterable { case labels, names }

    @OptionGroup var options: GlobalOptions
    @Option(help: "格式 xlsx、csv、json 或 jsonl / Format: xlsx, csv, json or jsonl")
    var format: Format = .csv
    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "输出文件;json/jsonl 默认输出到屏幕 / Output file; json and jsonl default to standard output", valueName: "file"))
    var output: String?
    @Option(
        help: ArgumentHelp(
            "选项写文字还是代码:labels 或 codes(xlsx 默认 labels,CSV 默认 codes)/ Choices as labels or codes (default: labels for xlsx, codes for CSV)",
            valueName: "labels|codes"))
    var values: Values?
    @Option(
        help: ArgumentHelp(
            "表头写题目还是字段名:labels 或 names(xlsx 默认 labels,CSV 默认 names)/ Headers as labels or field names (default: labels for xlsx, names for CSV)",
            valueName: "labels|names"))
    var headers: Headers?
    @OptionGroup var selection: FilterOptions

    func run() throws {
        let console = options.console()
        let store = try options.openStore(console, access: .readOnly)
        let surveys = try storeStep(console) { try store.list(selection.filter) }.sorted {
            ($0.formID, $0.unitCode, $0.period) < ($1.formID, $1.unitCode, $1.period)
        }
        var place = output
        switch format {
        case .json:
            try write(JSONValue.array(surveys.map(SurveyExport.document)).serialized(pretty: true) + "\n", console: console)
        case .jsonl:
            try write(surveys.map { SurveyExport.document($0).serialized() + "\n" }.joined(), console: console)
        case .csv, .xlsx:
            place = try exportTables(surveys, catalog: try options.catalog(console), console: console)
        }
        // JSON to the screen is the output itself; otherwise say where it went.
        if let place {
            console.out(console.text(L("已导出 \(surveys.count) 份调查到 \(place)", "Exported \(surveys.count) survey\(surveys.count == 1 ? "" : "s") to \(place)")))
        }
    }

    private func write(_ bytes: [UInt8], to path: String? = nil, console: Console) throws {
        guard let path = path ?? output else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        do {
            try OwnerOnlyFile.write(bytes, to: path)
        } catch {
            console.error(L("无法写入 \(path)", "cannot write \(path)"))
            throw ExitCode.failure
        }
    }

    private func write(_ text: String, to path: String? = nil, console: Console) throws {
        try write(Array(text.utf8), to: path, console: console)
    }

    /// Writes the CSV files or the workbook; returns where the surveys went.
    private func exportTables(_ surveys: [StoredSurvey], catalog: FormCatalog, console: Console) throws -> String {
        let formIDs = Set(surveys.map(\.formID))
        if formIDs.count > 1, selection.form == nil {
            console.error(
                L(
                    "CSV 和 xlsx 一次只能导出一个表单,请用 --form 指定(现有:\(formIDs.sorted().joined(separator: "、")))",
                    "CSV and xlsx export one form at a time; choose it with --form (present: \(formIDs.sorted().joined(separator: ", ")))"))
            throw ExitCode(64)
        }
        guard let formID = selection.form ?? formIDs.first else {
            console.error(L("没有符合条件的调查", "no surveys match"))
            throw ExitCode.failure
        }
        let versions = Set(surveys.map(\.formVersion)).sorted(by: FormCatalog.compareVersions).reversed()
        var forms = versions.compactMap { catalog.form(formID, version: $0) }
        if forms.isEmpty { forms = [try options.form(formID, in: catalog, console)] }
        let forPeople = format == .xlsx
        let style = ExportStyle(
            labels: (values ?? (forPeople ? .labels : .codes)) == .labels, labelHeaders: (headers ?? (forPeople ? .labels : .names)) == .labels,
            language: console.language)
        let tables = SurveyExport.tables(surveys, forms: forms, registry: catalog.registry, style: style)
        let extensionName = forPeople ? ".xlsx" : ".csv"
        let mainPath = output ?? "vsurvey-\(formID)\(extensionName)"
        if forPeople {
            let sheets = tables.map { table in
                Sheet(
                    name: style.labelHeaders ? table.label : table.name, header: table.columns.map { style.labelHeaders ? $0.label : $0.name }, rows: table.rows
                )
            }
            do {
                try write(Array(try XLSXWriter.data(sheets)), to: mainPath, console: console)
            } catch let error as SpreadsheetError {
                console.error(L("无法生成工作簿:\(error.description)", "cannot make the workbook: \(error.description)"))
                throw ExitCode.failure
            }
            return mainPath
        }
        let stem = mainPath.hasSuffix(".csv") ? String(mainPath.dropLast(4)) : mainPath
        for (index, table) in tables.enumerated() {
            var text = "\u{FEFF}" + SurveyExport.csvLine(table.columns.map { style.labelHeaders ? CSV.text($0.label) : $0.name })
            for row in table.rows { text += SurveyExport.csvLine(row.map(SurveyExport.csvText)) }
            try write(text, to: index == 0 ? mainPath : "\(stem)-\(table.name).csv", console: console)
        }
        return mainPath
    }
}
