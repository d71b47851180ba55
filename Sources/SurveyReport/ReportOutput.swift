import Foundation
import SurveyCore
import SurveySQL

extension Report {
    /// A figure as shown: the indicator's format, or "—" when there is none.
    public func shown(_ value: Double?, _ indicator: Indicator, _ language: Language) -> String {
        guard let value else { return "—" }
        return indicator.format.render(value, language: language)
    }

    /// A change as shown: percentage points for percentages, else the
    /// indicator's format with a sign.
    public func shownChange(_ change: Double?, _ indicator: Indicator, _ language: Language) -> String {
        guard let change, change.isFinite else { return "" }
        let sign = change > 0 ? "+" : (change < 0 ? "-" : "±")
        if indicator.format == .percent {
            return sign + String(format: "%.1f", abs(change) * 100) + (language == .zh ? " 个百分点" : " pp")
        }
        return sign + indicator.format.render(abs(change), language: language)
    }

    func completenessText(_ row: Row) -> String {
        "\(row.reported)/\(row.expected)"
    }

    /// The header and rows of the indicator table: one column per row unit
    /// and the total, one line per indicator (indicators are many, units few).
    public func tableLines(_ language: Language) -> (header: [String], lines: [[String]]) {
        let en = language == .en
        var header = [en ? "indicator" : "指标"]
        header += rows.map(\.name)
        header.append(en ? "total" : "合计")
        if previousPeriod != nil { header.append(en ? "change since \(previousPeriod!)" : "较 \(previousPeriod!) 变化") }
        var lines: [[String]] = []
        var reportedLine = [en ? "reported / expected" : "已报送/应报送"]
        reportedLine += rows.map(completenessText)
        reportedLine.append(completenessText(total))
        if previousPeriod != nil { reportedLine.append("") }
        lines.append(reportedLine)
        if due != nil {
            var onTime = [en ? "on time" : "按时报送"]
            onTime += rows.map { String($0.onTime ?? 0) }
            onTime.append(String(total.onTime ?? 0))
            if previousPeriod != nil { onTime.append("") }
            lines.append(onTime)
        }
        // A unit with nothing reported has no figures: it says so rather than showing zeros.
        let notReported = en ? "not reported" : "未报送"
        for (index, indicator) in form.indicators.enumerated() {
            var line = [indicator.label.text(language)]
            let counted: Bool = if case .completeness = indicator.kind { true } else { false }
            line += rows.map { $0.reported == 0 && !counted ? notReported : shown($0.values[index], indicator, language) }
            line.append(total.reported == 0 && !counted ? notReported : shown(total.values[index], indicator, language))
            if previousPeriod != nil { line.append(shownChange(total.changes[index], indicator, language)) }
            lines.append(line)
        }
        return (header, lines)
    }

    /// The report as text for a terminal `width` columns wide: the table
    /// with Chinese aligned by display width (its unit columns in parts
    /// that fit the width, each with the indicators' column, so that no
    /// line wraps), then the units not reported and each watch list.
    public func text(_ language: Language, width: Int = 100) -> String {
        let en = language == .en
        var out = ""
        let title = form.title.text(language)
        out += en ? "\(title) — \(scopeName) (\(scope)), \(period)\n" : "\(title) — \(scopeName)(\(scope)),\(period)\n"
        if let due { out += (en ? "due: " : "截止日期:") + CivilDate.format(days: due) + "\n" }
        out += "\n"
        let (header, lines) = tableLines(language)
        let parts = Self.columnParts([header] + lines, width: width)
        for (number, columns) in parts.enumerated() {
            if parts.count > 1 {
                out += (en ? "(part \(number + 1) of \(parts.count))" : "(第 \(number + 1)/\(parts.count) 部分)") + "\n"
            }
            out += Self.aligned(([header] + lines).map { line in columns.map { $0 < line.count ? line[$0] : "" } })
            out += "\n"
        }
        out += (en ? "Not reported: \(missingCount)" : "未报送:\(missingCount) 个") + "\n"
        for unit in missing { out += "  \(unit.code) \(unit.group.isEmpty ? "" : unit.group + " ")\(unit.name)\n" }
        if missing.count < missingCount { out += en ? "  … and \(missingCount - missing.count) more\n" : "  ……另有 \(missingCount - missing.count) 个\n" }
        for list in watchLists {
            out += "\n" + list.indicator.label.text(language) + (en ? ": \(list.count)" : ":\(list.count) 个") + "\n"
            let detailLabel = list.indicator.detail?.source
            for (unit, detail) in list.units {
                var line = "  \(unit.code) \(unit.group.isEmpty ? "" : unit.group + " ")\(unit.name)"
                if detailLabel != nil, detail != .null { line += "  " + detailShown(detail, list.indicator, language) }
                out += line + "\n"
            }
            if list.units.count < list.count {
                out += en ? "  … and \(list.count - list.units.count) more\n" : "  ……另有 \(list.count - list.units.count) 个\n"
            }
        }
        if let quality { out += "\n" + quality.text(form: form, language) }
        return out
    }

    /// A watch list's detail as the table shows such figures: with
    /// separators, and as money (`82,000 元`) when the detail is a field
    /// measured in 元.
    func detailShown(_ value: SQLValue, _ indicator: Indicator, _ language: Language) -> String {
        let number: Double? =
            switch value {
            case .integer(let integer): Double(integer)
            case .real(let real): real
            default: nil
            }
        guard let number else { return Self.detailText(value) }
        if let references = indicator.detail?.references, references.count == 1, let field = form.field(named: references[0]),
            field.measure?.zh == "元"
        {
            return IndicatorFormat.yuan.render(number, language: language)
        }
        return number == number.rounded() ? IndicatorFormat.grouped(number) : IndicatorFormat.number.render(number, language: language)
    }

    static func detailText(_ value: SQLValue) -> String {
        switch value {
        case .null: return ""
        case .integer(let integer): return String(integer)
        case .real(let real): return Value.format(real)
        case .text(let text): return text.trimmingCharacters(in: .whitespaces)
        }
    }

    /// The table's columns in parts no wider than `width` when aligned:
    /// each part starts with the first column (the indicators), and the
    /// other columns follow in order, as many as fit (at least one).
    public static func columnParts(_ table: [[String]], width: Int) -> [[Int]] {
        guard let columns = table.map(\.count).max(), columns > 1 else { return [Array(0..<(table.map(\.count).max() ?? 0))] }
        var widths = Array(repeating: 0, count: columns)
        for line in table { for (index, cell) in line.enumerated() { widths[index] = max(widths[index], DisplayWidth.of(cell)) } }
        var parts: [[Int]] = []
        var current = [0]
        var used = widths[0]
        for column in 1..<columns {
            if current.count > 1, used + 2 + widths[column] > width {
                parts.append(current)
                current = [0]
                used = widths[0]
            }
            current.append(column)
            used += 2 + widths[column]
        }
        parts.append(current)
        return parts
    }

    public static func aligned(_ table: [[String]]) -> String {
        guard let columns = table.map(\.count).max() else { return "" }
        var widths = Array(repeating: 0, count: columns)
        for line in table { for (index, cell) in line.enumerated() { widths[index] = max(widths[index], DisplayWidth.of(cell)) } }
        var out = ""
        for line in table {
            let cells = line.enumerated().map { index, cell in DisplayWidth.pad(cell, to: widths[index], right: index > 0) }
            out += cells.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        return out
    }

    /// What a report's CSV header says: labels in the language, for people
    /// (percentages as percent: 94.12), or names, for programs (ratios as
    /// fractions: 0.9412).
    public enum CSVHeaders: String, Sendable, CaseIterable { case labels, names }

    /// CSV, UTF-8 with a byte-order mark so that spreadsheet programs read
    /// the Chinese: one line per unit (and the total), one column per
    /// indicator, figures as plain numbers.
    public func csv(_ language: Language, headers: CSVHeaders = .labels) -> String {
        let en = language == .en
        let labels = headers == .labels
        func percent(_ indicator: Indicator) -> Bool { labels && indicator.format == .percent }
        var header =
            labels
            ? [en ? "Unit code" : "单位代码", en ? "Unit" : "单位名称", en ? "Expected" : "应报送", en ? "Reported" : "已报送"]
            : ["unit", en ? "name" : "名称", "expected", "reported"]
        if due != nil { header.append(labels ? (en ? "On time" : "按时报送") : "on_time") }
        header += form.indicators.map { indicator in
            labels ? CSV.text(indicator.label.text(language)) + (percent(indicator) ? "(%)" : "") : indicator.name
        }
        var lines = [header]
        for row in rows + [total] {
            // Unit names come from a registry file: one that a spreadsheet
            // would run as a formula is written as text.
            var line = [row.unit, CSV.text(row.name), String(row.expected), String(row.reported)]
            if due != nil { line.append(String(row.onTime ?? 0)) }
            // Nothing reported: empty cells, not zeros a spreadsheet would add up.
            line += zip(form.indicators, row.values).map { indicator, value in
                let shown = value.map { percent(indicator) ? Self.number(($0 * 10_000).rounded() / 100) : Self.number($0) } ?? ""
                if case .completeness = indicator.kind { return shown }
                return row.reported == 0 ? "" : shown
            }
            lines.append(line)
        }
        return "\u{FEFF}" + lines.map { CSV.line($0) }.joined()
    }

    /// The data-quality section as CSV, its own table (a report's CSV is
    /// one table, for programs): a line per row unit and the total. Empty
    /// but for the header when the report has no such section.
    public func qualityCSV(_ language: Language) -> String {
        let lines = quality?.csvLines(language) ?? [QualitySection.headers(language)]
        return "\u{FEFF}" + lines.map { CSV.line($0) }.joined()
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.6f", value).replacingOccurrences(of: "0+$", with: "", options: .regularExpression)
    }

    /// The report as JSON: figures as numbers (null when there is none),
    /// with each indicator's label and format so that a client can show them.
    public func json(_ language: Language) -> JSONValue {
        func figure(_ value: Double?) -> JSONValue {
            guard let value, value.isFinite else { return .null }
            if value == value.rounded(), abs(value) < 9e15 { return .integer(Int(value)) }
            return .number(value)
        }
        func row(_ row: Row) -> JSONValue {
            var object: JSONObject = [
                "unit": .string(row.unit), "name": .string(row.name), "expected": .integer(row.expected), "reported": .integer(row.reported),
            ]
            if let onTime = row.onTime { object["on_time"] = .integer(onTime) }
            var values = JSONObject()
            var changes = JSONObject()
            for (index, indicator) in form.indicators.enumerated() {
                values[indicator.name] = figure(row.values[index])
                if previousPeriod != nil { changes[indicator.name] = figure(row.changes[index]) }
            }
            object["values"] = .object(values)
            if previousPeriod != nil { object["changes"] = .object(changes) }
            return .object(object)
        }
        func unit(_ unit: Unit) -> JSONValue { ["unit": .string(unit.code), "name": .string(unit.name), "group": .string(unit.group)] }
        func detail(_ value: SQLValue) -> JSONValue {
            switch value {
            case .null: return .null
            case .integer(let integer): return .integer(Int(integer))
            case .real(let real): return .number(real)
            case .text(let text): return .string(text.trimmingCharacters(in: .whitespaces))
            }
        }
        let indicators: [JSONValue] = form.indicators.map { indicator in
            [
                "name": .string(indicator.name), "label": .string(indicator.label.text(language)), "type": .string(indicator.kindName),
                "format": .string(indicator.format.rawValue),
            ]
        }
        let watch: [JSONValue] = watchLists.map { list in
            [
                "indicator": .string(list.indicator.name), "label": .string(list.indicator.label.text(language)), "count": .integer(list.count),
                "units": .array(
                    list.units.map { entry in
                        var object = unit(entry.unit).objectValue ?? JSONObject()
                        object["detail"] = detail(entry.detail)
                        return .object(object)
                    }),
            ]
        }
        var object: JSONObject = [
            "form": ["id": .string(form.id), "version": .string(form.version), "title": .string(form.title.text(language))],
            "scope": ["unit": .string(scope), "name": .string(scopeName)], "period": .string(period),
            "previous_period": previousPeriod.map(JSONValue.string) ?? .null, "group_level": .string(groupLevel.rawValue),
            "indicators": .array(indicators), "rows": .array(rows.map(row)), "total": row(total),
            "missing": ["count": .integer(missingCount), "units": .array(missing.map(unit))], "watch": .array(watch),
        ]
        if let due { object["due"] = .string(CivilDate.format(days: due)) }
        if let quality { object["quality"] = quality.json(form: form, language) }
        return .object(object)
    }
}
