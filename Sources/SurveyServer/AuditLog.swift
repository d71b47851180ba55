import Foundation
import SurveyCore
import SurveySQL

/// Something the audit log keeps: who did what to which thing, in which
/// unit, from where. Review decisions are written in their own
/// transaction; the rest right after the change they record.
public struct AuditEntry: Sendable {
    public var actor: Actor
    /// `review.approve`, `review.return`, `review.reopen`, `conflict.resolve`,
    /// `token.create`, `token.revoke`, `units.import`, `session.sign_in`,
    /// `session.sign_in_refused`, `session.sign_out`, `report.export`
    /// (a report as CSV), `survey.export` (a raw export), `user.create`,
    /// `user.disable`, `user.password`.
    public var action: String
    /// What it was done to: an instance id, a conflict number, a token name.
    public var target: String?
    /// The unit the thing belongs to; an admin sees the entries under theirs.
    public var unit: String?
    public var details: JSONObject

    public init(actor: Actor, action: String, target: String?, unit: String?, details: JSONObject = JSONObject()) {
        self.actor = actor
        self.action = action
        self.target = target
        self.unit = unit
        self.details = details
    }
}

/// An entry of the audit log as kept.
public struct AuditRecord: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var actor: String
    public var role: String?
    public var actorUnit: String?
    public var action: String
    public var target: String?
    public var unit: String?
    public var details: JSONObject
    public var address: String?
}

/// Every action the audit log records, as `GET /api/v1/audit?action=` takes them.
public enum AuditAction {
    public static let all = [
        "review.approve", "review.return", "review.reopen", "conflict.resolve", "token.create", "token.revoke", "units.import",
        "session.sign_in", "session.sign_in_refused", "session.sign_out", "report.export", "survey.export", "user.create", "user.disable", "user.password",
    ]
}

enum AuditLog {
    static func insert(_ entry: AuditEntry, now: Int64, session: any SQLSession) throws {
        try session.execute(
            """
            INSERT INTO audit (at, actor, role, actor_unit, token_id, action, target, unit, details, address)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(now), .text(entry.actor.name), .of(entry.actor.role?.rawValue), .text(entry.actor.unit.rawValue), .of(entry.actor.tokenID),
                .text(entry.action), .of(entry.target), .of(entry.unit), .text(JSONValue.object(entry.details).serialized()), .of(entry.actor.address),
            ])
    }
}

extension RelationalStorage {
    public func recordAudit(_ entry: AuditEntry) async throws {
        let now = StorageTime.milliseconds(Date())
        try await sql.write { session in try AuditLog.insert(entry, now: now, session: session) }
    }

    public func audit(under unit: UnitCode, before: Int64?, limit: Int, action: String?) async throws -> [AuditRecord] {
        var query = SQLQuery(
            sql: "SELECT id, at, actor, role, actor_unit, action, target, unit, details, address FROM audit WHERE id < ?",
            arguments: [.integer(before ?? Int64.max)])
        if !unit.prefix.isEmpty {
            // Entries about no unit (a token nobody knows, a registry
            // import) concern every admin.
            query.append(" AND (unit LIKE ? OR unit IS NULL)", .text(unit.prefix + "%"))
        }
        if let action { query.append(" AND action = ?", .text(action)) }
        query.append(" ORDER BY id DESC LIMIT ?", .integer(Int64(limit)))
        let page = query
        return try await sql.read { session in
            try session.all(page).map { row in
                AuditRecord(
                    id: row.integer(0), at: StorageTime.date(row.integer(1)), actor: row.text(2), role: row.optionalText(3), actorUnit: row.optionalText(4),
                    action: row.text(5), target: row.optionalText(6), unit: row.optionalText(7),
                    details: (try? JSONParser().parse(row.text(8)))?.objectValue ?? JSONObject(), address: row.optionalText(9))
            }
        }
    }
}
