import Foundation
import Yams

/// Reads a form from YAML and checks it whole: every problem is reported at
/// once with its file, line and field, and a form with any problem is not
/// returned.
public enum FormLoader {
    static let topKeys: Set<String> = ["settings", "survey", "choices", "indicators", "charts"]
    static let chartKeys: Set<String> = ["type", "title", "series", "value", "bins", "mark"]
    static let settingKeys: Set<String> = ["form_id", "version", "title", "period_type", "unit_level", "default_language", "constants", "due", "review", "prefill", "outliers"]
    static let fieldKeys: Set<String> = [
        "type", "name", "label", "hint", "measure", "required", "required_message", "relevant", "constraint",
        "constraint_message", "calculation", "data_type", "default", "read_only", "min", "max", "min_count", "max_count",
        "children", "prefill", "warnings", "choice_filter", "repeat_count",
    ]
    static let warningKeys: Set<String> = ["name", "when", "message"]
    static let outlierKeys: Set<String> = ["fields", "z_score", "change_ratio"]
    static let choiceKeys: Set<String> = ["name", "label"]
    static let indicatorKeys: Set<String> = [
        "name", "type", "label", "value", "condition", "numerator", "denominator", "format", "scale", "watch", "detail", "order",
    ]

    /// Loads and checks the form in `url`.
    public static func load(contentsOf url: URL) throws -> Form {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw FormLoadError(issues: [FormIssue(file: url.relativePath, line: 1, message: L("无法读取文件", "cannot read the file"))])
        }
        return try load(data: data, file: url.relativePath)
    }

    /// Loads and checks a form from the bytes of a YAML file.
    public static func load(data: Data, file: String) throws(FormLoadError) -> Form {
        guard let text = String(data: data, encoding: .utf8) else {
            throw FormLoadError(issues: [FormIssue(file: file, line: 1, message: L("文件不是有效的 UTF-8 文本", "the file is not valid UTF-8 text"))])
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw FormLoadError(issues: [FormIssue(file: file, line: 1, message: L("文件为空", "the file is empty"))])
            }
            root = node
        } catch let error as FormLoadError {
            throw error
        } catch {
            throw FormLoadError(issues: [yamlIssue(error, file: file)])
        }
        let source = YAMLSource(file: file)
        var builder = FormBuilder(source: source, contentHash: Digests.sha256Hex(data))
        let form = builder.build(root)
        if let form, source.issues.isEmpty {
            return form
        }
        throw FormLoadError(issues: source.issues.sorted { ($0.line, $0.column ?? 0) < ($1.line, $1.column ?? 0) })
    }

    private static func yamlIssue(_ error: any Error, file: String) -> FormIssue {
        if let yaml = error as? YamlError {
            switch yaml {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                return FormIssue(
                    file: file, line: mark.line,
                    message: L("YAML 格式错误:\(YAMLMessages.describe(problem).zh)(第 \(mark.column) 列)", "YAML syntax error: \(problem) (column \(mark.column))")
                )
            case .duplicatedKeysInMapping(let duplicates, let context):
                return FormIssue(
                    file: file, line: context.mark.line,
                    message: L("键重复:\(duplicates.joined(separator: "、"))", "duplicate keys: \(duplicates.joined(separator: ", "))"))
            default:
                break
            }
        }
        return FormIssue(file: file, line: 1, message: L("YAML 语法错误:\(error)", "YAML syntax error: \(error)"))
    }
}

extension YAMLSource {
    /// `prefill: previous` or `prefill: no` (also true and false).
    func prefill(_ entry: (line: Int, value: Node)?, field: String?) -> Bool? {
        guard let (line, node) = entry, let text = string(node, key: "prefill", field: field) else { return nil }
        switch text.lowercased() {
        case "previous", "true", "yes": return true
        case "no", "false": return false
        default:
            issue(
                line, field,
                L("prefill 应为 previous(沿用上期答案)或 no(每期重新询问)", "prefill must be previous (start from last period's answer) or no (ask again every period)"))
            return nil
        }
    }
}

/// A field as read from YAML, before names are resolved.
private struct RawField {
    var line: Int
    var name: String
    var type: FieldType?
    var entries: YAMLSource.Entries
    var children: [RawField]
}

/// Builds a `Form` from a YAML tree, recording every problem in `source`.
private struct FormBuilder {
    let source: YAMLSource
    let contentHash: String
    var defaultLanguage: Language = .zh

    init(source: YAMLSource, contentHash: String) {
        self.source = source
        self.contentHash = contentHash
    }

    func issue(_ line: Int, _ field: String?, _ message: LocalizedText, column: Int? = nil) {
        source.issue(line, field, message, column: column)
    }

    mutating func build(_ root: Node) -> Form? {
        guard let top = source.entries(root, what: L("表单文件", "the form file"), field: nil, allowed: FormLoader.topKeys) else { return nil }
        for key in ["settings", "survey"] where top[key] == nil {
            issue(top.line, nil, L("缺少 “\(key)” 部分", "the '\(key)' section is missing"))
        }
        guard let settingsNode = top["settings"], let surveyNode = top["survey"] else { return nil }
        let settings = readSettings(settingsNode.value)

        // Choice lists.
        var choiceLists: [String: ChoiceList] = [ChoiceList.yesNoName: .yesNo]
        var choiceListLines: [String: Int] = [:]
        if let choices = top["choices"], let lists = source.entries(choices.value, what: L("choices", "choices"), field: nil) {
            for (name, line, node) in lists.pairs {
                if name == ChoiceList.yesNoName {
                    issue(line, name, L("选项表名 yes_no 为内置,请换一个名称", "the list name yes_no is built in; choose another name"))
                    continue
                }
                choiceListLines[name] = line
                if let list = readChoiceList(name: name, node: node) { choiceLists[name] = list }
            }
        }

        // Fields.
        var rawFields: [RawField] = []
        if case .sequence(let sequence) = surveyNode.value {
            rawFields = sequence.compactMap { readField($0, insideRepeat: false) }
        } else {
            issue(surveyNode.line, nil, L("survey 应为字段列表", "survey must be a list of fields"))
        }
        if rawFields.isEmpty, case .sequence = surveyNode.value {
            issue(surveyNode.line, nil, L("survey 中没有字段", "survey has no fields"))
        }

        var compiler = FieldCompiler(source: source, constants: settings?.constants ?? [], choiceLists: choiceLists, defaultLanguage: defaultLanguage)
        compiler.prefillDefault = settings?.prefill ?? false
        compiler.declare(rawFields, parent: nil, repeatIndex: nil)
        compiler.checkChoiceListsExist()
        compiler.compileAll()
        let plan = compiler.makePlan(outlierFields: settings?.outliers?.settings.fields ?? [])

        var indicators: [Indicator] = []
        if let node = top["indicators"] {
            indicators = readIndicators(node.value, compiler: compiler)
        }

        var charts: [Chart] = []
        if let node = top["charts"] {
            charts = readCharts(node.value, compiler: compiler, indicators: indicators, constants: settings?.constants ?? [])
        }

        let outliers = settings?.outliers.flatMap { compiler.checkOutliers($0) }
        guard let settings, source.issues.isEmpty, let plan else { return nil }
        return Form(
            id: settings.id, version: settings.version, title: settings.title, periodType: settings.periodType,
            unitLevel: settings.unitLevel, defaultLanguage: settings.defaultLanguage, constants: settings.constants, dueDates: settings.dueDates,
            reviewLevels: settings.reviewLevels, outliers: outliers,
            fields: compiler.fields, rootFields: compiler.rootFields, repeats: compiler.repeatFields,
            choiceLists: choiceLists, indicators: indicators, charts: charts, file: source.file, contentHash: contentHash,
            fieldIndex: compiler.indexByName, plan: plan)
    }

    struct Settings {
        var id: String
        var version: String
        var title: LocalizedText
        var periodType: PeriodType
        var unitLevel: UnitLevel
        var defaultLanguage: Language
        var constants: [(name: String, value: Value)]
        var dueDates: [String: Int]
        var reviewLevels: [UnitLevel]
        /// The form's default for `prefill` (`settings.prefill: previous`).
        var prefill: Bool
        var outliers: (line: Int, settings: OutlierSettings)?
    }

    func readPrefill(_ entry: (line: Int, value: Node)?, field: String?) -> Bool? { source.prefill(entry, field: field) }

    /// `settings.outliers`: a list of fields, or `{fields, z_score, change_ratio}`.
    func readOutliers(_ entry: (line: Int, value: Node)?) -> (line: Int, settings: OutlierSettings)? {
        guard let (line, node) = entry else { return nil }
        func names(_ node: Node) -> [String]? {
            guard case .sequence(let sequence) = node, !sequence.isEmpty else {
                issue(YAMLSource.line(node), nil, L("outliers 的 fields 应为字段名列表", "outliers: fields must be a list of field names"))
                return nil
            }
            return sequence.compactMap { source.string($0, key: "outliers", field: nil) }
        }
        if case .sequence = node {
            return names(node).map { (line, OutlierSettings(fields: $0)) }
        }
        guard let entries = source.entries(node, what: L("outliers", "outliers"), field: nil, allowed: FormLoader.outlierKeys) else { return nil }
        guard let (_, fieldsNode) = entries["fields"] else {
            issue(line, nil, L("outliers 缺少 fields", "outliers lacks fields"))
            return nil
        }
        guard let fields = names(fieldsNode) else { return nil }
        var settings = OutlierSettings(fields: fields)
        for (key, minimum) in [("z_score", 0.0), ("change_ratio", 1.0)] {
            guard let (keyLine, valueNode) = entries[key], let text = source.string(valueNode, key: key, field: nil) else { continue }
            let number = Value.parseNumber(text)
            guard number.isFinite, number > minimum else {
                issue(keyLine, nil, L("outliers 的 \(key) 应为大于 \(Value.format(minimum)) 的数", "outliers: \(key) must be a number above \(Value.format(minimum))"))
                continue
            }
            if key == "z_score" { settings.zScore = number } else { settings.changeRatio = number }
        }
        return (line, settings)
    }

    mutating func readSettings(_ node: Node) -> Settings? {
        guard let entries = source.entries(node, what: L("settings", "settings"), field: nil, allowed: FormLoader.settingKeys) else { return nil }
        if let (line, value) = entries["default_language"], let text = source.string(value, key: "default_language", field: nil) {
            if let language = Language(rawValue: text) {
                defaultLanguage = language
            } else {
                issue(line, nil, L("default_language 应为 zh 或 en", "default_language must be zh or en"))
            }
        }
        var id: String?
        var version: String?
        var title: LocalizedText?
        var periodType: PeriodType?
        var unitLevel: UnitLevel?
        for key in ["form_id", "version", "title", "period_type", "unit_level"] where entries[key] == nil {
            issue(entries.line, nil, L("settings 缺少 “\(key)”", "settings lacks '\(key)'"))
        }
        if let (line, value) = entries["form_id"], let text = source.string(value, key: "form_id", field: nil) {
            if FieldName.isValid(text), !text.contains("@") {
                id = text
            } else {
                issue(
                    line, nil,
                    L(
                        "form_id “\(text)” 无效:应以字母或 _ 开头,只含字母、数字、_、-、.",
                        "form_id '\(text)' is not valid: start with a letter or _, then letters, digits, _, - or ."))
            }
        }
        if let (line, value) = entries["version"], let text = source.string(value, key: "version", field: nil) {
            if !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) {
                version = text
            } else {
                issue(line, nil, L("version “\(text)” 无效:只能用字母、数字、. 和 -", "version '\(text)' is not valid: use letters, digits, . and -"))
            }
        }
        if let (_, value) = entries["title"] {
            title = source.localized(value, key: "title", field: nil, defaultLanguage: defaultLanguage)
        }
        if let (line, value) = entries["period_type"], let text = source.string(value, key: "period_type", field: nil) {
            periodType = PeriodType(rawValue: text)
            if periodType == nil {
                issue(line, nil, L("period_type 应为 annual、quarterly 或 monthly", "period_type must be annual, quarterly or monthly"))
            }
        }
        if let (line, value) = entries["unit_level"], let text = source.string(value, key: "unit_level", field: nil) {
            unitLevel = UnitLevel(rawValue: text)
            if unitLevel == nil {
                issue(
                    line, nil,
                    L(
                        "unit_level “\(text)” 无效(可用:\(UnitLevel.allCases.map(\.rawValue).joined(separator: "、")))",
                        "unit_level '\(text)' is not valid (use one of \(UnitLevel.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
        }
        var constants: [(name: String, value: Value)] = []
        if let (_, node) = entries["constants"], let list = source.entries(node, what: L("constants", "constants"), field: nil) {
            for (name, line, valueNode) in list.pairs {
                guard FieldName.isValid(name) else {
                    issue(line, name, L("常量名 “\(name)” 无效", "constant name '\(name)' is not valid"))
                    continue
                }
                guard let text = source.string(valueNode, key: name, field: name) else { continue }
                let number = Value.parseNumber(text)
                constants.append((name, number.isNaN ? .string(text) : .number(number)))
            }
        }
        var dueDates: [String: Int] = [:]
        if let (_, node) = entries["due"], let list = source.entries(node, what: L("due", "due"), field: nil) {
            for (key, line, valueNode) in list.pairs {
                guard let period = Period(key), periodType == nil || period.type == periodType else {
                    issue(line, nil, L("due 的键 “\(key)” 不是本表单的报告期", "due: '\(key)' is not a period of this form"))
                    continue
                }
                guard let text = source.string(valueNode, key: key, field: nil), let day = CivilDate.parse(text) else {
                    issue(line, nil, L("due 的日期应写作 YYYY-MM-DD", "due: the date must be written YYYY-MM-DD"))
                    continue
                }
                dueDates[period.description] = day
            }
        }
        guard let id, let version, let title, let periodType, let unitLevel else { return nil }
        let reviewLevels = readReviewLevels(entries["review"], unitLevel: unitLevel)
        return Settings(
            id: id, version: version, title: title, periodType: periodType, unitLevel: unitLevel, defaultLanguage: defaultLanguage, constants: constants,
            dueDates: dueDates, reviewLevels: reviewLevels, prefill: readPrefill(entries["prefill"], field: nil) ?? false,
            outliers: readOutliers(entries["outliers"]))
    }

    /// `settings.review`: the levels that approve, lowest first, each
    /// above the form's unit level. Without it, the township and the
    /// county approve (those of them above the unit level; the level just
    /// above it when neither is).
    func readReviewLevels(_ entry: (line: Int, value: Node)?, unitLevel: UnitLevel) -> [UnitLevel] {
        let above = { (level: UnitLevel) in level.prefixLength < unitLevel.prefixLength }
        guard let (line, node) = entry else {
            let defaults = [UnitLevel.township, .county].filter(above)
            if !defaults.isEmpty { return defaults }
            return [UnitLevel.province, .city, .county].filter(above).suffix(1)
        }
        let allowed = [UnitLevel.province, .city, .county, .township]
        guard case .sequence(let sequence) = node, !sequence.isEmpty else {
            issue(line, nil, L("review 应为审核层级的列表,如 [township, county]", "review must be a list of levels that approve, such as [township, county]"))
            return []
        }
        var levels: [UnitLevel] = []
        for item in sequence {
            let itemLine = YAMLSource.line(item)
            guard let text = source.string(item, key: "review", field: nil) else { continue }
            guard let level = UnitLevel(rawValue: text), allowed.contains(level) else {
                issue(
                    itemLine, nil,
                    L(
                        "review 的层级 “\(text)” 无效(可用:\(allowed.map(\.rawValue).joined(separator: "、")))",
                        "review: '\(text)' is not a level that approves (use \(allowed.map(\.rawValue).joined(separator: ", ")))"))
                continue
            }
            guard above(level) else {
                issue(
                    itemLine, nil,
                    L(
                        "review 的层级 \(level.rawValue) 不在表单的单位层级 \(unitLevel.rawValue) 之上",
                        "review: \(level.rawValue) is not above the form's unit level, \(unitLevel.rawValue)"))
                continue
            }
            if let last = levels.last, last.prefixLength <= level.prefixLength {
                issue(
                    itemLine, nil,
                    L("review 的层级应从低到高排列,且不重复(如 [township, county])", "review: list the levels from the lowest up, each once (such as [township, county])"))
                continue
            }
            levels.append(level)
        }
        return levels
    }

    func readChoiceList(name: String, node: Node) -> ChoiceList? {
        guard case .sequence(let sequence) = node else {
            issue(YAMLSource.line(node), name, L("选项表应为选项列表", "a choice list must be a list of choices"))
            return nil
        }
        var choices: [Choice] = []
        var seen: [String: Int] = [:]
        for item in sequence {
            // Keys besides name and label are the choice's columns, which a
            // choice_filter reads; one close to name or label is a typo.
            guard let entries = source.entries(item, what: L("选项", "a choice"), field: name) else { continue }
            var properties: [String: String] = [:]
            for (key, line, value) in entries.pairs where !FormLoader.choiceKeys.contains(key) {
                if let near = YAMLSource.closest(key, in: FormLoader.choiceKeys), key.count > 2, YAMLSource.distance(key, near) <= 2 {
                    issue(line, name, L("未知的键 “\(key)”,是否应为 “\(near)”?", "unknown key '\(key)'; did you mean '\(near)'?"))
                    continue
                }
                guard FieldName.isValid(key) else {
                    issue(line, name, L("选项列名 “\(key)” 无效", "choice column name '\(key)' is not valid"))
                    continue
                }
                if let text = source.string(value, key: key, field: name) { properties[key] = text }
            }
            guard let (nameLine, nameNode) = entries["name"], let choiceName = source.string(nameNode, key: "name", field: name) else {
                issue(entries.line, name, L("选项缺少 name", "a choice has no name"))
                continue
            }
            if choiceName.isEmpty || choiceName.contains(where: \.isWhitespace) {
                issue(nameLine, name, L("选项名 “\(choiceName)” 不能为空或含空格", "choice name '\(choiceName)' must not be empty or contain spaces"))
                continue
            }
            if let first = seen[choiceName] {
                issue(nameLine, name, L("选项 “\(choiceName)” 重复(第 \(first) 行已有)", "duplicate choice '\(choiceName)' (first on line \(first))"))
                continue
            }
            seen[choiceName] = nameLine
            guard let (_, labelNode) = entries["label"] else {
                issue(entries.line, name, L("选项 “\(choiceName)” 缺少 label", "choice '\(choiceName)' has no label"))
                continue
            }
            guard let label = source.localized(labelNode, key: "label", field: "\(name).\(choiceName)", defaultLanguage: defaultLanguage) else { continue }
            choices.append(Choice(name: choiceName, label: label, properties: properties))
        }
        if sequence.isEmpty {
            issue(YAMLSource.line(node), name, L("选项表为空", "the choice list is empty"))
        }
        return ChoiceList(name: name, choices: choices)
    }

    func readField(_ node: Node, insideRepeat: Bool) -> RawField? {
        // The name first, so that every problem of the field can name it.
        let declaredName = node.mapping?["name"]?.scalar?.string
        guard let entries = source.entries(node, what: L("字段", "a field"), field: declaredName, allowed: FormLoader.fieldKeys) else { return nil }
        let line = entries.line
        var name = ""
        if let (nameLine, nameNode) = entries["name"], let text = source.string(nameNode, key: "name", field: nil) {
            if FieldName.isValid(text) {
                name = text
            } else {
                issue(
                    nameLine, text,
                    L(
                        "字段名 “\(text)” 无效:应以字母或 _ 开头,只含字母、数字、_、-、.",
                        "field name '\(text)' is not valid: start with a letter or _, then letters, digits, _, - or ."))
            }
        } else if entries["name"] == nil {
            issue(line, nil, L("字段缺少 name", "a field has no name"))
        }
        var type: FieldType?
        if let (typeLine, typeNode) = entries["type"], let text = source.string(typeNode, key: "type", field: name) {
            type = FieldType(parsing: text)
            if type == nil {
                issue(typeLine, name, L("未知类型 “\(text)”", "unknown type '\(text)'"))
            }
        } else if entries["type"] == nil {
            issue(line, name, L("字段缺少 type", "the field has no type"))
        }
        var children: [RawField] = []
        if let (childrenLine, childrenNode) = entries["children"] {
            if type == .group || type == .repeat {
                if type == .repeat && insideRepeat {
                    issue(line, name, L("不支持重复组嵌套", "repeats inside repeats are not supported"))
                }
                if case .sequence(let sequence) = childrenNode {
                    children = sequence.compactMap { readField($0, insideRepeat: insideRepeat || type == .repeat) }
                } else {
                    issue(childrenLine, name, L("children 应为字段列表", "children must be a list of fields"))
                }
            } else if type != nil {
                issue(childrenLine, name, L("只有 group 和 repeat 可以有 children", "only a group or a repeat may have children"))
            }
        }
        if type == .group || type == .repeat, children.isEmpty {
            issue(line, name, L("\(type == .group ? "分组" : "重复组")没有字段", "the \(type == .group ? "group" : "repeat") has no fields"))
        }
        return RawField(line: line, name: name, type: type, entries: entries, children: children)
    }

    func readCharts(_ node: Node, compiler: FieldCompiler, indicators: [Indicator], constants: [(name: String, value: Value)]) -> [Chart] {
        guard case .sequence(let sequence) = node else {
            issue(YAMLSource.line(node), nil, L("charts 应为列表", "charts must be a list"))
            return []
        }
        var charts: [Chart] = []
        for item in sequence {
            guard let entries = source.entries(item, what: L("图表", "a chart"), field: nil, allowed: FormLoader.chartKeys) else { continue }
            let line = entries.line
            guard let (_, titleNode) = entries["title"], let title = source.localized(titleNode, key: "title", field: nil, defaultLanguage: defaultLanguage)
            else {
                issue(line, nil, L("图表缺少 title", "a chart has no title"))
                continue
            }
            guard let (typeLine, typeNode) = entries["type"], let type = source.string(typeNode, key: "type", field: nil) else {
                issue(line, nil, L("图表缺少 type", "a chart has no type"))
                continue
            }
            let allowed: [String: Set<String>] = ["stacked": ["series"], "histogram": ["value", "bins", "mark"], "completeness": []]
            guard let keys = allowed[type] else {
                issue(
                    typeLine, nil,
                    L("未知图表类型 “\(type)”(可用:stacked、histogram、completeness)", "unknown chart type '\(type)' (use stacked, histogram or completeness)"))
                continue
            }
            for key in ["series", "value", "bins", "mark"] where entries[key] != nil && !keys.contains(key) {
                issue(entries[key]!.line, nil, L("\(type) 图表不使用 “\(key)”", "a \(type) chart takes no '\(key)'"))
            }
            func list(_ key: String) -> [(line: Int, text: String)]? {
                guard let (keyLine, listNode) = entries[key] else {
                    issue(line, nil, L("图表缺少 “\(key)”", "the chart has no '\(key)'"))
                    return nil
                }
                guard case .sequence(let items) = listNode else {
                    issue(keyLine, nil, L("“\(key)” 应为列表", "'\(key)' must be a list"))
                    return nil
                }
                return items.compactMap { item in source.string(item, key: key, field: nil).map { (YAMLSource.line(item), $0) } }
            }
            switch type {
            case "stacked":
                guard let series = list("series") else { continue }
                var names: [String] = []
                for (itemLine, name) in series {
                    guard let indicator = indicators.first(where: { $0.name == name }), case .sum = indicator.kind else {
                        issue(itemLine, nil, L("“\(name)” 不是 sum 指标", "'\(name)' is not a sum indicator"))
                        continue
                    }
                    names.append(name)
                }
                if !names.isEmpty { charts.append(Chart(title: title, kind: .stacked(series: names), line: line)) }
            case "histogram":
                guard let (valueLine, valueNode) = entries["value"], let text = source.string(valueNode, key: "value", field: nil) else {
                    issue(line, nil, L("图表缺少 “value”", "the chart has no 'value'"))
                    continue
                }
                let value = compiler.compileExpression(text, line: valueLine, field: "charts", scope: nil)
                guard let bins = list("bins") else { continue }
                let numbers = bins.compactMap { Double($0.text) }
                guard numbers.count == bins.count, numbers.count >= 2, zip(numbers, numbers.dropFirst()).allSatisfy({ $0 < $1 }) else {
                    issue(entries["bins"]!.line, nil, L("bins 应为至少两个递增的数", "bins must be at least two increasing numbers"))
                    continue
                }
                var mark: Double?
                if let (markLine, markNode) = entries["mark"], let text = source.string(markNode, key: "mark", field: nil) {
                    if let number = Double(text) {
                        mark = number
                    } else if text.hasPrefix("${"), text.hasSuffix("}"), let constant = constants.first(where: { "${\($0.name)}" == text }),
                        !constant.value.number.isNaN
                    {
                        mark = constant.value.number
                    } else {
                        issue(markLine, nil, L("mark 应为数字或 ${常量}", "mark must be a number or a ${constant}"))
                    }
                }
                if let value { charts.append(Chart(title: title, kind: .histogram(value: value, bins: numbers, mark: mark), line: line)) }
            default:
                charts.append(Chart(title: title, kind: .completeness, line: line))
            }
        }
        return charts
    }

    func readIndicators(_ node: Node, compiler: FieldCompiler) -> [Indicator] {
        guard case .sequence(let sequence) = node else {
            issue(YAMLSource.line(node), nil, L("indicators 应为列表", "indicators must be a list"))
            return []
        }
        var indicators: [Indicator] = []
        var seen: [String: Int] = [:]
        for item in sequence {
            guard let entries = source.entries(item, what: L("指标", "an indicator"), field: nil, allowed: FormLoader.indicatorKeys) else { continue }
            let line = entries.line
            guard let (_, nameNode) = entries["name"], let name = source.string(nameNode, key: "name", field: nil), FieldName.isValid(name) else {
                issue(line, nil, L("指标缺少有效的 name", "an indicator has no valid name"))
                continue
            }
            if let first = seen[name] {
                issue(line, name, L("指标名 “\(name)” 重复(第 \(first) 行已有)", "duplicate indicator name '\(name)' (first on line \(first))"))
                continue
            }
            seen[name] = line
            guard let (_, labelNode) = entries["label"] else {
                issue(line, name, L("指标缺少 label", "the indicator has no label"))
                continue
            }
            let label = source.localized(labelNode, key: "label", field: name, defaultLanguage: defaultLanguage)
            func expression(_ key: String) -> FormExpression? {
                guard let (keyLine, node) = entries[key] else {
                    issue(line, name, L("缺少 “\(key)”", "'\(key)' is missing"))
                    return nil
                }
                guard let text = source.string(node, key: key, field: name) else { return nil }
                return compiler.compileExpression(text, line: keyLine, field: name, scope: nil)
            }
            var format = IndicatorFormat.number
            if let (formatLine, formatNode) = entries["format"], let text = source.string(formatNode, key: "format", field: name) {
                if let parsed = IndicatorFormat(rawValue: text) {
                    format = parsed
                } else {
                    issue(
                        formatLine, name,
                        L(
                            "未知格式 “\(text)”(可用:\(IndicatorFormat.allCases.map(\.rawValue).joined(separator: "、")))",
                            "unknown format '\(text)' (use one of \(IndicatorFormat.allCases.map(\.rawValue).joined(separator: ", ")))"))
                }
            }
            var scale = 1.0
            if let (scaleLine, scaleNode) = entries["scale"], let text = source.string(scaleNode, key: "scale", field: name) {
                if let value = Double(text), value.isFinite, value > 0 {
                    scale = value
                } else {
                    issue(scaleLine, name, L("scale 应为正数", "scale must be a positive number"))
                }
            }
            let watch = entries["watch"].flatMap { source.bool($0.value, key: "watch", field: name) } ?? false
            var descending = false
            if let (orderLine, orderNode) = entries["order"], let text = source.string(orderNode, key: "order", field: name) {
                switch text {
                case "asc": descending = false
                case "desc": descending = true
                default: issue(orderLine, name, L("order 应为 asc 或 desc", "order must be asc or desc"))
                }
            }
            for key in ["detail", "order"] where entries[key] != nil && !watch {
                issue(entries[key]!.line, name, L("“\(key)” 只用于 watch 指标", "'\(key)' applies only to watch indicators"))
            }
            let detail = entries["detail"] != nil ? expression("detail") : nil
            guard let (typeLine, typeNode) = entries["type"], let typeName = source.string(typeNode, key: "type", field: name) else {
                issue(line, name, L("指标缺少 type", "the indicator has no type"))
                continue
            }
            let allowedKeys: [String: Set<String>] = [
                "sum": ["value"], "average": ["value"], "count": ["condition"], "share": ["condition"],
                "ratio": ["numerator", "denominator", "scale"], "completeness": [],
            ]
            guard let typeKeys = allowedKeys[typeName] else {
                issue(
                    typeLine, name,
                    L(
                        "未知指标类型 “\(typeName)”(可用:sum、average、count、share、ratio、completeness)",
                        "unknown indicator type '\(typeName)' (use sum, average, count, share, ratio or completeness)"))
                continue
            }
            for key in ["value", "condition", "numerator", "denominator", "scale"] where entries[key] != nil && !typeKeys.contains(key) {
                issue(
                    entries[key]!.line, name, L("\(typeName) 指标不使用 “\(key)”", "\(typeName == "average" ? "an" : "a") \(typeName) indicator takes no '\(key)'"))
            }
            if watch && !["count", "share", "completeness"].contains(typeName) {
                issue(
                    entries["watch"]!.line, name, L("只有 count、share 和 completeness 指标可以设 watch", "only count, share and completeness indicators can have watch")
                )
            }
            let kind: Indicator.Kind?
            switch typeName {
            case "sum": kind = expression("value").map(Indicator.Kind.sum)
            case "average": kind = expression("value").map(Indicator.Kind.average)
            case "count": kind = entries["condition"] == nil ? .count(nil) : expression("condition").map { .count($0) }
            case "share": kind = expression("condition").map(Indicator.Kind.share)
            case "ratio":
                let numerator = expression("numerator")
                let denominator = expression("denominator")
                if let numerator, let denominator {
                    kind = .ratio(numerator: numerator, denominator: denominator)
                } else {
                    kind = nil
                }
            default: kind = .completeness
            }
            guard let kind, let label else { continue }
            indicators.append(
                Indicator(
                    name: name, label: label, kind: kind, format: format, scale: scale, watch: watch, detail: detail, descending: descending, line: line))
        }
        return indicators
    }
}

/// Resolves names, binds expressions, checks each field and orders the
/// computations.
private struct FieldCompiler {
    let source: YAMLSource
    let constants: [(name: String, value: Value)]
    let choiceLists: [String: ChoiceList]
    var fields: [Field] = []
    var rootFields: [Int] = []
    var repeatFields: [Int] = []
    var indexByName: [String: Int] = [:]
    private var raw: [RawField] = []
    private var parents: [Int?] = []
    private var childIndices: [[Int]] = []
    private var repeatOf: [Int?] = []
    private var ownRepeat: [Int?] = []
    private var slots: [Int] = []
    private var topSlots = 0
    private var repeatSlots: [Int] = []
    /// The form's `prefill` default, and each field's own after groups and repeats pass theirs down.
    var prefillDefault = false
    private var prefills: [Bool] = []
    private var warningNames: [String: Int] = [:]

    let defaultLanguage: Language

    init(source: YAMLSource, constants: [(name: String, value: Value)], choiceLists: [String: ChoiceList], defaultLanguage: Language) {
        self.source = source
        self.constants = constants
        self.choiceLists = choiceLists
        self.defaultLanguage = defaultLanguage
    }

    func issue(_ line: Int, _ field: String?, _ message: LocalizedText, column: Int? = nil) {
        source.issue(line, field, message, column: column)
    }

    /// Gives every field an index and a slot, and checks names are unique.
    mutating func declare(_ items: [RawField], parent: Int?, repeatIndex: Int?) {
        for item in items {
            let index = raw.count
            raw.append(item)
            parents.append(parent)
            childIndices.append([])
            if let parent { childIndices[parent].append(index) } else { rootFields.append(index) }
            repeatOf.append(repeatIndex)
            ownRepeat.append(nil)
            let inherited = parent.map { prefills[$0] } ?? prefillDefault
            prefills.append(readPrefill(item.entries["prefill"], field: item.name) ?? inherited)
            if let repeatIndex {
                slots.append(repeatSlots[repeatIndex])
                repeatSlots[repeatIndex] += 1
            } else {
                slots.append(topSlots)
                topSlots += 1
            }
            if !item.name.isEmpty {
                if let first = indexByName[item.name] {
                    issue(
                        item.line, item.name,
                        L("字段名 “\(item.name)” 重复(第 \(raw[first].line) 行已有)", "duplicate field name '\(item.name)' (first on line \(raw[first].line))"))
                } else if constants.contains(where: { $0.name == item.name }) {
                    issue(
                        item.line, item.name,
                        L("字段名 “\(item.name)” 与 settings.constants 中的常量同名", "field name '\(item.name)' is also the name of a constant in settings.constants"))
                } else {
                    indexByName[item.name] = index
                }
            }
            if item.type == .repeat, repeatIndex == nil {
                let newRepeat = repeatSlots.count
                repeatSlots.append(0)
                repeatFields.append(index)
                ownRepeat[index] = newRepeat
                declare(item.children, parent: index, repeatIndex: newRepeat)
            } else {
                declare(item.children, parent: index, repeatIndex: repeatIndex)
            }
        }
    }

    func readPrefill(_ entry: (line: Int, value: Node)?, field: String?) -> Bool? { source.prefill(entry, field: field) }

    /// The soft checks of a field (`warnings:`), each with a name unique in
    /// the form, a condition and a message.
    mutating func readWarnings(_ entry: (line: Int, value: Node)?, field name: String, type: FieldType, scope: Int?) -> [SoftCheck] {
        guard let (line, node) = entry else { return [] }
        guard type.holdsValue, type != .calculate else {
            issue(line, name, L("只有需要回答的题目可以设 warnings", "only a question that is answered can have warnings"))
            return []
        }
        guard case .sequence(let sequence) = node else {
            issue(line, name, L("warnings 应为列表,每项含 name、when 和 message", "warnings must be a list, each with name, when and message"))
            return []
        }
        var checks: [SoftCheck] = []
        for item in sequence {
            guard let entries = source.entries(item, what: L("警示", "a warning"), field: name, allowed: FormLoader.warningKeys) else { continue }
            for key in ["name", "when", "message"] where entries[key] == nil {
                issue(entries.line, name, L("警示缺少 \(key)", "a warning lacks \(key)"))
            }
            guard let (nameLine, nameNode) = entries["name"], let checkName = source.string(nameNode, key: "name", field: name) else { continue }
            guard FieldName.isValid(checkName) else {
                issue(nameLine, name, L("警示名 “\(checkName)” 无效", "warning name '\(checkName)' is not valid"))
                continue
            }
            if let first = warningNames[checkName] {
                issue(nameLine, name, L("警示名 “\(checkName)” 重复(第 \(first) 行已有)", "duplicate warning name '\(checkName)' (first on line \(first))"))
                continue
            }
            warningNames[checkName] = nameLine
            guard let (whenLine, whenNode) = entries["when"], let text = source.string(whenNode, key: "when", field: name),
                let condition = compileExpression(text, line: whenLine, field: name, scope: scope),
                let (_, messageNode) = entries["message"],
                let message = source.localized(messageNode, key: "message", field: name, defaultLanguage: defaultLanguage)
            else { continue }
            checks.append(SoftCheck(name: checkName, condition: condition, message: message, line: entries.line))
        }
        return checks
    }

    /// The screened fields must be top-level numbers, each named once.
    func checkOutliers(_ entry: (line: Int, settings: OutlierSettings)) -> OutlierSettings? {
        var seen = Set<String>()
        var valid = true
        for name in entry.settings.fields {
            guard let index = indexByName[name] else {
                issue(entry.line, nil, L("outliers 中的字段 “\(name)” 不存在", "outliers: there is no field '\(name)'"))
                valid = false
                continue
            }
            let field = fields.indices.contains(index) ? fields[index] : nil
            let numeric = field.map { $0.type.isNumeric || ($0.type == .calculate && ($0.dataType == .integer || $0.dataType == .decimal)) } ?? false
            if !numeric || repeatOf[index] != nil {
                issue(entry.line, name, L("outliers 只能列顶层的数字题或数字计算项,“\(name)” 不是", "outliers lists top-level numbers only; '\(name)' is not one"))
                valid = false
            }
            if !seen.insert(name).inserted {
                issue(entry.line, name, L("outliers 中 “\(name)” 重复", "outliers names '\(name)' twice"))
                valid = false
            }
        }
        return valid ? entry.settings : nil
    }

    func resolve(_ name: String) -> Symbol? {
        if let index = indexByName[name] {
            if let position = ownRepeat[index] { return .repeatGroup(position) }
            if let repeatIndex = repeatOf[index] { return .inner(repeat: repeatIndex, slot: slots[index]) }
            return .top(slot: slots[index])
        }
        if let constant = constants.first(where: { $0.name == name }) { return .constant(constant.value) }
        return nil
    }

    /// The choice list of the select question called `name`.
    func choiceList(ofField name: String) -> ChoiceList? {
        indexByName[name].flatMap { raw[$0].type?.choiceList }.flatMap { choiceLists[$0] }
    }

    /// Parses and binds one expression, reporting problems at its line.
    /// With `choices`, a bare name is a column of that list (`choice_filter`).
    func compileExpression(_ text: String, line: Int, field: String, scope: Int?, choices: ChoiceList? = nil) -> FormExpression? {
        let tree: SyntaxTree
        do {
            tree = try ExpressionParser.parse(text, choiceColumns: choices != nil)
        } catch {
            issue(
                line, field, L("表达式 “\(text)” 有误:\(error.message.zh)", "expression '\(text)' does not parse: \(error.message.en ?? error.message.zh)"),
                column: error.column)
            return nil
        }
        var binder = ExpressionBinder(scope: scope, resolve: resolve)
        binder.choiceColumns = choices?.columnNames
        binder.choiceList = { name in self.choiceList(ofField: name) }
        let (bound, errors) = binder.bind(tree)
        for error in errors {
            issue(line, field, L("表达式 “\(text)”:\(error.message.zh)", "expression '\(text)': \(error.message.en ?? error.message.zh)"), column: error.column)
        }
        return errors.isEmpty ? FormExpression(source: text, bound: bound, references: tree.references, previousReferences: tree.previousReferences) : nil
    }

    func checkChoiceListsExist() {
        for item in raw {
            guard let list = item.type?.choiceList else { continue }
            if choiceLists[list] == nil {
                let line = item.entries["type"]?.line ?? item.line
                issue(line, item.name, L("选项表 “\(list)” 不存在", "choice list '\(list)' does not exist"))
            }
        }
    }

    /// Builds every `Field`, checking each key against the field's type.
    mutating func compileAll() {
        for (index, item) in raw.enumerated() {
            fields.append(compileField(index, item))
        }
    }

    private mutating func compileField(_ index: Int, _ item: RawField) -> Field {
        let name = item.name
        let entries = item.entries
        let type = item.type ?? .text
        let scope = type == .repeat ? nil : repeatOf[index]
        func text(_ key: String) -> (line: Int, text: String)? {
            guard let (line, node) = entries[key], let value = source.string(node, key: key, field: name) else { return nil }
            return (line, value)
        }
        func localized(_ key: String) -> LocalizedText? {
            entries[key].flatMap { source.localized($0.value, key: key, field: name, defaultLanguage: defaultLanguage) }
        }
        func expression(_ key: String) -> FormExpression? {
            guard let (line, value) = text(key) else { return nil }
            return compileExpression(value, line: line, field: name, scope: scope)
        }
        func forbid(_ keys: [String], _ why: LocalizedText) {
            for key in keys where entries[key] != nil {
                issue(entries[key]!.line, name, L("\(type) 类型的字段不能有 “\(key)”:\(why.zh)", "\("aeiou".contains(type.description.prefix(1)) ? "an" : "a") \(type) field cannot have '\(key)': \(why.en ?? why.zh)"))
            }
        }

        let label = localized("label")
        if label == nil, entries["label"] == nil, type != .calculate {
            issue(item.line, name, L("缺少 label(至少要有中文 zh)", "the field has no label (a Chinese zh label is required)"))
        }
        var requirement = Requirement.optional
        if let (line, value) = text("required") {
            if let flag = YAMLSource.boolean(value) {
                requirement = flag ? .required : .optional
            } else if let compiled = compileExpression(value, line: line, field: name, scope: scope) {
                requirement = .when(compiled)
            }
        }
        let readOnly = entries["read_only"].flatMap { source.bool($0.value, key: "read_only", field: name) } ?? false
        let calculation = expression("calculation")
        let constraint = expression("constraint")
        var dataType: DataType?
        if let (line, value) = text("data_type") {
            dataType = DataType(rawValue: value)
            if dataType == nil {
                issue(
                    line, name,
                    L(
                        "data_type “\(value)” 无效(可用:\(DataType.allCases.map(\.rawValue).joined(separator: "、")))",
                        "data_type '\(value)' is not valid (use one of \(DataType.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
        }

        // Keys that do not fit the type.
        switch type {
        case .note:
            forbid(
                ["constraint", "constraint_message", "required", "required_message", "calculation", "default", "min", "max", "data_type"],
                L("说明不接受回答", "a note takes no answer"))
        case .group:
            forbid(
                [
                    "constraint", "constraint_message", "required", "required_message", "calculation", "default", "min", "max", "data_type", "read_only",
                    "measure",
                ], L("分组本身没有答案", "a group holds no answer itself"))
        case .repeat:
            forbid(
                [
                    "constraint", "constraint_message", "required", "required_message", "calculation", "default", "min", "max", "data_type", "read_only",
                    "measure",
                ], L("请对重复组里的字段设置", "set it on the fields inside the repeat"))
        case .calculate:
            if calculation == nil, entries["calculation"] == nil {
                issue(item.line, name, L("calculate 字段缺少 calculation", "a calculate field needs a calculation"))
            }
            forbid(["required", "required_message", "constraint", "constraint_message", "default"], L("计算值由表达式得出", "its value comes from the calculation"))
        default:
            if dataType != nil {
                issue(entries["data_type"]!.line, name, L("只有 calculate 字段可以设 data_type", "only a calculate field can have data_type"))
            }
        }
        if type != .repeat {
            forbid(["min_count", "max_count", "repeat_count"], L("只有重复组有条目数", "only a repeat has a count of entries"))
        }
        if entries["constraint_message"] != nil, entries["constraint"] == nil {
            issue(entries["constraint_message"]!.line, name, L("有 constraint_message 却没有 constraint", "constraint_message without a constraint"))
        }
        if entries["required_message"] != nil, entries["required"] == nil {
            issue(entries["required_message"]!.line, name, L("有 required_message 却没有 required", "required_message without required"))
        }

        // Limits.
        var minimum: Limit?
        var maximum: Limit?
        for key in ["min", "max"] {
            guard let (line, value) = text(key) else { continue }
            var limit: Limit?
            switch type {
            case .integer, .decimal:
                let number = Value.parseNumber(value)
                if number.isNaN {
                    issue(line, name, L("\(key) 应为数字,而不是 “\(value)”", "\(key) must be a number, not '\(value)'"))
                } else {
                    limit = .number(number)
                }
            case .date:
                if value == "today" {
                    limit = .today
                } else if let days = CivilDate.parse(value) {
                    limit = .date(days)
                } else {
                    issue(line, name, L("\(key) 应为 YYYY-MM-DD 格式的日期或 today", "\(key) must be a date as YYYY-MM-DD, or today"))
                }
            default:
                issue(line, name, L("只有数字和日期字段可以设 \(key)", "only number and date fields can have \(key)"))
            }
            if key == "min" { minimum = limit } else { maximum = limit }
        }
        if case .number(let low)? = minimum, case .number(let high)? = maximum, low > high {
            issue(
                entries["max"]!.line, name,
                L("max(\(Value.format(high)))小于 min(\(Value.format(low)))", "max (\(Value.format(high))) is below min (\(Value.format(low)))"))
        }
        if case .date(let low)? = minimum, case .date(let high)? = maximum, low > high {
            issue(entries["max"]!.line, name, L("max 早于 min", "max is before min"))
        }

        // Repeat bounds.
        var minCount = 0
        var maxCount: Int?
        if type == .repeat {
            if let (line, node) = entries["min_count"], let value = source.integer(node, key: "min_count", field: name) {
                if value < 0 { issue(line, name, L("min_count 不能为负数", "min_count cannot be negative")) } else { minCount = value }
            }
            if let (line, node) = entries["max_count"], let value = source.integer(node, key: "max_count", field: name) {
                if value < 1 {
                    issue(line, name, L("max_count 至少为 1", "max_count must be at least 1"))
                } else if value < minCount {
                    issue(line, name, L("max_count(\(value))小于 min_count(\(minCount))", "max_count (\(value)) is below min_count (\(minCount))"))
                } else {
                    maxCount = value
                }
            }
        }

        // Cascading selects: which choices are offered.
        var choiceFilter: FormExpression?
        if let (line, value) = text("choice_filter") {
            switch type {
            case .selectOne(let list), .selectMultiple(let list):
                if let choices = choiceLists[list] { choiceFilter = compileExpression(value, line: line, field: name, scope: scope, choices: choices) }
            default:
                issue(line, name, L("只有选择题可以设 choice_filter", "only a select question can have choice_filter"))
            }
        }

        // Default value.
        var defaultValue: Value?
        if let (line, value) = text("default") {
            switch AnswerReader.read(.string(value), type: type, choices: type.choiceList.flatMap { choiceLists[$0] }) {
            case .success(let parsed): defaultValue = parsed
            case .failure(let problem):
                issue(line, name, L("默认值 “\(value)” 无效:\(problem.zh)", "default '\(value)' is not valid: \(problem.en ?? problem.zh)"))
            }
        }
        if readOnly, calculation == nil, defaultValue == nil, type.holdsValue {
            issue(entries["read_only"]!.line, name, L("只读字段需要 default 或 calculation", "a read-only field needs a default or a calculation"))
        }

        return Field(
            name: name, type: type, label: label, hint: localized("hint"), measure: localized("measure"),
            requirement: requirement, requiredMessage: localized("required_message"), relevant: expression("relevant"),
            constraint: constraint, constraintMessage: localized("constraint_message"), calculation: calculation,
            dataType: dataType, defaultValue: defaultValue, readOnly: readOnly, minimum: minimum, maximum: maximum,
            minCount: minCount, maxCount: maxCount, children: childIndices[index], parent: parents[index],
            repeatIndex: repeatOf[index], repeatPosition: ownRepeat[index], slot: slots[index], line: item.line,
            choices: type.choiceList.flatMap { choiceLists[$0] },
            warnings: readWarnings(entries["warnings"], field: name, type: type, scope: scope), prefill: prefills[index],
            choiceFilter: choiceFilter, repeatCount: type == .repeat ? expression("repeat_count") : nil)
    }

    /// Orders relevance and calculations so that each runs after what it
    /// reads, and reports cycles.
    func makePlan(outlierFields: [String] = []) -> ValidationPlan? {
        guard fields.count == raw.count else { return nil }
        var builder = PlanBuilder(fields: fields, indexByName: indexByName, repeatFields: repeatFields, topSlots: topSlots, repeatSlots: repeatSlots)
        builder.outlierFields = outlierFields
        let plan = builder.build()
        for cycle in builder.cycles {
            let names = cycle.map { fields[$0].name }
            let first = fields[cycle[0]]
            issue(
                first.line, first.name,
                L(
                    "计算或显示条件形成循环:\(names.joined(separator: " → ")) → \(names[0])",
                    "calculations or relevance conditions form a cycle: \(names.joined(separator: " → ")) → \(names[0])"))
        }
        return builder.cycles.isEmpty ? plan : nil
    }
}
