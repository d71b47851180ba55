import Foundation
import SurveyCore
import SurveySQL

extension RelationalStorage {
    static var personColumnNames: [String] { ["id", "name", "role", "unit", "created_at", "disabled_at", "password_changed_at"] }
    static var personColumns: String { personColumnNames.joined(separator: ", ") }

    /// A person's row; nil if its role or unit cannot be read, so that a
    /// damaged row never grants anything.
    static func person(_ row: SQLRow) -> PersonRecord? {
        guard let role = Role(rawValue: row.text(2)), let unit = UnitCode(row.text(3)) else { return nil }
        return PersonRecord(
            id: row.integer(0), name: row.text(1), role: role, unit: unit, createdAt: StorageTime.date(row.integer(4)),
            disabledAt: StorageTime.date(row.optionalInteger(5)), passwordChangedAt: StorageTime.date(row.integer(6)))
    }

    public func createPerson(name: String, role: Role, unit: UnitCode, passwordHash: String, at time: Date) async throws -> PersonRecord {
        let now = StorageTime.milliseconds(time)
        let taken = L("已有名为 “\(name)” 的用户", "a user named '\(name)' already exists")
        do {
            return try await sql.write { session in
                if try session.one("SELECT 1 FROM person WHERE name = ?", [.text(name)]) != nil { throw StorageError(.conflict, taken) }
                let id = try session.insert(
                    "INSERT INTO person (name, role, unit, password, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [.text(name), .text(role.rawValue), .text(unit.rawValue), .text(passwordHash), .integer(now), .integer(now)])
                return Self.person(try session.one("SELECT \(Self.personColumns) FROM person WHERE id = ?", [.integer(id)])!)!
            }
        } catch let error as SQLError where error.kind == .constraint {
            throw StorageError(.conflict, taken)
        }
    }

    public func people() async throws -> [PersonRecord] {
        try await sql.read { session in try session.all("SELECT \(Self.personColumns) FROM person ORDER BY id").compactMap(Self.person) }
    }

    public func person(named name: String) async throws -> (record: PersonRecord, password: String)? {
        try await sql.read { session in
            guard let row = try session.one("SELECT \(Self.personColumns), password FROM person WHERE name = ?", [.text(name)]),
                let record = Self.person(row)
            else { return nil }
            return (record, row.text(7))
        }
    }

    public func setPassword(of name: String, hash: String, at time: Date) async throws -> PersonRecord? {
        try await sql.write { session in
            guard let row = try session.one("SELECT id FROM person WHERE name = ?", [.text(name)]) else { return nil }
            let id = row.integer(0)
            try session.execute(
                "UPDATE person SET password = ?, password_changed_at = ? WHERE id = ?", [.text(hash), .integer(StorageTime.milliseconds(time)), .integer(id)])
            // A new password ends every sign-in made with the old one.
            try session.execute("DELETE FROM person_session WHERE person_id = ?", [.integer(id)])
            return try session.one("SELECT \(Self.personColumns) FROM person WHERE id = ?", [.integer(id)]).flatMap(Self.person)
        }
    }

    public func disablePerson(_ name: String, at time: Date) async throws -> PersonRecord? {
        try await sql.write { session in
            guard let row = try session.one("SELECT id FROM person WHERE name = ?", [.text(name)]) else { return nil }
            let id = row.integer(0)
            try session.execute(
                "UPDATE person SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?", [.integer(StorageTime.milliseconds(time)), .integer(id)])
            try session.execute("DELETE FROM person_session WHERE person_id = ?", [.integer(id)])
            return try session.one("SELECT \(Self.personColumns) FROM person WHERE id = ?", [.integer(id)]).flatMap(Self.person)
        }
    }

    public func createPersonSession(hash: String, personID: Int64, at time: Date, expiresAt: Date) async throws {
        try await sql.write { session in
            let now = StorageTime.milliseconds(time)
            try session.execute("DELETE FROM person_session WHERE expires_at <= ?", [.integer(now)])
            try session.execute(
                "INSERT INTO person_session (hash, person_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                [.text(hash), .integer(personID), .integer(now), .integer(StorageTime.milliseconds(expiresAt))])
        }
    }

    public func principal(personSessionHash hash: String, at time: Date) async throws -> Principal? {
        let columns = Self.personColumnNames.map { "p." + $0 }.joined(separator: ", ")
        return try await sql.read { session in
            try session.one(
                """
                SELECT \(columns) FROM person_session s JOIN person p ON p.id = s.person_id
                WHERE s.hash = ? AND s.expires_at > ? AND p.disabled_at IS NULL
                """, [.text(hash), .integer(StorageTime.milliseconds(time))]
            ).flatMap { Self.person($0)?.principal }
        }
    }

    public func endPersonSession(hash: String) async throws {
        try await sql.write { session in try session.execute("DELETE FROM person_session WHERE hash = ?", [.text(hash)]) }
    }
}
