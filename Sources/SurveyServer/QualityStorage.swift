import Foundation
import SurveyCore
import SurveySQL

/// Last period's current survey of a unit, as devices fetch it to start
/// this period's survey from and to check answers against (`previous()`).
public struct BaselineRecord: Sendable, Equatable {
    public var unit: String
    public var instanceID: String
    public var revision: Int
    public var formVersion: String
    public var contentHash: String
    /// The answers as kept (JSON text), when asked for.
    public var answers: String?

    public var json: JSONValue {
        var object = JSONObject(minimumCapacity: 6)
        object.appendUnique("unit", .string(unit))
        object.appendUnique("instance_id", .string(instanceID))
        object.appendUnique("revision", .integer(revision))
        object.appendUnique("version", .string(formVersion))
        object.appendUnique("hash", .string(contentHash))
        if let answers, let parsed = try? JSONParser(refusesDuplicateKeys: false).parse(Data(answers.utf8)) {
            object.appendUnique("answers", parsed)
        }
        return .object(object)
    }
}

/// What the server's soft checks found in one revision: the warnings that
/// fired (confirmed or not, with the device's explanation) and the
/// screened numbers that changed from the previous period beyond the
/// form's ratio. Stored with the revision, as JSON and as `flags`.
public struct SurveyChecks: Sendable, Equatable {
    public var warnings: [FiredWarning]
    public var changes: [ChangeFlag]

    public init(warnings: [FiredWarning], changes: [ChangeFlag]) {
        self.warnings = warnings
        self.changes = changes
    }

    /// The flag bits that filters and reports read.
    public enum Flag: Int, CaseIterable, Sendable {
        /// A warning fired and the device did not confirm it.
        case unconfirmed = 1
        /// A warning fired and was confirmed, with an explanation or none.
        case confirmed = 2
        /// A screened number changed from last period beyond the ratio.
        case changed = 4

        /// The name the API and the pages use (`flag=unconfirmed`).
        public var name: String {
            switch self {
            case .unconfirmed: return "unconfirmed"
            case .confirmed: return "confirmed"
            case .changed: return "changed"
            }
        }

        public init?(name: String) {
            guard let flag = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = flag
        }

        public var label: LocalizedText {
            switch self {
            case .unconfirmed: return L("警示未确认", "unconfirmed warnings")
            case .confirmed: return L("警示已确认", "confirmed warnings")
            case .changed: return L("与上年相比变化大", "large changes from last year")
            }
        }
    }

    public var isEmpty: Bool { warnings.isEmpty && changes.isEmpty }

    public var flags: Int {
        var bits = 0
        if warnings.contains(where: { !$0.confirmed }) { bits |= Flag.unconfirmed.rawValue }
        if warnings.contains(where: \.confirmed) { bits |= Flag.confirmed.rawValue }
        if !changes.isEmpty { bits |= Flag.changed.rawValue }
        return bits
    }

    /// `{"warnings": [{"warning", "path", "confirmed", "explanation"}], "changes": [{"field", "value", "previous"}]}`.
    public var json: JSONValue {
        var object = JSONObject(minimumCapacity: 2)
        object.appendUnique("warnings", .array(warnings.map(\.json)))
        object.appendUnique(
            "changes",
            .array(
                changes.map { change in
                    ["field": .string(change.field), "value": .number(change.value), "previous": .number(change.previous)]
                }))
        return .object(object)
    }

    /// Reads the stored JSON back; the messages come from the form (none
    /// when the form no longer has the warning).
    public static func read(_ text: String?, form: Form?) -> SurveyChecks? {
        guard let text, let json = try? JSONParser(refusesDuplicateKeys: false).parse(Data(text.utf8)) else { return nil }
        let messages = Dictionary(
            (form?.warnedFields ?? []).flatMap { field in field.warnings.map { ($0.name, $0.message) } }, uniquingKeysWith: { first, _ in first })
        let warnings: [FiredWarning] = (json["warnings"]?.arrayValue ?? []).compactMap { item in
            guard let name = item["warning"]?.stringValue, let path = item["path"]?.stringValue else { return nil }
            let field = String(path.split(separator: ".").last ?? Substring(path))
            return FiredWarning(
                name: name, path: path, field: field, message: messages[name] ?? L(name, name), confirmed: item["confirmed"] == .bool(true),
                explanation: item["explanation"]?.stringValue)
        }
        let changes: [ChangeFlag] = (json["changes"]?.arrayValue ?? []).compactMap { item in
            guard let field = item["field"]?.stringValue, let value = item["value"]?.doubleValue, let previous = item["previous"]?.doubleValue else {
                return nil
            }
            return ChangeFlag(field: field, value: value, previous: previous)
        }
        return SurveyChecks(warnings: warnings, changes: changes)
    }
}

/// A current survey whose revision the checks flagged.
public struct FlaggedSurvey: Sendable, Equatable {
    public var unit: String
    public var instanceID: String
    public var formVersion: String
    public var flags: Int
    public var checks: String?
}

extension RelationalStorage {
    public func flaggedSurveys(formID: String, period: String, under scope: UnitCode) async throws -> [FlaggedSurvey] {
        try await sql.read { session in
            // The partial index on flagged revisions: a handful of rows even for the whole country.
            try session.all(
                """
                SELECT s.unit, i.instance_id, s.form_version, s.flags, s.checks
                FROM submission s JOIN instance i ON i.id = s.instance AND i.revision = s.revision AND i.state = 'current'
                WHERE s.form_id = ? AND s.period = ? AND s.unit LIKE ? AND s.flags <> 0
                ORDER BY s.unit
                """, [.text(formID), .text(period), .text(scope.prefix + "%")]
            ).map { row in
                FlaggedSurvey(unit: row.text(0), instanceID: row.text(1), formVersion: row.text(2), flags: Int(row.integer(3)), checks: row.optionalText(4))
            }
        }
    }

    public func baselineAnswers(formID: String, period: String, units: [String]) async throws -> [String: String] {
        guard !units.isEmpty else { return [:] }
        // Only the two columns the checks need, found through the index
        // of current surveys: a batch's baselines cost about as much to
        // read as the batch costs to write.
        let query = SQLQuery(
            sql: """
                SELECT i.unit, s.answers
                FROM instance i JOIN submission s ON s.instance = i.id AND s.revision = i.revision
                WHERE i.form_id = ? AND i.period = ? AND i.state = 'current' AND i.unit IN (\(units.map { _ in "?" }.joined(separator: ", ")))
                """, arguments: [.text(formID), .text(period)] + units.map { .text($0) })
        return try await sql.read { session in
            var found: [String: String] = [:]
            for row in try session.all(query) { found[row.text(0)] = row.text(1) }
            return found
        }
    }

    public func baselines(formID: String, period: String, under scope: UnitCode, after: String?, limit: Int, units: [String]?, answers: Bool)
        async throws -> [BaselineRecord]
    {
        var query = SQLQuery(
            sql: """
                SELECT i.unit, i.instance_id, i.revision, s.form_version, s.content_hash\(answers ? ", s.answers" : "")
                FROM instance i JOIN submission s ON s.instance = i.id AND s.revision = i.revision
                WHERE i.form_id = ? AND i.period = ? AND i.state = 'current' AND i.unit LIKE ?
                """, arguments: [.text(formID), .text(period), .text(scope.prefix + "%")])
        if let after { query.append(" AND i.unit > ?", .text(after)) }
        if let units {
            guard !units.isEmpty else { return [] }
            query.append(" AND i.unit IN (\(units.map { _ in "?" }.joined(separator: ", ")))")
            query.arguments.append(contentsOf: units.map { .text($0) })
        }
        query.append(" ORDER BY i.unit LIMIT ?", .integer(Int64(limit)))
        let page = query
        return try await sql.read { session in
            try session.all(page).map { row in
                BaselineRecord(
                    unit: row.text(0), instanceID: row.text(1), revision: Int(row.integer(2)), formVersion: row.text(3), contentHash: row.text(4),
                    answers: answers ? row.text(5) : nil)
            }
        }
    }
}
