import Foundation
import SurveyCore
import SurveySpreadsheet
import Yams

/// Writes a YAML form as an XLSForm workbook: `survey`, `choices` and
/// `settings` as ODK's standard has them, with this project's keys as
/// extra columns (`measure`, `min`, `max`, `prefill` …) and sheets
/// (`warnings`, `indicators`, `charts`). What `XLSFormImporter` reads back
/// is the same form: the same fields, types, labels, choices, expressions
/// and indicators.
public enum XLSFormExporter {
    /// The workbook's sheets for the form file at `url`.
    public static func sheets(formFile url: URL) throws -> [Sheet] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try sheets(yaml: text)
    }

    public static func sheets(yaml text: String) throws -> [Sheet] {
        guard let node = try Yams.compose(yaml: text) else { throw SpreadsheetError(description: "the form file is empty") }
        return sheets(YAMLTree(node))
    }

    static func sheets(_ form: YAMLTree) -> [Sheet] {
        var table = Table()
        var warnings = Table()
        warnings.add("field")
        var usesYesNo = false
        func visit(_ field: YAMLTree) {
            var row: [String: String] = [:]
            var type = field["type"]?.scalar ?? ""
            let children = field["children"]?.items
            switch type {
            case "group": type = "begin group"
            case "repeat": type = "begin repeat"
            case "yes_no":
                type = "select_one yes_no"
                usesYesNo = true
            default: break
            }
            row["type"] = type
            for entry in field.entries where entry.key != "type" && entry.key != "children" {
                if entry.key == "warnings" {
                    for warning in entry.value.items {
                        var cells: [String: String] = ["field": field["name"]?.scalar ?? ""]
                        cells.merge(Self.cells(warning, localized: ["message"], table: &warnings)) { a, _ in a }
                        warnings.rows.append(cells)
                    }
                    continue
                }
                for (key, value) in Self.cells(YAMLTree.mapping([entry]), localized: SurveyColumns.localized, table: &table) { row[key] = value }
                // XLSForm writes yes and no.
                if entry.key == "required" || entry.key == "read_only", let flag = entry.value.scalar.flatMap(XLSFormValues.flag) {
                    row[entry.key] = flag ? "yes" : "no"
                }
            }
            table.add("type")
            table.rows.append(row)
            if let children {
                for child in children { visit(child) }
                table.rows.append(["type": type == "begin repeat" ? "end repeat" : "end group"])
            }
        }
        table.add("type")
        table.add("name")
        for field in form["survey"]?.items ?? [] { visit(field) }
        var sheets = [table.sheet("survey", order: surveyOrder)]

        var choices = Table()
        for name in ["list_name", "name"] { choices.add(name) }
        if usesYesNo && form["choices"]?["yes_no"] == nil {
            choices.rows.append(["list_name": "yes_no", "name": "yes", ColumnLanguage.header("label", .zh): "是", ColumnLanguage.header("label", .en): "Yes"])
            choices.rows.append(["list_name": "yes_no", "name": "no", ColumnLanguage.header("label", .zh): "否", ColumnLanguage.header("label", .en): "No"])
        }
        for list in form["choices"]?.entries ?? [] {
            for choice in list.value.items {
                var row = Self.cells(choice, localized: ["label"], table: &choices)
                row["list_name"] = list.key
                choices.rows.append(row)
            }
        }
        sheets.append(choices.sheet("choices", order: ["list_name", "name", "label"]))

        var settings = Table()
        var values: [String: String] = [:]
        for entry in form["settings"]?.entries ?? [] {
            let key = entry.key == "title" ? "form_title" : entry.key
            for (column, value) in Self.cells(.mapping([YAMLTree.Entry(key: key, value: entry.value, place: nil)]), localized: ["form_title"], table: &settings) {
                values[column] = value
            }
        }
        // pyxform reads `form_title` without a language as the title.
        if let chinese = values.removeValue(forKey: ColumnLanguage.header("form_title", .zh)) {
            values["form_title"] = chinese
            settings.columns.removeAll { $0 == ColumnLanguage.header("form_title", .zh) }
            settings.add("form_title")
        }
        settings.rows = [values]
        sheets.append(settings.sheet("settings", order: ["form_id", "version", "form_title", "default_language"]))

        if !warnings.rows.isEmpty { sheets.append(warnings.sheet("warnings", order: ["field", "name", "when", "message"])) }
        for (key, localized) in [("indicators", "label"), ("charts", "title")] {
            guard let items = form[key]?.items, !items.isEmpty else { continue }
            var records = Table()
            if key == "indicators" { records.add("name") }
            for item in items { records.rows.append(Self.cells(item, localized: [localized], table: &records)) }
            sheets.append(records.sheet(key, order: ["name", "type", localized]))
        }
        return sheets
    }

    static let surveyOrder = [
        "type", "name", "label", "hint", "measure", "required", "required_message", "relevant", "constraint", "constraint_message",
        "calculation", "data_type", "default", "read_only", "min", "max", "min_count", "max_count", "repeat_count", "choice_filter", "prefill",
    ]

    /// A mapping's entries as cells by column header: a localized value in
    /// one column per language, a structured one as YAML flow text.
    static func cells(_ record: YAMLTree, localized: Set<String>, table: inout Table) -> [String: String] {
        var row: [String: String] = [:]
        for entry in record.entries {
            switch entry.value {
            case .scalar(let text):
                if localized.contains(entry.key) {
                    // Plain text is Chinese, as the loader reads it.
                    let column = ColumnLanguage.header(entry.key, .zh)
                    table.add(column)
                    row[column] = text
                } else {
                    table.add(entry.key)
                    row[entry.key] = text
                }
            case .mapping(let languages) where localized.contains(entry.key) && languages.allSatisfy({ Language(rawValue: $0.key) != nil }):
                for language in Language.allCases {
                    guard let text = languages.first(where: { $0.key == language.rawValue })?.value.scalar else { continue }
                    let column = ColumnLanguage.header(entry.key, language)
                    table.add(column)
                    row[column] = text
                }
            default:
                table.add(entry.key)
                row[entry.key] = entry.value.flow
            }
        }
        return row
    }

    /// Rows of cells by header, with the headers in the order first met.
    struct Table {
        var columns: [String] = []
        var rows: [[String: String]] = []

        mutating func add(_ column: String) {
            if !columns.contains(column) { columns.append(column) }
        }

        /// The sheet, with the `order` keys (and their languages) first.
        func sheet(_ name: String, order: [String]) -> Sheet {
            func rank(_ column: String) -> (Int, Int, Int) {
                let parts = column.components(separatedBy: "::")
                let position = order.firstIndex(of: parts[0]) ?? order.count
                // A key's columns side by side: without a language, Chinese, English.
                let first = columns.firstIndex { $0.components(separatedBy: "::")[0] == parts[0] } ?? 0
                let language = parts.count == 1 ? 0 : (ColumnLanguage.parse(parts[1]) == .zh ? 1 : 2)
                return (position, first, language)
            }
            let header = columns.sorted { rank($0) < rank($1) }
            let body = rows.map { row in header.map { column -> SheetCell in row[column].map { .text($0) } ?? .empty } }
            return Sheet(name: name, header: header, rows: body)
        }
    }
}
