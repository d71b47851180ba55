import Foundation
import SurveyCore
import SurveySQL

extension Report {
    /// Reads a report from the JSON that `json(_:)` writes (the server's
    /// `GET /api/v1/reports/{form}`), for `form`, the version it names:
    /// the client shows it with the same code as a report made on the
    /// device. The JSON carries no chart bins, so the report has none.
    public init(json: JSONValue, form: Form) throws(WireError) {
        func fail(_ what: String) -> WireError {
            WireError(L("服务器的报告缺少或写错了 \(what)", "the server's report lacks or misstates \(what)"))
        }
        guard json.string(at: "form", "id") == form.id else { throw fail("form.id") }
        guard let scope = json.string(at: "scope", "unit"), let period = json["period"]?.stringValue else { throw fail("scope or period") }
        guard let level = json["group_level"]?.stringValue.flatMap(UnitLevel.init(rawValue:)) else { throw fail("group_level") }
        let previousPeriod = json["previous_period"]?.stringValue
        func integer(_ value: JSONValue?) -> Int? {
            switch value {
            case .integer(let integer)?: return integer
            case .number(let number)?: return Int(exactly: number)
            default: return nil
            }
        }
        func figure(_ value: JSONValue?) -> Double? {
            switch value {
            case .integer(let integer)?: return Double(integer)
            case .number(let number)?: return number
            default: return nil
            }
        }
        func row(_ value: JSONValue, _ place: String) throws(WireError) -> Row {
            guard let unit = value["unit"]?.stringValue, let expected = integer(value["expected"]), let reported = integer(value["reported"]) else {
                throw fail(place)
            }
            return Row(
                unit: unit, name: value["name"]?.stringValue ?? "", expected: expected, reported: reported, onTime: integer(value["on_time"]),
                values: form.indicators.map { figure(value["values"]?[$0.name]) },
                changes: form.indicators.map { previousPeriod == nil ? nil : figure(value["changes"]?[$0.name]) })
        }
        func unit(_ value: JSONValue) -> Unit {
            Unit(code: value["unit"]?.stringValue ?? "", name: value["name"]?.stringValue ?? "", group: value["group"]?.stringValue ?? "")
        }
        var rows: [Row] = []
        for (index, item) in (json["rows"]?.arrayValue ?? []).enumerated() { rows.append(try row(item, "rows[\(index)]")) }
        guard let totalJSON = json["total"] else { throw fail("total") }
        var watchLists: [WatchList] = []
        for (index, list) in (json["watch"]?.arrayValue ?? []).enumerated() {
            guard let name = list["indicator"]?.stringValue, let indicator = form.indicators.first(where: { $0.name == name }),
                let count = integer(list["count"])
            else { throw fail("watch[\(index)]") }
            let units = (list["units"]?.arrayValue ?? []).map { entry -> (unit: Unit, detail: SQLValue) in
                let detail: SQLValue
                switch entry["detail"] {
                case .integer(let integer)?: detail = .integer(Int64(integer))
                case .number(let number)?: detail = .real(number)
                case .string(let text)?: detail = .text(text)
                default: detail = .null
                }
                return (unit(entry), detail)
            }
            watchLists.append(WatchList(indicator: indicator, count: count, units: units))
        }
        self.form = form
        self.scope = scope
        scopeName = json.string(at: "scope", "name") ?? scope
        self.period = period
        self.previousPeriod = previousPeriod
        groupLevel = level
        self.rows = rows
        total = try row(totalJSON, "total")
        missing = (json["missing"]?["units"]?.arrayValue ?? []).map(unit)
        missingCount = integer(json["missing"]?["count"]) ?? missing.count
        self.watchLists = watchLists
        due = json["due"]?.stringValue.flatMap(CivilDate.parse)
        histograms = [:]
        quality = json["quality"].flatMap(QualitySection.init(json:))
    }
}

extension QualitySection {
    /// Reads the section of a report's JSON (`Report.json`); messages come
    /// in the language the report was asked in.
    init?(json: JSONValue) {
        func integer(_ value: JSONValue?) -> Int {
            switch value {
            case .integer(let number)?: return number
            case .number(let number)?: return Int(number)
            default: return 0
            }
        }
        func counts(_ value: JSONValue?) -> Counts {
            Counts(
                surveys: integer(value?["surveys"]), unconfirmed: integer(value?["unconfirmed"]), confirmed: integer(value?["confirmed"]),
                changed: integer(value?["changed"]), outliers: integer(value?["outliers"]))
        }
        guard case .object = json else { return nil }
        let groups = (json["groups"]?.arrayValue ?? []).map { group in
            Group(unit: group["unit"]?.stringValue ?? "", name: group["name"]?.stringValue ?? "", counts: counts(group["counts"]))
        }
        let items: [Item] = (json["surveys"]?.arrayValue ?? []).map { item in
            let warnings: [FiredWarning] = (item["warnings"]?.arrayValue ?? []).map { warning in
                let message = warning["message"]?.stringValue ?? ""
                let path = warning["path"]?.stringValue ?? ""
                return FiredWarning(
                    name: warning["warning"]?.stringValue ?? "", path: path, field: String(path.split(separator: ".").last ?? ""),
                    message: LocalizedText(zh: message, en: message), confirmed: warning["confirmed"] == .bool(true),
                    explanation: warning["explanation"]?.stringValue)
            }
            let changes: [ChangeFlag] = (item["changes"]?.arrayValue ?? []).map { change in
                ChangeFlag(field: change["field"]?.stringValue ?? "", value: change["value"]?.doubleValue ?? .nan, previous: change["previous"]?.doubleValue ?? .nan)
            }
            let outliers: [OutlierFlag] = (item["outliers"]?.arrayValue ?? []).compactMap { outlier in
                guard let group = OutlierFlag.Group(rawValue: outlier["group"]?.stringValue ?? "") else { return nil }
                return OutlierFlag(
                    unit: item["unit"]?.stringValue ?? "", field: outlier["field"]?.stringValue ?? "", group: group,
                    value: outlier["value"]?.doubleValue ?? .nan, median: outlier["median"]?.doubleValue ?? .nan, score: outlier["score"]?.doubleValue ?? .nan)
            }
            return Item(
                unit: item["unit"]?.stringValue ?? "", name: item["name"]?.stringValue ?? "", group: item["group"]?.stringValue ?? "",
                instanceID: item["instance_id"]?.stringValue, warnings: warnings, changes: changes, outliers: outliers)
        }
        self.init(groups: groups, total: counts(json["total"]), items: items, flagged: integer(json["flagged"]))
    }
}
