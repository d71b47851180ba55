import Foundation
import SurveyCore
import SurveySQL

/// Where a report page served by the server leads: a row unit's column
/// heading (`row`, by unit code), a unit in a watch list (`unit`), and
/// the periods to switch to (the shown one without a link).
public struct ReportLinks: Sendable {
    public var row: @Sendable (String) -> String?
    public var unit: @Sendable (String) -> String?
    public var periods: [(label: String, url: String?)]
    /// A flagged survey of the data-quality section.
    public var survey: @Sendable (QualitySection.Item) -> String? = { _ in nil }

    public init(
        row: @escaping @Sendable (String) -> String?, unit: @escaping @Sendable (String) -> String?, periods: [(label: String, url: String?)],
        survey: @escaping @Sendable (QualitySection.Item) -> String? = { _ in nil }
    ) {
        self.row = row
        self.unit = unit
        self.periods = periods
        self.survey = survey
    }
}

extension Report {
    /// The report as one self-contained HTML page: the indicator table, the
    /// form's charts as inline SVG, the units not reported and the watch
    /// lists. It reads on a phone (the table scrolls sideways, charts scale)
    /// and prints on A4 landscape.
    /// The report as a whole page; `toolbar` is HTML its server puts at the
    /// top of the body (a sign-out button), empty for a file.
    public func html(_ language: Language, generated: String, toolbar: String = "", links: ReportLinks? = nil) -> String {
        let en = language == .en
        let title = form.title.text(language)
        var out = """
            <!DOCTYPE html>
            <html lang="\(en ? "en" : "zh-CN")">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Self.escape(title)) — \(Self.escape(scopeName)) \(Self.escape(period))</title>
            <style>
            body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 16px; color: #1f2933; }
            h1 { font-size: 1.4em; margin: 0 0 4px; } h2 { font-size: 1.1em; margin: 24px 0 8px; border-bottom: 2px solid #c8102e; padding-bottom: 4px; }
            .meta { color: #52606d; font-size: 0.9em; } nav.periods { margin: 8px 0; font-size: 0.9em; } nav.periods a, nav.periods b { margin: 0 4px; } th a { color: inherit; }
            .cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
            .card { border: 1px solid #d9e2ec; border-radius: 6px; padding: 8px 12px; min-width: 140px; }
            .card b { display: block; font-size: 1.5em; color: #c8102e; }
            .scroll { overflow-x: auto; }
            table { border-collapse: collapse; font-size: 0.85em; width: 100%; }
            th, td { border: 1px solid #d9e2ec; padding: 4px 6px; text-align: right; white-space: nowrap; }
            th:first-child, td:first-child { text-align: left; position: sticky; left: 0; background: #fff; }
            thead th { background: #f0f4f8; }
            td.total { font-weight: bold; background: #fff8e1; }
            svg { width: 100%; height: auto; max-width: 900px; display: block; }
            svg text { font-size: 12px; fill: #1f2933; }
            .legend span { display: inline-block; margin-right: 12px; font-size: 0.85em; }
            .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
            ul.units { columns: 3 240px; font-size: 0.9em; padding-left: 18px; }
            .chart, .list { break-inside: avoid; page-break-inside: avoid; }
            @media print { form { display: none; } @page { size: A4 landscape; margin: 12mm 12mm 16mm; @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; color: #52606d; } } body { max-width: none; padding: 0; font-size: 10pt; } .scroll { overflow: visible; } th:first-child, td:first-child { position: static; } }
            </style>
            </head>
            <body>
            \(toolbar)<h1>\(Self.escape(title))</h1>
            <div class="meta">\(Self.escape(scopeName)) (\(Self.escape(scope))) · \(en ? "period" : "报告期") \(Self.escape(period))\(due.map { " · " + (en ? "due " : "截止 ") + CivilDate.format(days: $0) } ?? "") · \(en ? "made" : "生成于") \(Self.escape(generated))</div>

            """
        if let links, !links.periods.isEmpty {
            out += "<nav class=\"periods\">\(en ? "Period" : "报告期"):"
            for item in links.periods {
                out += item.url.map { " <a href=\"\(Self.escape($0))\">\(Self.escape(item.label))</a>" } ?? " <b>\(Self.escape(item.label))</b>"
            }
            out += "</nav>\n"
        }
        // Headline figures.
        out += "<div class=\"cards\">"
        out += card(en ? "reported / expected" : "已报送 / 应报送", "\(total.reported) / \(total.expected)")
        for (index, indicator) in form.indicators.enumerated() where indicator.watch || index < 2 {
            let counted: Bool = if case .completeness = indicator.kind { true } else { false }
            let figure = total.reported == 0 && !counted ? (en ? "not reported" : "未报送") : shown(total.values[index], indicator, language)
            out += card(indicator.label.text(language), figure)
        }
        out += "</div>\n"

        out += "<h2>\(en ? "Indicators" : "指标")</h2>\n<div class=\"scroll\"><table>\n<thead><tr>"
        let (header, lines) = tableLines(language)
        for (index, cell) in header.enumerated() {
            // A row unit's column heading leads to its surveys or its own report.
            if let links, index >= 1, index <= rows.count, let url = links.row(rows[index - 1].unit) {
                out += "<th><a href=\"\(Self.escape(url))\">\(Self.escape(cell))</a></th>"
            } else {
                out += "<th>\(Self.escape(cell))</th>"
            }
        }
        out += "</tr></thead>\n<tbody>\n"
        let totalColumn = rows.count + 1
        for line in lines {
            out += "<tr>"
            for (index, cell) in line.enumerated() {
                out += index == totalColumn ? "<td class=\"total\">\(Self.escape(cell))</td>" : "<td>\(Self.escape(cell))</td>"
            }
            out += "</tr>\n"
        }
        out += "</tbody></table></div>\n"

        for (index, chart) in form.charts.enumerated() {
            out += "<div class=\"chart\"><h2>\(Self.escape(chart.title.text(language)))</h2>\n"
            switch chart.kind {
            case .stacked(let series): out += stackedChart(series, language)
            case .histogram(_, let bins, let mark): out += histogramChart(histograms[index] ?? [], bins: bins, mark: mark, language)
            case .completeness: out += completenessChart(language)
            }
            out += "</div>\n"
        }

        out += "<div class=\"list\"><h2>\(en ? "Not reported" : "未报送")(\(missingCount))</h2>\n"
        out += unitList(missing.map { ($0, SQLValue.null) }, more: missingCount - missing.count, language)
        out += "</div>\n"
        for list in watchLists {
            out += "<div class=\"list\"><h2>\(Self.escape(list.indicator.label.text(language)))(\(list.count))</h2>\n"
            out += unitList(list.units, more: list.count - list.units.count, language, indicator: list.indicator, link: links?.unit)
            out += "</div>\n"
        }
        if let quality { out += quality.html(form: form, language, link: links?.survey) }
        out += "</body>\n</html>\n"
        return out
    }

    static let palette = ["#2f6fbf", "#5fa8d3", "#f2a541", "#c8102e", "#6a994e", "#8e6c8a"]

    func card(_ label: String, _ value: String) -> String {
        "<div class=\"card\">\(Self.escape(label))<b>\(Self.escape(value))</b></div>"
    }

    func unitList(
        _ units: [(unit: Unit, detail: SQLValue)], more: Int, _ language: Language, indicator: Indicator? = nil,
        link: (@Sendable (String) -> String?)? = nil
    ) -> String {
        guard !units.isEmpty else { return "<p>\(language == .en ? "None." : "无。")</p>\n" }
        var out = "<ul class=\"units\">"
        for (unit, detail) in units {
            var text = "\(unit.code) " + (unit.group.isEmpty ? "" : unit.group + " ") + unit.name
            if detail != .null { text += " · " + (indicator.map { detailShown(detail, $0, language) } ?? Self.detailText(detail)) }
            if let url = link?(unit.code) {
                out += "<li><a href=\"\(Self.escape(url))\">\(Self.escape(text))</a></li>"
            } else {
                out += "<li>\(Self.escape(text))</li>"
            }
        }
        out += "</ul>\n"
        if more > 0 { out += "<p>\(language == .en ? "… and \(more) more" : "……另有 \(more) 个")</p>\n" }
        return out
    }

    /// One horizontal bar per row unit, a segment per series.
    func stackedChart(_ series: [String], _ language: Language) -> String {
        let indices = series.compactMap { name in form.indicators.firstIndex { $0.name == name } }
        let values = rows.map { row in indices.map { row.values[$0] ?? 0 } }
        let largest = max(1, values.map { $0.reduce(0, +) }.max() ?? 1)
        let labelWidth = 110.0
        let width = 800.0
        let barHeight = 18.0
        let height = Double(rows.count) * (barHeight + 6) + 10
        var out = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"stacked bars\">"
        for (index, row) in rows.enumerated() {
            let y = 5 + Double(index) * (barHeight + 6)
            out += "<text x=\"\(Int(labelWidth - 6))\" y=\"\(Self.coordinate(y + 13))\" text-anchor=\"end\">\(Self.escape(row.name))</text>"
            var x = labelWidth
            for (segment, value) in values[index].enumerated() where value > 0 {
                let length = value / largest * (width - labelWidth - 60)
                out +=
                    "<rect x=\"\(Self.coordinate(x))\" y=\"\(Self.coordinate(y))\" width=\"\(Self.coordinate(length))\" height=\"\(Int(barHeight))\" fill=\"\(Self.palette[segment % Self.palette.count])\"/>"
                x += length
            }
            out += "<text x=\"\(Self.coordinate(x + 4))\" y=\"\(Self.coordinate(y + 13))\">\(Int(values[index].reduce(0, +)))</text>"
        }
        out += "</svg>\n<div class=\"legend\">"
        for (segment, index) in indices.enumerated() {
            out +=
                "<span><i style=\"background:\(Self.palette[segment % Self.palette.count])\"></i>\(Self.escape(form.indicators[index].label.text(language)))</span>"
        }
        return out + "</div>\n"
    }

    /// Vertical bars per bin, with a dashed line at the mark.
    func histogramChart(_ counts: [Int], bins: [Double], mark: Double?, _ language: Language) -> String {
        let width = 800.0
        let height = 260.0
        let bottom = 200.0
        let left = 40.0
        let slot = (width - left - 10) / Double(bins.count)
        let largest = Double(max(1, counts.max() ?? 1))
        var out = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"histogram\">"
        out += "<line x1=\"\(Int(left))\" y1=\"\(Int(bottom))\" x2=\"\(Int(width - 10))\" y2=\"\(Int(bottom))\" stroke=\"#9aa5b1\"/>"
        for bin in bins.indices {
            let count = bin < counts.count ? counts[bin] : 0
            let barHeight = Double(count) / largest * (bottom - 40)
            let x = left + Double(bin) * slot
            out +=
                "<rect x=\"\(Self.coordinate(x + 4))\" y=\"\(Self.coordinate(bottom - barHeight))\" width=\"\(Self.coordinate(slot - 8))\" height=\"\(Self.coordinate(barHeight))\" fill=\"#2f6fbf\"/>"
            out += "<text x=\"\(Self.coordinate(x + slot / 2))\" y=\"\(Self.coordinate(bottom - barHeight - 4))\" text-anchor=\"middle\">\(count)</text>"
            let label: String
            if bin == bins.count - 1 {
                label = "≥ " + Self.grouped(bins[bin])
            } else if bins[bin + 1] - bins[bin] == 1 {
                label = Self.grouped(bins[bin])
            } else {
                label = Self.grouped(bins[bin]) + "–" + Self.grouped(bins[bin + 1])
            }
            out += "<text x=\"\(Self.coordinate(x + slot / 2))\" y=\"\(Int(bottom + 16))\" text-anchor=\"middle\">\(Self.escape(label))</text>"
        }
        if let mark, let upper = bins.firstIndex(where: { $0 >= mark }) {
            // The line sits where the mark falls within its bin.
            let position: Double
            if bins[upper] == mark || upper == 0 {
                position = Double(upper)
            } else {
                position = Double(upper - 1) + (mark - bins[upper - 1]) / (bins[upper] - bins[upper - 1])
            }
            let x = left + position * slot
            out +=
                "<line x1=\"\(Self.coordinate(x))\" y1=\"4\" x2=\"\(Self.coordinate(x))\" y2=\"\(Int(bottom))\" stroke=\"#c8102e\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
            out += "<text x=\"\(Self.coordinate(x + 4))\" y=\"12\" fill=\"#c8102e\">\(Self.escape(Self.grouped(mark)))</text>"
        }
        out +=
            "<text x=\"\(Int(width / 2))\" y=\"\(Int(height - 8))\" text-anchor=\"middle\">\(language == .en ? "units (villages) per bin" : "各区间的单位(村)数")</text>"
        return out + "</svg>\n"
    }

    /// One bar per row unit: reported over expected.
    func completenessChart(_ language: Language) -> String {
        let labelWidth = 110.0
        let width = 800.0
        let barHeight = 16.0
        let height = Double(rows.count) * (barHeight + 6) + 10
        var out = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"completeness\">"
        for (index, row) in rows.enumerated() {
            let y = 5 + Double(index) * (barHeight + 6)
            let share = row.expected > 0 ? Double(row.reported) / Double(row.expected) : 0
            let full = width - labelWidth - 120
            out += "<text x=\"\(Int(labelWidth - 6))\" y=\"\(Self.coordinate(y + 12))\" text-anchor=\"end\">\(Self.escape(row.name))</text>"
            out +=
                "<rect x=\"\(Int(labelWidth))\" y=\"\(Self.coordinate(y))\" width=\"\(Self.coordinate(full))\" height=\"\(Int(barHeight))\" fill=\"#e4e7eb\"/>"
            out +=
                "<rect x=\"\(Int(labelWidth))\" y=\"\(Self.coordinate(y))\" width=\"\(Self.coordinate(full * min(1, share)))\" height=\"\(Int(barHeight))\" fill=\"#6a994e\"/>"
            out +=
                "<text x=\"\(Self.coordinate(labelWidth + full + 6))\" y=\"\(Self.coordinate(y + 12))\">\(row.reported)/\(row.expected) \(String(format: "%.0f%%", share * 100))</text>"
        }
        return out + "</svg>\n"
    }

    static func coordinate(_ value: Double) -> String { String(format: "%.1f", value) }

    static func grouped(_ value: Double) -> String {
        IndicatorFormat.count.render(value, language: .en)
    }

    /// Text for HTML: `&`, `<`, `>`, quotes escaped.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
