import SurveyCore

/// Shows a form's questions the way a person reads them on paper.
struct FormPresenter {
    let form: Form
    let console: Console

    private var zh: Bool { console.language == .zh }

    func show() {
        let language = console.language
        console.out(console.bold("\(form.title.text(language))") + console.dim("  \(form.id)@\(form.version)"))
        let period = Self.periodName(form.periodType, language)
        console.out(console.text(L("填报单位:\(form.unitLevel.label.zh)  报告期:\(period)", "Filled per \(form.unitLevel.rawValue), \(period) periods")))
        for constant in form.constants {
            console.out(console.dim(console.text(L("常量 \(constant.name) = \(constant.value.string)", "constant \(constant.name) = \(constant.value.string)"))))
        }
        var number = 0
        for index in form.rootFields { show(index, depth: 0, number: &number) }
        showIndicators()
    }

    static func periodName(_ type: PeriodType, _ language: Language) -> String {
        switch (type, language) {
        case (.annual, .zh): return "年度"
        case (.quarterly, .zh): return "季度"
        case (.monthly, .zh): return "月度"
        default: return type.rawValue
        }
    }

    private func showIndicators() {
        guard !form.indicators.isEmpty else { return }
        console.out()
        console.out(console.bold(console.text(L("汇总指标", "Indicators"))))
        for indicator in form.indicators {
            var line = "  " + indicator.label.text(console.language) + console.dim("  \(indicator.name)")
            let definition: String
            switch indicator.kind {
            case .sum(let value): definition = "sum(\(value.source))"
            case .average(let value): definition = "average(\(value.source))"
            case .count(let condition): definition = "count(\(condition?.source ?? ""))"
            case .share(let condition): definition = "share(\(condition.source))"
            case .ratio(let numerator, let denominator):
                definition = "sum(\(numerator.source)) / sum(\(denominator.source))" + (indicator.scale == 1 ? "" : " × \(Value.format(indicator.scale))")
            case .completeness: definition = zh ? "已报送 / 名录中的单位" : "reported / units in the registry"
            }
            line += console.dim("  = " + definition)
            if indicator.watch { line += "  " + console.text(L("[关注名单]", "[watch list]")) }
            console.out(line)
        }
    }

    private func show(_ index: Int, depth: Int, number: inout Int) {
        let field = form.fields[index]
        let indent = String(repeating: "  ", count: depth)
        let label = field.label?.text(console.language) ?? field.name
        switch field.type {
        case .group:
            console.out()
            console.out(indent + console.bold(label))
            if let relevant = field.relevant { console.out(indent + console.dim(condition(relevant))) }
            for child in field.children { show(child, depth: depth + 1, number: &number) }
            return
        case .repeat:
            console.out()
            let bounds = field.maxCount.map { "\(field.minCount)–\($0)" } ?? "≥\(field.minCount)"
            console.out(indent + console.bold(label) + "  " + console.text(L("(重复组,\(bounds) 条)", "(repeat, \(bounds) entries)")))
            if let hint = field.hint { console.out(indent + "  " + console.dim(hint.text(console.language))) }
            for child in field.children { show(child, depth: depth + 1, number: &number) }
            return
        case .note:
            console.out(indent + "※ " + label)
            return
        default:
            break
        }
        var line = indent
        if field.isComputed {
            line += "= " + label
        } else {
            number += 1
            line += "\(number). " + label
        }
        if let measure = field.measure { line += zh ? "(\(measure.zh))" : " (\(measure.text(.en)))" }
        var tags: [String] = [typeName(field)]
        switch field.requirement {
        case .required: tags.append(zh ? "必答" : "required")
        case .when(let expression): tags.append((zh ? "必答条件:" : "required when ") + expression.source)
        case .optional: break
        }
        if let minimum = field.minimum { tags.append("≥ " + limit(minimum)) }
        if let maximum = field.maximum { tags.append("≤ " + limit(maximum)) }
        line += console.dim("  [" + tags.joined(separator: zh ? "," : ", ") + "]")
        console.out(line)
        let detail = indent + "   "
        if let hint = field.hint { console.out(detail + console.dim(hint.text(console.language))) }
        if let choices = form.choices(for: field), field.type != .yesNo {
            for (offset, choice) in choices.choices.enumerated() {
                console.out(detail + "\(offset + 1)) " + choice.label.text(console.language) + console.dim("  \(choice.name)"))
            }
        }
        if let filter = field.choiceFilter {
            console.out(detail + console.dim((zh ? "只列出符合条件的选项:" : "offers only the choices where: ") + filter.source))
        }
        if let relevant = field.relevant { console.out(detail + console.dim(condition(relevant))) }
        if let message = field.requiredMessage {
            console.out(detail + console.dim((zh ? "未答提示:" : "if unanswered: ") + message.text(console.language)))
        }
        if let calculation = field.calculation {
            console.out(detail + console.dim((zh ? "计算:" : "calculated: ") + calculation.source))
        }
        if let constraint = field.constraint {
            let message = field.constraintMessage?.text(console.language) ?? constraint.source
            console.out(detail + console.dim((zh ? "规则:" : "rule: ") + message + "  (\(constraint.source))"))
        }
    }

    private func limit(_ limit: Limit) -> String {
        if case .today = limit { return zh ? "今天" : "today" }
        return limit.description
    }

    private func condition(_ expression: FormExpression) -> String {
        (zh ? "显示条件:" : "asked when: ") + expression.source
    }

    private func typeName(_ field: Field) -> String {
        switch field.type {
        case .integer: return zh ? "整数" : "whole number"
        case .decimal: return zh ? "数字" : "number"
        case .text: return zh ? "文字" : "text"
        case .date: return zh ? "日期" : "date"
        case .selectOne: return zh ? "单选" : "choose one"
        case .selectMultiple: return zh ? "多选" : "choose any"
        case .yesNo: return zh ? "是/否" : "yes/no"
        case .calculate: return zh ? "自动计算" : "calculated"
        case .note, .group, .repeat: return field.type.description
        }
    }
}
