import Foundation
import SurveyCore

/// A report's data-quality section: by row unit (townships in a county's
/// report), how many current surveys carry warnings not confirmed,
/// warnings confirmed, large changes from last period and outliers; then
/// the flagged surveys themselves, the most doubtful first, so that a
/// reviewer starts with them. Made by the server from what ingest
/// recorded and from the outlier screening.
public struct QualitySection: Sendable, Equatable {
    public struct Counts: Sendable, Equatable {
        /// Current surveys (those the report counts).
        public var surveys = 0
        public var unconfirmed = 0
        public var confirmed = 0
        public var changed = 0
        public var outliers = 0

        public init(surveys: Int = 0, unconfirmed: Int = 0, confirmed: Int = 0, changed: Int = 0, outliers: Int = 0) {
            self.surveys = surveys
            self.unconfirmed = unconfirmed
            self.confirmed = confirmed
            self.changed = changed
            self.outliers = outliers
        }

        /// Surveys with any flag but a confirmed warning: the ones to look at.
        public var doubtful: Int { max(unconfirmed, changed, outliers) }
    }

    public struct Group: Sendable, Equatable {
        public var unit: String
        public var name: String
        public var counts: Counts

        public init(unit: String, name: String, counts: Counts) {
            self.unit = unit
            self.name = name
            self.counts = counts
        }
    }

    /// One flagged survey and why.
    public struct Item: Sendable, Equatable {
        public var unit: String
        public var name: String
        /// The row unit it counts under (its township in a county's report).
        public var group: String
        public var instanceID: String?
        public var warnings: [FiredWarning]
        public var changes: [ChangeFlag]
        public var outliers: [OutlierFlag]

        public init(unit: String, name: String, group: String, instanceID: String?, warnings: [FiredWarning], changes: [ChangeFlag], outliers: [OutlierFlag]) {
            self.unit = unit
            self.name = name
            self.group = group
            self.instanceID = instanceID
            self.warnings = warnings
            self.changes = changes
            self.outliers = outliers
        }

        public var unconfirmed: Int { warnings.filter { !$0.confirmed }.count }

        /// Most doubtful first: warnings not confirmed, then outliers, then changes.
        static func precedes(_ a: Item, _ b: Item) -> Bool {
            (-a.unconfirmed, -a.outliers.count, -a.changes.count, a.unit) < (-b.unconfirmed, -b.outliers.count, -b.changes.count, b.unit)
        }
    }

    public var groups: [Group]
    public var total: Counts
    /// The first flagged surveys, most doubtful first.
    public var items: [Item]
    /// All flagged surveys; `items` holds the first of them.
    public var flagged: Int

    public init(groups: [Group], total: Counts, items: [Item], flagged: Int) {
        self.groups = groups
        self.total = total
        self.items = items
        self.flagged = flagged
    }

    /// Puts a section together: `counts` by row unit, the flagged surveys
    /// sorted and cut to `limit`.
    public static func make(groups: [Group], items: [Item], limit: Int = 100) -> QualitySection {
        var total = Counts()
        for group in groups {
            total.surveys += group.counts.surveys
            total.unconfirmed += group.counts.unconfirmed
            total.confirmed += group.counts.confirmed
            total.changed += group.counts.changed
            total.outliers += group.counts.outliers
        }
        let sorted = items.sorted(by: Item.precedes)
        return QualitySection(groups: groups, total: total, items: Array(sorted.prefix(limit)), flagged: items.count)
    }

    static func headers(_ language: Language) -> [String] {
        language == .en
            ? ["Unit code", "Unit", "Surveys", "Warnings not confirmed", "Warnings confirmed", "Large changes from last period", "Outliers"]
            : ["单位代码", "单位名称", "调查数", "警示未确认", "警示已确认", "与上期相比变化大", "偏离本地其他村"]
    }

    func line(_ unit: String, _ name: String, _ counts: Counts) -> [String] {
        [unit, name, String(counts.surveys), String(counts.unconfirmed), String(counts.confirmed), String(counts.changed), String(counts.outliers)]
    }

    /// Why one survey is flagged, in words: `党员总数 560(本乡镇中位数 62,z=9.1)`.
    public func reasons(_ item: Item, form: Form, _ language: Language) -> [String] {
        let en = language == .en
        func label(_ field: String) -> String { form.field(named: field)?.label?.text(language) ?? field }
        func number(_ value: Double) -> String { Report.grouped(value) }
        var reasons: [String] = []
        for warning in item.warnings {
            var text = warning.message.text(language)
            if warning.confirmed {
                let why = warning.explanation.flatMap { $0.isEmpty ? nil : $0 }
                text += en ? " (confirmed\(why.map { ": \($0)" } ?? ""))" : "(已确认\(why.map { ":\($0)" } ?? ""))"
            } else {
                text += en ? " (not confirmed)" : "(未确认)"
            }
            reasons.append(text)
        }
        for change in item.changes {
            reasons.append(
                en
                    ? "\(label(change.field)) \(number(change.value)), last period \(number(change.previous))"
                    : "\(label(change.field)) \(number(change.value)),上期 \(number(change.previous))")
        }
        for outlier in item.outliers {
            let score = String(format: "%.1f", outlier.score)
            reasons.append(
                en
                    ? "\(label(outlier.field)) \(number(outlier.value)) (median of \(outlier.group.label.text(.en)) \(number(outlier.median)), z = \(score))"
                    : "\(label(outlier.field)) \(number(outlier.value))(\(outlier.group.label.zh)中位数 \(number(outlier.median)),z=\(score))")
        }
        return reasons
    }

    public func text(form: Form, _ language: Language) -> String {
        let en = language == .en
        var out = en ? "Data quality\n" : "数据质量\n"
        let rows = [Self.headers(language)] + groups.map { line($0.unit, $0.name, $0.counts) } + [line("", en ? "Total" : "合计", total)]
        out += Report.aligned(rows) + "\n"
        out += en ? "Flagged surveys: \(flagged)\n" : "需核实的调查:\(flagged) 份\n"
        for item in items {
            out += "  \(item.unit) \(item.name): " + reasons(item, form: form, language).joined(separator: en ? "; " : ";") + "\n"
        }
        if items.count < flagged { out += en ? "  … and \(flagged - items.count) more\n" : "  ……另有 \(flagged - items.count) 份\n" }
        return out
    }

    /// The section's table as CSV lines: a header, a line per row unit, the total.
    public func csvLines(_ language: Language) -> [[String]] {
        let en = language == .en
        return [Self.headers(language)] + groups.map { line($0.unit, CSV.text($0.name), $0.counts) } + [line("", en ? "Total" : "合计", total)]
    }

    public func json(form: Form, _ language: Language) -> JSONValue {
        func counts(_ counts: Counts) -> JSONValue {
            [
                "surveys": .integer(counts.surveys), "unconfirmed": .integer(counts.unconfirmed), "confirmed": .integer(counts.confirmed),
                "changed": .integer(counts.changed), "outliers": .integer(counts.outliers),
            ]
        }
        let items: [JSONValue] = items.map { item in
            var object = JSONObject()
            object["unit"] = .string(item.unit)
            object["name"] = .string(item.name)
            object["group"] = .string(item.group)
            object["instance_id"] = item.instanceID.map(JSONValue.string) ?? .null
            object["warnings"] = .array(
                item.warnings.map { warning in
                    [
                        "warning": .string(warning.name), "path": .string(warning.path), "message": .string(warning.message.text(language)),
                        "confirmed": .bool(warning.confirmed), "explanation": warning.explanation.map(JSONValue.string) ?? .null,
                    ]
                })
            object["changes"] = .array(
                item.changes.map { ["field": .string($0.field), "value": .number($0.value), "previous": .number($0.previous)] })
            object["outliers"] = .array(
                item.outliers.map { outlier in
                    [
                        "field": .string(outlier.field), "group": .string(outlier.group.rawValue), "value": .number(outlier.value),
                        "median": .number(outlier.median), "score": .number((outlier.score * 100).rounded() / 100),
                    ]
                })
            object["reasons"] = .array(reasons(item, form: form, language).map(JSONValue.string))
            return .object(object)
        }
        return [
            "total": counts(total),
            "groups": .array(groups.map { ["unit": .string($0.unit), "name": .string($0.name), "counts": counts($0.counts)] }),
            "flagged": .integer(flagged), "surveys": .array(items),
        ]
    }

    /// The section of the report page, with a link per flagged survey.
    public func html(form: Form, _ language: Language, link: ((Item) -> String?)? = nil) -> String {
        let en = language == .en
        var out = "<div class=\"list quality\"><h2>\(en ? "Data quality" : "数据质量")</h2>\n<div class=\"scroll\"><table>\n<thead><tr>"
        for cell in Self.headers(language) { out += "<th>\(Report.escape(cell))</th>" }
        out += "</tr></thead>\n<tbody>\n"
        for row in groups.map({ line($0.unit, $0.name, $0.counts) }) + [line("", en ? "Total" : "合计", total)] {
            out += "<tr>" + row.map { "<td>\(Report.escape($0))</td>" }.joined() + "</tr>\n"
        }
        out += "</tbody></table></div>\n"
        out += "<h2>\(en ? "Surveys to check" : "需核实的调查")(\(flagged))</h2>\n"
        if items.isEmpty {
            out += "<p>\(en ? "None." : "无。")</p>\n"
        } else {
            out += "<ul class=\"quality-items\">"
            for item in items {
                let title = "\(item.unit) \(item.name)"
                let head = link?(item).map { "<a href=\"\(Report.escape($0))\">\(Report.escape(title))</a>" } ?? Report.escape(title)
                out += "<li>\(head):" + Report.escape(reasons(item, form: form, language).joined(separator: en ? "; " : ";")) + "</li>"
            }
            out += "</ul>\n"
            if items.count < flagged { out += "<p>\(en ? "… and \(flagged - items.count) more" : "……另有 \(flagged - items.count) 份")</p>\n" }
        }
        out += "</div>\n"
        return out
    }
}
