import Foundation
import SurveyCore
import SurveySpreadsheet
import Yams

/// A problem or a warning about a workbook, named by its cell.
public struct XLSFormMessage: Sendable, Equatable, CustomStringConvertible {
    public var place: CellPlace
    public var message: LocalizedText
    /// The column within an expression, when the problem is in one.
    public var expressionColumn: Int?
    /// Whether the form cannot be imported because of it.
    public var isError: Bool

    public init(place: CellPlace, message: LocalizedText, expressionColumn: Int? = nil, isError: Bool) {
        self.place = place
        self.message = message
        self.expressionColumn = expressionColumn
        self.isError = isError
    }

    /// `file: sheet survey, row 12, column D (constraint): message`.
    public func rendered(_ language: Language, file: String) -> String {
        var parts: [String] = []
        if language == .zh {
            parts.append("工作表 \(place.sheet)")
            if let row = place.row { parts.append("第 \(row) 行") }
            if let column = place.column { parts.append("\(column) 列" + (place.header.map { "(\($0))" } ?? "")) }
            var text = "\(file):" + parts.joined(separator: " ") + ":" + message.text(.zh)
            if let expressionColumn { text += "(表达式第 \(expressionColumn) 列)" }
            return text
        }
        parts.append("sheet \(place.sheet)")
        if let row = place.row { parts.append("row \(row)") }
        if let column = place.column { parts.append("column \(column)" + (place.header.map { " (\($0))" } ?? "")) }
        var text = "\(file): " + parts.joined(separator: ", ") + ": " + message.text(.en)
        if let expressionColumn { text += " (expression column \(expressionColumn))" }
        return text
    }

    public var description: String { rendered(.en, file: "workbook") }
}

/// A workbook that could not be made into a form: every problem found,
/// the warnings among them.
public struct XLSFormImportError: Error, Sendable, CustomStringConvertible {
    public var messages: [XLSFormMessage]
    public var description: String { messages.map(\.description).joined(separator: "\n") }
}

/// A form made from a workbook: the YAML file's text, the form loaded
/// from it, and what was left out or changed, by cell.
public struct XLSFormImport: Sendable {
    public var yaml: String
    public var form: Form
    public var warnings: [XLSFormMessage]
}

/// Reads an XLSForm workbook (the `survey`, `choices` and `settings`
/// sheets of ODK's XLSForm standard, and this project's `indicators`,
/// `warnings` and `charts` sheets) and writes the YAML form it means. What
/// the engine cannot do is refused or warned about by sheet, row and
/// column, never left out silently; the YAML is checked by `FormLoader`,
/// whose problems are named by the cell they came from.
public enum XLSFormImporter {
    /// Reads the workbook at `url`; a `select_one_from_file` list is read
    /// from the CSV file beside it.
    public static func convert(workbook url: URL, file: String? = nil) throws(XLSFormImportError) -> XLSFormImport {
        let name = file ?? url.lastPathComponent
        let sheets: [ReadSheet]
        do {
            sheets = try XLSXReader.read(url)
        } catch {
            throw XLSFormImportError(messages: [XLSFormMessage(place: CellPlace(sheet: "-"), message: error.message, isError: true)])
        }
        return try convert(sheets: sheets, file: name, directory: url.deletingLastPathComponent())
    }

    /// Converts sheets already read; `directory` is where files named by
    /// `select_one_from_file` are looked for.
    public static func convert(sheets: [ReadSheet], file: String, directory: URL?) throws(XLSFormImportError) -> XLSFormImport {
        var conversion = Conversion(sheets: sheets, file: file, directory: directory)
        let tree = conversion.run()
        var messages = conversion.messages
        guard !messages.contains(where: \.isError), let tree else {
            throw XLSFormImportError(messages: messages)
        }
        var writer = YAMLWriter()
        let title = tree["settings"]?["title"]
        writer.comment(
            "\(title?["zh"]?.scalar ?? title?.scalar ?? conversion.formID): imported from \(file) by `vsurvey form import`.\nThe format is described in docs/FORMS.md.")
        for (offset, section) in tree.entries.enumerated() {
            if offset > 0 { writer.blank() }
            writer.write([section], indent: 0)
        }
        let yaml = writer.text
        do {
            let form = try FormLoader.load(data: Data(yaml.utf8), file: file)
            return XLSFormImport(yaml: yaml, form: form, warnings: messages)
        } catch {
            // The loader names lines of the YAML; each line knows its cell.
            for issue in error.issues {
                var line = issue.line
                while line > 0, writer.places[line] == nil { line -= 1 }
                var message = issue.message
                if let field = issue.field {
                    message = L("\(field):\(message.zh)", "\(field): \(message.en ?? message.zh)")
                }
                messages.append(
                    XLSFormMessage(
                        place: writer.places[line] ?? CellPlace(sheet: "survey"), message: message, expressionColumn: issue.column, isError: true))
            }
            throw XLSFormImportError(messages: messages)
        }
    }
}

/// The languages a column header may name: `label::Chinese (zh)`,
/// `label::zh`, `label::English (en)`, `label::中文`.
enum ColumnLanguage {
    static func parse(_ text: String) -> Language? {
        var code = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let open = code.lastIndex(of: "("), let close = code.lastIndex(of: ")"), open < close {
            code = String(code[code.index(after: open)..<close]).trimmingCharacters(in: .whitespaces)
        }
        switch code {
        case "zh", "zh-cn", "zh_cn", "zh-hans", "zh-hans-cn", "chi", "zho", "chinese", "中文", "汉语", "简体中文": return .zh
        case "en", "en-us", "en-gb", "eng", "english", "英文", "英语": return .en
        default: return nil
        }
    }

    /// The header as XLSForm writes it for `language`.
    static func header(_ base: String, _ language: Language) -> String {
        base + (language == .zh ? "::Chinese (zh)" : "::English (en)")
    }
}

/// One sheet's header: each column's key and language.
struct SheetColumns {
    struct Column {
        var index: Int
        var letters: String
        var header: String
        var key: String
        var language: Language?
        /// The text after `::` when it names no language this project knows.
        var unknownLanguage: String?
    }

    var columns: [Column] = []
    var headerRow: Int

    init(_ row: ReadRow, aliases: [String: String]) {
        headerRow = row.number
        for (index, cell) in row.cells.sorted(by: { $0.key < $1.key }) {
            let header = cell.text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !header.isEmpty else { continue }
            var base = header
            var language: Language?
            var unknown: String?
            if let range = header.range(of: "::") {
                base = String(header[..<range.lowerBound])
                let rest = String(header[range.upperBound...])
                language = ColumnLanguage.parse(rest)
                if language == nil { unknown = rest }
            }
            var key = base.trimmingCharacters(in: .whitespaces)
            if !key.hasPrefix("jr:") && !key.hasPrefix("bind::") { key = key.lowercased() }
            key = key.replacingOccurrences(of: " ", with: "_")
            key = aliases[key] ?? key
            columns.append(Column(index: index, letters: XLSXReader.letters(of: index), header: header, key: key, language: language, unknownLanguage: unknown))
        }
    }

    func first(_ key: String) -> Column? { columns.first { $0.key == key } }
}

/// The keys of the survey sheet this importer reads, with pyxform's aliases.
enum SurveyColumns {
    static let aliases: [String: String] = [
        "relevance": "relevant", "calculate": "calculation", "readonly": "read_only", "constraint_msg": "constraint_message",
        "jr:constraintmsg": "constraint_message", "jr:constraintMsg": "constraint_message", "jr:requiredmsg": "required_message",
        "jr:requiredMsg": "required_message", "required_msg": "required_message", "jr:count": "repeat_count", "count": "repeat_count",
        "list_name": "list_name", "listname": "list_name", "list-name": "list_name", "caption": "label", "value": "name",
        "image": "media", "audio": "media", "video": "media", "big-image": "media", "media::image": "media", "media::audio": "media",
        "media::video": "media", "media::big-image": "media",
    ]
    /// Localized keys: one column per language.
    static let localized: Set<String> = ["label", "hint", "measure", "required_message", "constraint_message", "guidance_hint"]
    /// Keys copied into the YAML field as they are, in the order written.
    static let order = [
        "type", "name", "label", "hint", "measure", "required", "required_message", "relevant", "constraint", "constraint_message", "calculation",
        "data_type", "default", "read_only", "min", "max", "min_count", "max_count", "repeat_count", "choice_filter", "prefill",
    ]
    /// Columns of XLSForm the engine has no use for: imported without them.
    static let ignored: [String: LocalizedText] = [
        "appearance": L("界面样式(appearance)不影响数据,已忽略", "appearance does not change the data and is ignored"),
        "media": L("不支持图片、音频、视频,已忽略", "images, audio and video are not supported and are ignored"),
        "guidance_hint": L("指导提示(guidance_hint)未导入", "guidance_hint is not imported"),
        "autoplay": L("autoplay 不支持,已忽略", "autoplay is not supported and is ignored"),
        "trigger": L("trigger 不支持,已忽略;请改用 calculation", "trigger is not supported and is ignored; use a calculation"),
        "note": L("列 note 已忽略", "the note column is ignored"),
    ]
}

/// The types of the survey sheet.
enum SurveyRowType: Equatable {
    case field(String)
    case selectFromFile(one: Bool, file: String)
    case acknowledge
    case beginGroup, endGroup, beginRepeat, endRepeat
    /// A metadata type (start, end, deviceid …) the device records itself.
    case metadata(String)
    case unsupported(String, LocalizedText)
    case unknown(String)

    static func parse(_ raw: String) -> SurveyRowType {
        let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { return .unknown(raw) }
        let head = first.lowercased()
        switch (head, words.count) {
        case ("integer", 1), ("int", 1): return .field("integer")
        case ("decimal", 1): return .field("decimal")
        case ("text", 1), ("string", 1): return .field("text")
        case ("date", 1): return .field("date")
        case ("calculate", 1): return .field("calculate")
        case ("note", 1): return .field("note")
        case ("acknowledge", 1): return .acknowledge
        case ("begin_group", 1): return .beginGroup
        case ("end_group", 1): return .endGroup
        case ("begin_repeat", 1): return .beginRepeat
        case ("end_repeat", 1): return .endRepeat
        default: break
        }
        if words.count == 2, head == "begin" || head == "end" {
            switch (head, words[1].lowercased()) {
            case ("begin", "group"): return .beginGroup
            case ("end", "group"): return .endGroup
            case ("begin", "repeat"): return .beginRepeat
            case ("end", "repeat"): return .endRepeat
            default: return .unknown(raw)
            }
        }
        if head == "select_one" || head == "select_multiple" || (head == "select" && words.count >= 3) {
            var rest = Array(words.dropFirst())
            var kind = head
            if head == "select" {
                kind = "select_" + rest[0].lowercased()
                rest.removeFirst()
            }
            guard kind == "select_one" || kind == "select_multiple" else { return .unknown(raw) }
            if rest.count == 2, rest[1] == "or_other" {
                return .unsupported(
                    raw, L("or_other 不支持:请在选项表中加入“其他”选项,再加一个 text 题在选“其他”时填写", "or_other is not supported: add an 'other' choice and a text question relevant when it is chosen"))
            }
            guard rest.count == 1 else { return .unknown(raw) }
            return .field("\(kind) \(rest[0])")
        }
        if (head == "select_one_from_file" || head == "select_multiple_from_file"), words.count == 2 {
            let file = words[1]
            guard file.lowercased().hasSuffix(".csv") else {
                return .unsupported(raw, L("只支持 CSV 选项文件(.csv),不支持 \(file)", "only CSV choice files (.csv) are supported, not \(file)"))
            }
            return .selectFromFile(one: head == "select_one_from_file", file: file)
        }
        switch head {
        case "start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber", "username", "email", "audit", "start-geopoint":
            return .metadata(head)
        case "geopoint", "geotrace", "geoshape", "background-geopoint":
            return .unsupported(raw, L("不支持定位(GPS)题", "GPS questions are not supported"))
        case "image", "audio", "video", "file", "background-audio", "barcode":
            return .unsupported(raw, L("不支持图片、音频、视频、文件和条码题", "image, audio, video, file and barcode questions are not supported"))
        case "time", "datetime":
            return .unsupported(raw, L("不支持时间题,只支持日期(date)", "time questions are not supported; only date is"))
        case "range", "rank", "trigger", "hidden", "xml-external", "csv-external", "select_one_external", "select_multiple_external":
            return .unsupported(raw, L("本系统不支持此题型", "this type is not supported by this engine"))
        default: return .unknown(raw)
        }
    }
}

/// One conversion of a workbook: reads the sheets, records messages.
struct Conversion {
    let sheets: [ReadSheet]
    let file: String
    let directory: URL?
    var messages: [XLSFormMessage] = []
    var formID = "form"
    var defaultLanguage: Language = .zh
    /// Choice lists in sheet order; lists made for files and acknowledgements are added.
    var choiceLists: [(name: String, place: CellPlace, choices: [YAMLTree])] = []
    var listNames: Set<String> = []
    /// Warnings by field name, from the `warnings` sheet.
    var fieldWarnings: [String: [(YAMLTree, CellPlace)]] = [:]
    /// Whether the workbook's `yes_no` list is the engine's yes/no type.
    var yesNoIsBuiltIn = false
    var hasYesNoList = false

    init(sheets: [ReadSheet], file: String, directory: URL?) {
        self.sheets = sheets
        self.file = file
        self.directory = directory
    }

    func sheet(_ name: String) -> ReadSheet? {
        sheets.first { $0.name.trimmingCharacters(in: .whitespaces).lowercased() == name }
    }

    mutating func error(_ place: CellPlace, _ message: LocalizedText) {
        messages.append(XLSFormMessage(place: place, message: message, isError: true))
    }

    mutating func warning(_ place: CellPlace, _ message: LocalizedText) {
        messages.append(XLSFormMessage(place: place, message: message, isError: false))
    }

    func place(_ sheet: String, _ row: ReadRow, _ column: SheetColumns.Column) -> CellPlace {
        CellPlace(sheet: sheet, row: row.number, column: column.letters, header: column.header)
    }

    static func text(_ row: ReadRow, _ column: SheetColumns.Column) -> String? {
        guard let cell = row[column.index] else { return nil }
        let text = cell.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// The header row and the rows below it that hold something.
    func table(_ sheet: ReadSheet, aliases: [String: String]) -> (SheetColumns, [ReadRow])? {
        guard let first = sheet.rows.first(where: { row in row.cells.values.contains { !$0.text.trimmingCharacters(in: .whitespaces).isEmpty } })
        else { return nil }
        let columns = SheetColumns(first, aliases: aliases)
        let rows = sheet.rows.filter { $0.number > first.number && $0.cells.values.contains { !$0.text.trimmingCharacters(in: .whitespaces).isEmpty } }
        return (columns, rows)
    }

    mutating func run() -> YAMLTree? {
        for sheet in sheets {
            let name = sheet.name.trimmingCharacters(in: .whitespaces).lowercased()
            switch name {
            case "survey", "choices", "settings", "indicators", "warnings", "charts": break
            case "entities":
                error(CellPlace(sheet: sheet.name), L("不支持实体(entities)", "entities are not supported"))
            case "external_choices":
                error(CellPlace(sheet: sheet.name), L("不支持外部选项(external_choices);请改用 select_one_from_file", "external choices are not supported; use select_one_from_file"))
            default:
                warning(CellPlace(sheet: sheet.name), L("工作表 “\(sheet.name)” 不属于 XLSForm,已忽略", "sheet '\(sheet.name)' is not part of an XLSForm and is ignored"))
            }
        }
        guard let survey = sheet("survey") else {
            error(CellPlace(sheet: "survey"), L("工作簿缺少 survey 工作表", "the workbook has no survey sheet"))
            return nil
        }
        let settings = readSettings()
        readChoices()
        if let index = choiceLists.firstIndex(where: { $0.name == "yes_no" }) {
            hasYesNoList = true
            yesNoIsBuiltIn = isBuiltInYesNo() && !usesYesNoAsMultiple()
            if yesNoIsBuiltIn {
                choiceLists.remove(at: index)
            } else {
                choiceLists[index].name = Self.renamedYesNo
            }
        }
        readWarnings()
        let fields = readSurvey(survey)
        var root: [YAMLTree.Entry] = [YAMLTree.Entry(key: "settings", value: .mapping(settings), place: CellPlace(sheet: "settings"))]
        root.append(YAMLTree.Entry(key: "survey", value: .sequence(fields), place: CellPlace(sheet: "survey")))
        if !choiceLists.isEmpty {
            let lists = choiceLists.map { YAMLTree.Entry(key: $0.name, value: .sequence($0.choices), place: $0.place) }
            root.append(YAMLTree.Entry(key: "choices", value: .mapping(lists), place: CellPlace(sheet: "choices")))
        }
        for (name, localized) in [("indicators", "label"), ("charts", "title")] {
            if let items = readRecords(name, localized: [localized]), !items.isEmpty {
                root.append(YAMLTree.Entry(key: name, value: .sequence(items), place: CellPlace(sheet: name)))
            }
        }
        for (field, list) in fieldWarnings {
            for (_, place) in list {
                error(place, L("warnings 工作表中的字段 “\(field)” 不在 survey 工作表中", "field '\(field)' of the warnings sheet is not in the survey sheet"))
            }
        }
        return .mapping(root)
    }

    // MARK: settings

    static let settingsAliases: [String: String] = ["id_string": "form_id", "title": "form_title"]
    /// Settings whose cell holds YAML (`{2026: 2026-11-30}`, `[township, county]`).
    static let structuredSettings: Set<String> = ["constants", "due", "review", "outliers"]
    static let ignoredSettings: Set<String> = [
        "instance_name", "style", "public_key", "submission_url", "auto_send", "auto_delete", "allow_choice_duplicates", "namespaces",
        "clean_text_values", "instance_id",
    ]

    mutating func readSettings() -> [YAMLTree.Entry] {
        var entries: [YAMLTree.Entry] = []
        var values: [String: (String, CellPlace)] = [:]
        var titles: [(Language, String, CellPlace)] = []
        if let sheet = sheet("settings"), let (columns, rows) = table(sheet, aliases: Self.settingsAliases) {
            if rows.count > 1 {
                warning(CellPlace(sheet: sheet.name, row: rows[1].number), L("settings 只读第一行值,其后的行已忽略", "only the first row of values in settings is read; the rows below it are ignored"))
            }
            if let row = rows.first {
                for column in columns.columns {
                    guard let text = Self.text(row, column) else { continue }
                    let place = place(sheet.name, row, column)
                    if column.key == "form_title" {
                        if let unknown = column.unknownLanguage {
                            warning(place, L("不支持的语言 “\(unknown)”,此列已忽略", "language '\(unknown)' is not supported; the column is ignored"))
                        } else {
                            titles.append((column.language ?? .zh, text, place))
                        }
                    } else if Self.ignoredSettings.contains(column.key) {
                        warning(place, L("设置 \(column.key) 不适用于本系统,已忽略", "setting \(column.key) does not apply here and is ignored"))
                    } else {
                        values[column.key] = (text, place)
                    }
                }
            }
        }
        if let (language, place) = values["default_language"].map({ (ColumnLanguage.parse($0.0), $0.1) }) {
            if let language {
                defaultLanguage = language
            } else {
                error(place, L("default_language 只能是中文(zh)或英文(en)", "default_language must be Chinese (zh) or English (en)"))
            }
        }
        // Titles without a language are in the default language.
        titles = titles.map { ($0.2.header?.contains("::") == true ? $0.0 : defaultLanguage, $0.1, $0.2) }
        if let (id, place) = values["form_id"] {
            formID = id
            entries.append(YAMLTree.Entry(key: "form_id", value: .scalar(id), place: place))
        } else {
            // As pyxform: the file's name without its extension.
            formID = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
            entries.append(YAMLTree.Entry(key: "form_id", value: .scalar(formID), place: CellPlace(sheet: "settings")))
            warning(CellPlace(sheet: "settings"), L("未设 form_id,用文件名 “\(formID)”", "no form_id: the file's name '\(formID)' is used"))
        }
        entries.append(YAMLTree.Entry(key: "version", value: .scalar(values["version"]?.0 ?? "1"), place: values["version"]?.1 ?? CellPlace(sheet: "settings")))
        if values["version"] == nil {
            warning(CellPlace(sheet: "settings"), L("未设 version,用 1", "no version: 1 is used"))
        }
        if titles.isEmpty {
            entries.append(YAMLTree.Entry(key: "title", value: .scalar(formID), place: CellPlace(sheet: "settings")))
        } else {
            let sorted = titles.sorted { $0.0 == .zh && $1.0 != .zh }
            entries.append(
                YAMLTree.Entry(
                    key: "title", value: .mapping(sorted.map { YAMLTree.Entry(key: $0.0.rawValue, value: .scalar($0.1), place: $0.2) }), place: sorted[0].2))
        }
        // An XLSForm from elsewhere says neither: one survey per village a year, said.
        for (key, fallback) in [("period_type", "annual"), ("unit_level", "village")] where values[key] == nil {
            values[key] = (fallback, CellPlace(sheet: "settings"))
            warning(
                CellPlace(sheet: "settings"),
                L("未设 \(key),用 \(fallback)(在 settings 工作表加 \(key) 列可改)", "no \(key): \(fallback) is used (add a \(key) column to the settings sheet to change it)"))
        }
        for key in ["period_type", "unit_level", "default_language", "prefill"] {
            guard let (text, place) = values[key] else { continue }
            let value = key == "default_language" ? defaultLanguage.rawValue : text
            entries.append(YAMLTree.Entry(key: key, value: .scalar(value), place: place))
        }
        for key in ["review", "due", "constants", "outliers"] {
            guard let (text, place) = values[key] else { continue }
            if let tree = structured(text, place: place, key: key) { entries.append(YAMLTree.Entry(key: key, value: tree, place: place)) }
        }
        let known: Set<String> = ["form_id", "version", "period_type", "unit_level", "default_language", "prefill", "review", "due", "constants", "outliers"]
        for (key, (_, place)) in values.sorted(by: { $0.key < $1.key }) where !known.contains(key) {
            error(place, L("未知设置 “\(key)”", "unknown setting '\(key)'"))
        }
        return entries
    }

    /// A cell holding YAML flow text; a plain list such as `township, county` for `review`.
    mutating func structured(_ text: String, place: CellPlace, key: String) -> YAMLTree? {
        if key == "review", !text.hasPrefix("[") {
            let levels = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\u{FF0C}" || $0 == "、" }).map { YAMLTree.scalar(String($0)) }
            return .sequence(levels)
        }
        do {
            guard let node = try Yams.compose(yaml: text) else { return nil }
            return YAMLTree(node)
        } catch {
            self.error(place, L("无法读取 \(key) 的值(应为 YAML,如 {a: 1}):\(error)", "cannot read the value of \(key) (YAML such as {a: 1} is expected): \(error)"))
            return nil
        }
    }

    // MARK: choices

    mutating func readChoices() {
        guard let sheet = sheet("choices"), let (columns, rows) = table(sheet, aliases: SurveyColumns.aliases) else { return }
        guard let listColumn = columns.first("list_name"), let nameColumn = columns.first("name") else {
            error(CellPlace(sheet: sheet.name, row: columns.headerRow), L("choices 工作表需要 list_name 和 name 列", "the choices sheet needs the columns list_name and name"))
            return
        }
        var order: [String] = []
        var lists: [String: (CellPlace, [YAMLTree])] = [:]
        for row in rows {
            guard let list = Self.text(row, listColumn) else {
                error(place(sheet.name, row, listColumn), L("选项缺少 list_name", "the choice has no list_name"))
                continue
            }
            let listPlace = place(sheet.name, row, listColumn)
            if lists[list] == nil {
                order.append(list)
                lists[list] = (listPlace, [])
            }
            lists[list]!.1.append(choice(row, columns: columns, sheet: sheet.name, name: nameColumn))
        }
        for name in order {
            choiceLists.append((name, lists[name]!.0, lists[name]!.1))
            listNames.insert(name)
        }
    }

    /// A choice row: its name, label by language, and its other columns
    /// (what a `choice_filter` reads).
    mutating func choice(_ row: ReadRow, columns: SheetColumns, sheet: String, name nameColumn: SheetColumns.Column) -> YAMLTree {
        var entries: [YAMLTree.Entry] = []
        entries.append(YAMLTree.Entry(key: "name", value: .scalar(Self.text(row, nameColumn) ?? ""), place: place(sheet, row, nameColumn)))
        var labels: [YAMLTree.Entry] = []
        var extra: [YAMLTree.Entry] = []
        for column in columns.columns where column.key != "list_name" && column.key != "name" {
            guard let text = Self.text(row, column) else { continue }
            let place = place(sheet, row, column)
            if column.key == "label" {
                if let unknown = column.unknownLanguage {
                    warning(place, L("不支持的语言 “\(unknown)”,此列已忽略", "language '\(unknown)' is not supported; the column is ignored"))
                    continue
                }
                labels.append(YAMLTree.Entry(key: (column.language ?? defaultLanguage).rawValue, value: .scalar(text), place: place))
            } else if column.key == "media" || column.key.hasPrefix("media") {
                warning(place, L("不支持选项图片或音频,已忽略", "images and audio in choices are not supported and are ignored"))
            } else if FieldName.isValid(column.key), column.language == nil {
                extra.append(YAMLTree.Entry(key: column.key, value: .scalar(text), place: place))
            } else {
                warning(place, L("列 “\(column.header)” 未导入", "column '\(column.header)' is not imported"))
            }
        }
        labels = Self.chineseFirst(labels)
        if !labels.isEmpty { entries.append(YAMLTree.Entry(key: "label", value: .mapping(labels), place: labels[0].place)) }
        return .mapping(entries + extra)
    }

    /// A list made from a CSV file beside the workbook (`name,label` and
    /// any other columns), for `select_one_from_file`.
    mutating func fileList(_ fileName: String, place: CellPlace) -> String? {
        let stem = (fileName as NSString).deletingPathExtension
        var listName = stem.unicodeScalars.map { $0.properties.isAlphabetic || ("0"..."9").contains($0) ? String($0) : "_" }.joined()
        if listName.first.map({ !$0.isLetter }) ?? true { listName = "file_" + listName }
        if let existing = choiceLists.first(where: { $0.name == listName }), existing.place.sheet == fileName { return listName }
        while listNames.contains(listName) { listName += "_file" }
        guard let directory else {
            error(place, L("找不到选项文件 \(fileName)", "the choice file \(fileName) cannot be found"))
            return nil
        }
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            error(place, L("找不到选项文件 \(fileName)(应与工作簿在同一目录)", "the choice file \(fileName) cannot be found (it must be beside the workbook)"))
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            error(place, L("选项文件 \(fileName) 不是 UTF-8 文本", "the choice file \(fileName) is not UTF-8 text"))
            return nil
        }
        let lines = CSV.lines(text)
        guard let header = lines.first else {
            error(place, L("选项文件 \(fileName) 为空", "the choice file \(fileName) is empty"))
            return nil
        }
        // The file's lines as rows of a sheet named after it.
        var cells: [Int: ReadCell] = [:]
        for (index, value) in CSV.fields(header).enumerated() { cells[index] = .text(value) }
        var rows = [ReadRow(number: 1, cells: cells)]
        for (offset, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            var cells: [Int: ReadCell] = [:]
            for (index, value) in CSV.fields(line).enumerated() { cells[index] = .text(value) }
            rows.append(ReadRow(number: offset + 1, cells: cells))
        }
        let columns = SheetColumns(rows[0], aliases: [:])
        guard let nameColumn = columns.first("name"), columns.first("label") != nil else {
            error(place, L("选项文件 \(fileName) 的第一行应含 name 和 label 列", "the first line of the choice file \(fileName) must name the columns name and label"))
            return nil
        }
        let choices = rows.dropFirst().map { choice($0, columns: columns, sheet: fileName, name: nameColumn) }
        guard !choices.isEmpty else {
            error(place, L("选项文件 \(fileName) 没有选项", "the choice file \(fileName) holds no choices"))
            return nil
        }
        choiceLists.append((listName, CellPlace(sheet: fileName, row: 1), Array(choices)))
        listNames.insert(listName)
        return listName
    }

    /// The list behind `acknowledge`: one choice, OK, as ODK stores it.
    mutating func acknowledgeList() -> String {
        var name = "acknowledge"
        if let existing = choiceLists.first(where: { $0.name == name }), existing.place.sheet == "acknowledge" { return name }
        while listNames.contains(name) { name += "_ok" }
        let label = YAMLTree.mapping([YAMLTree.Entry(key: "zh", value: .scalar("确认"), place: nil), YAMLTree.Entry(key: "en", value: .scalar("OK"), place: nil)])
        choiceLists.append(
            (name, CellPlace(sheet: "acknowledge"), [.mapping([YAMLTree.Entry(key: "name", value: .scalar("OK"), place: nil), YAMLTree.Entry(key: "label", value: label, place: nil)])]))
        listNames.insert(name)
        return name
    }

    // MARK: warnings, indicators, charts

    mutating func readWarnings() {
        guard let sheet = sheet("warnings"), let (columns, rows) = table(sheet, aliases: [:]) else { return }
        guard let fieldColumn = columns.first("field") else {
            error(CellPlace(sheet: sheet.name, row: columns.headerRow), L("warnings 工作表需要 field 列", "the warnings sheet needs a field column"))
            return
        }
        for row in rows {
            guard let field = Self.text(row, fieldColumn) else {
                error(place(sheet.name, row, fieldColumn), L("提醒缺少所属字段(field)", "the warning names no field"))
                continue
            }
            let record = record(row, columns: columns, sheet: sheet.name, localized: ["message"], skip: ["field"])
            fieldWarnings[field, default: []].append((record, place(sheet.name, row, fieldColumn)))
        }
    }

    /// The rows of a sheet such as `indicators` as YAML mappings, one key
    /// per column; cells of structured keys hold YAML.
    mutating func readRecords(_ name: String, localized: Set<String>) -> [YAMLTree]? {
        guard let sheet = sheet(name), let (columns, rows) = table(sheet, aliases: [:]) else { return nil }
        return rows.map { record($0, columns: columns, sheet: sheet.name, localized: localized, skip: []) }
    }

    static let structuredRecordKeys: Set<String> = ["series", "bins", "mark", "order"]

    mutating func record(_ row: ReadRow, columns: SheetColumns, sheet: String, localized: Set<String>, skip: Set<String>) -> YAMLTree {
        var entries: [YAMLTree.Entry] = []
        var texts: [String: [YAMLTree.Entry]] = [:]
        for column in columns.columns where !skip.contains(column.key) {
            guard let text = Self.text(row, column) else { continue }
            let place = place(sheet, row, column)
            if localized.contains(column.key) {
                if let unknown = column.unknownLanguage {
                    warning(place, L("不支持的语言 “\(unknown)”,此列已忽略", "language '\(unknown)' is not supported; the column is ignored"))
                    continue
                }
                if texts[column.key] == nil {
                    // Its place among the keys; the languages go in below.
                    entries.append(YAMLTree.Entry(key: column.key, value: .scalar(""), place: place))
                }
                texts[column.key, default: []].append(YAMLTree.Entry(key: (column.language ?? defaultLanguage).rawValue, value: .scalar(text), place: place))
            } else if Self.structuredRecordKeys.contains(column.key), text.hasPrefix("[") || text.hasPrefix("{") {
                if let tree = structured(text, place: place, key: column.key) { entries.append(YAMLTree.Entry(key: column.key, value: tree, place: place)) }
            } else {
                entries.append(YAMLTree.Entry(key: column.key, value: .scalar(text), place: place))
            }
        }
        for index in entries.indices {
            guard let languages = texts[entries[index].key] else { continue }
            entries[index].value = .mapping(Self.chineseFirst(languages))
        }
        return .mapping(entries)
    }

    // MARK: survey

    /// An open group or repeat while the survey sheet is read.
    struct Open {
        var entries: [YAMLTree.Entry]
        var children: [YAMLTree]
        var isRepeat: Bool
        var place: CellPlace
        var name: String
    }

    mutating func readSurvey(_ sheet: ReadSheet) -> [YAMLTree] {
        guard let (columns, rows) = table(sheet, aliases: SurveyColumns.aliases) else {
            error(CellPlace(sheet: sheet.name), L("survey 工作表为空", "the survey sheet is empty"))
            return []
        }
        guard let typeColumn = columns.first("type") else {
            error(CellPlace(sheet: sheet.name, row: columns.headerRow), L("survey 工作表缺少 type 列", "the survey sheet has no type column"))
            return []
        }
        let nameColumn = columns.first("name")
        // Columns that are read for every row, and the others said once.
        let read: Set<String> = Set(SurveyColumns.order + ["parameters", "list_name"])
        for column in columns.columns where !read.contains(column.key) && SurveyColumns.ignored[column.key] == nil {
            if column.key.hasPrefix("bind::") || column.key.hasPrefix("body::") || column.key.hasPrefix("instance::") {
                warning(
                    CellPlace(sheet: sheet.name, row: columns.headerRow, column: column.letters, header: column.header),
                    L("XForm 的原始属性列不支持,已忽略", "raw XForm attribute columns are not supported and are ignored"))
            } else {
                warning(
                    CellPlace(sheet: sheet.name, row: columns.headerRow, column: column.letters, header: column.header),
                    L("未知的列 “\(column.header)”,已忽略", "unknown column '\(column.header)' is ignored"))
            }
        }
        var stack: [Open] = [Open(entries: [], children: [], isRepeat: false, place: CellPlace(sheet: sheet.name), name: "")]
        var warnedColumns: Set<String> = []
        for row in rows {
            let typePlace = place(sheet.name, row, typeColumn)
            guard let rawType = Self.text(row, typeColumn) else {
                error(typePlace, L("这一行有内容但缺少 type", "the row holds something but has no type"))
                continue
            }
            let type = SurveyRowType.parse(rawType)
            let name = nameColumn.flatMap { Self.text(row, $0) }
            switch type {
            case .endGroup, .endRepeat:
                let repeatEnds = type == .endRepeat
                guard stack.count > 1 else {
                    error(typePlace, L("\(rawType) 没有对应的开始行", "\(rawType) has no matching begin row"))
                    continue
                }
                let open = stack.removeLast()
                if open.isRepeat != repeatEnds {
                    error(
                        typePlace,
                        L("\(rawType) 与第 \(open.place.row ?? 0) 行的开始不对应", "\(rawType) does not match the begin row \(open.place.row ?? 0)"))
                }
                var entries = open.entries
                entries.append(YAMLTree.Entry(key: "children", value: .sequence(open.children), place: open.place))
                stack[stack.count - 1].children.append(.mapping(entries))
                continue
            case .metadata(let kind):
                warning(typePlace, L("元数据题型 \(kind) 未导入:设备和服务器自己记录时间和填报人", "metadata type \(kind) is not imported: the device and the server record times and senders themselves"))
                continue
            case .unsupported(let raw, let why):
                error(typePlace, L("题型 “\(raw)” 不支持:\(why.zh)", "type '\(raw)' is not supported: \(why.en ?? why.zh)"))
                continue
            case .unknown(let raw):
                error(typePlace, L("未知题型 “\(raw)”", "unknown type '\(raw)'"))
                continue
            default: break
            }
            var entries: [YAMLTree.Entry] = []
            var yamlType: String
            switch type {
            case .field(let text): yamlType = text
            case .acknowledge: yamlType = "select_one \(acknowledgeList())"
            case .selectFromFile(let one, let fileName):
                guard let list = fileList(fileName, place: typePlace) else { continue }
                yamlType = (one ? "select_one " : "select_multiple ") + list
            case .beginGroup: yamlType = "group"
            case .beginRepeat: yamlType = "repeat"
            default: continue
            }
            if yamlType.hasSuffix(" yes_no"), hasYesNoList {
                // The engine's own yes/no list, or the workbook's under another name.
                yamlType = yesNoIsBuiltIn ? "yes_no" : yamlType.replacingOccurrences(of: " yes_no", with: " \(Self.renamedYesNo)")
            }
            if type == .beginRepeat, stack.contains(where: \.isRepeat) {
                error(typePlace, L("不支持重复组嵌套(第 \(stack.last { $0.isRepeat }!.place.row ?? 0) 行的重复组之内)", "repeats inside repeats are not supported (inside the repeat of row \(stack.last { $0.isRepeat }!.place.row ?? 0))"))
            }
            entries.append(YAMLTree.Entry(key: "type", value: .scalar(yamlType), place: typePlace))
            if let nameColumn {
                entries.append(YAMLTree.Entry(key: "name", value: .scalar(name ?? ""), place: place(sheet.name, row, nameColumn)))
            }
            var localized: [String: [YAMLTree.Entry]] = [:]
            var scalars: [String: YAMLTree.Entry] = [:]
            for column in columns.columns where column.key != "type" && column.key != "name" {
                guard let text = Self.text(row, column) else { continue }
                let cellPlace = place(sheet.name, row, column)
                if let why = SurveyColumns.ignored[column.key] {
                    if warnedColumns.insert(column.key).inserted || column.key == "appearance" { warning(cellPlace, why) }
                    continue
                }
                if text.contains("pulldata(") {
                    error(cellPlace, L("不支持 pulldata():请改用 select_one_from_file 或表单常量", "pulldata() is not supported: use select_one_from_file or a form constant"))
                    continue
                }
                if text.contains("instance(") {
                    error(cellPlace, L("不支持 instance() 路径;级联选择请用 choice_filter", "instance() paths are not supported; use choice_filter for cascading selects"))
                    continue
                }
                if SurveyColumns.localized.contains(column.key) {
                    if let unknown = column.unknownLanguage {
                        warning(cellPlace, L("不支持的语言 “\(unknown)”,此列已忽略", "language '\(unknown)' is not supported; the column is ignored"))
                        continue
                    }
                    localized[column.key, default: []].append(
                        YAMLTree.Entry(key: (column.language ?? defaultLanguage).rawValue, value: .scalar(text), place: cellPlace))
                    continue
                }
                switch column.key {
                case "required", "read_only":
                    switch XLSFormValues.flag(text) {
                    case .some(true): scalars[column.key] = YAMLTree.Entry(key: column.key, value: .scalar("true"), place: cellPlace)
                    case .some(false): break
                    case .none:
                        if column.key == "required" {
                            scalars[column.key] = YAMLTree.Entry(key: column.key, value: .scalar(text), place: cellPlace)
                        } else {
                            error(cellPlace, L("read_only 应为 yes 或 no", "read_only must be yes or no"))
                        }
                    }
                case "repeat_count":
                    guard type == .beginRepeat else {
                        error(cellPlace, L("只有 begin repeat 行可以设 repeat_count", "only a begin repeat row can have repeat_count"))
                        continue
                    }
                    if let count = Int(text), count >= 1 {
                        // A fixed number is a fixed range of entries.
                        scalars["min_count"] = YAMLTree.Entry(key: "min_count", value: .scalar(String(count)), place: cellPlace)
                        scalars["max_count"] = YAMLTree.Entry(key: "max_count", value: .scalar(String(count)), place: cellPlace)
                    } else {
                        scalars["repeat_count"] = YAMLTree.Entry(key: "repeat_count", value: .scalar(text), place: cellPlace)
                    }
                case "parameters":
                    warning(cellPlace, L("parameters 不适用于此题型,已忽略", "parameters do not apply to this type and are ignored"))
                case "default", "min", "max":
                    // A date typed into a date-formatted cell is a day number in the file.
                    scalars[column.key] = YAMLTree.Entry(
                        key: column.key, value: .scalar(XLSFormValues.defaultValue(row[column.index]!, type: yamlType)), place: cellPlace)
                case "list_name":
                    warning(cellPlace, L("survey 工作表中的 list_name 已忽略", "list_name in the survey sheet is ignored"))
                default:
                    if SurveyColumns.order.contains(column.key) {
                        scalars[column.key] = YAMLTree.Entry(key: column.key, value: .scalar(text), place: cellPlace)
                    }
                }
            }
            for key in SurveyColumns.order {
                if let languages = localized[key] {
                    entries.append(YAMLTree.Entry(key: key, value: .mapping(Self.chineseFirst(languages)), place: languages[0].place))
                } else if let entry = scalars[key] {
                    entries.append(entry)
                }
            }
            if (type == .beginGroup || type == .beginRepeat), localized["label"] == nil, let name {
                // XLSForm lets a group go without a label; a section needs one to be shown.
                entries.insert(YAMLTree.Entry(key: "label", value: .scalar(name), place: typePlace), at: min(2, entries.count))
                warning(typePlace, L("分组 \(name) 没有 label,用其名称", "group \(name) has no label; its name is used"))
            }
            if let name, let warnings = fieldWarnings.removeValue(forKey: name) {
                entries.append(YAMLTree.Entry(key: "warnings", value: .sequence(warnings.map(\.0)), place: warnings[0].1))
            }
            if type == .beginGroup || type == .beginRepeat {
                stack.append(Open(entries: entries, children: [], isRepeat: type == .beginRepeat, place: typePlace, name: name ?? ""))
            } else {
                stack[stack.count - 1].children.append(.mapping(entries))
            }
        }
        while stack.count > 1 {
            let open = stack.removeLast()
            error(open.place, L("\(open.isRepeat ? "begin repeat" : "begin group") \(open.name) 缺少对应的结束行", "\(open.isRepeat ? "begin repeat" : "begin group") \(open.name) has no matching end row"))
        }
        return stack[0].children
    }

    /// The name a workbook's own `yes_no` list gets: the engine keeps that
    /// name for its built-in yes/no.
    static let renamedYesNo = "yes_no_choices"

    /// Language entries with Chinese first, as the form file writes them.
    static func chineseFirst(_ entries: [YAMLTree.Entry]) -> [YAMLTree.Entry] {
        entries.filter { $0.key == Language.zh.rawValue } + entries.filter { $0.key != Language.zh.rawValue }
    }

    /// Whether a select_multiple draws on the `yes_no` list.
    func usesYesNoAsMultiple() -> Bool {
        guard let survey = sheet("survey"), let (columns, rows) = table(survey, aliases: SurveyColumns.aliases), let type = columns.first("type") else { return false }
        return rows.contains { row in
            Self.text(row, type).map { SurveyRowType.parse($0) == .field("select_multiple yes_no") } ?? false
        }
    }

    /// Whether the workbook's `yes_no` list is the engine's own (yes 是,
    /// no 否), so that `select_one yes_no` is the `yes_no` type.
    func isBuiltInYesNo() -> Bool {
        guard let list = choiceLists.first(where: { $0.name == "yes_no" || $0.name == Self.renamedYesNo }) else { return false }
        let pairs = list.choices.map { ($0["name"]?.scalar ?? "", $0["label"]?["zh"]?.scalar ?? "", $0["label"]?["en"]?.scalar) }
        return pairs.count == 2 && pairs[0].0 == "yes" && pairs[0].1 == "是" && pairs[1].0 == "no" && pairs[1].1 == "否"
            && (pairs[0].2 == nil || pairs[0].2 == "Yes") && (pairs[1].2 == nil || pairs[1].2 == "No") && list.choices.allSatisfy { $0.entries.count == 2 }
    }
}

/// Values of XLSForm cells as the YAML form writes them.
enum XLSFormValues {
    /// `yes`, `true()`, TRUE as true; `no`, `false()`, FALSE as false; nil for an expression.
    static func flag(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "yes", "true", "true()", "1": return true
        case "no", "false", "false()", "0": return false
        default: return nil
        }
    }

    /// A default as the type means it: a date cell Excel holds as a day
    /// number is written as YYYY-MM-DD.
    static func defaultValue(_ cell: ReadCell, type: String) -> String {
        if type == "date", case .number(let serial) = cell, serial > 0, serial < 2_958_466 {
            // Excel's day 0 is 1899-12-30 (counting its 1900 leap-year slip).
            return CivilDate.format(days: Int(serial.rounded(.down)) - 25_569)
        }
        return cell.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
