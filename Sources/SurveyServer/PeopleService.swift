import Foundation
import SurveyCore

extension SurveyService {
    /// Adds a person who signs in with a name and a password; a viewer,
    /// reviewer or admin (collectors are devices, with tokens). The audit
    /// log records it, by `actor`.
    public func createPerson(name: String, role: Role, unit: UnitCode, password: String, by actor: Actor) async throws -> PersonRecord {
        guard role != .collector else {
            throw ServiceError.invalid(L("采集员用令牌,不建用户;用户的角色为 viewer、reviewer 或 admin", "collectors use tokens; a user is a viewer, reviewer or admin"))
        }
        if let problem = PasswordHash.problem(password) { throw ServiceError(.invalid, "weak_password", problem) }
        let hash = try await Self.offloaded { try PasswordHash.make(password) }
        let record = try await storage.createPerson(name: name, role: role, unit: unit, passwordHash: hash, at: Date())
        try await audit(AuditEntry(actor: actor, action: "user.create", target: name, unit: unit.rawValue, details: ["role": .string(role.rawValue)]))
        return record
    }

    public func people() async throws -> [PersonRecord] { try await storage.people() }

    /// Sets a person's password; their sessions end.
    public func resetPassword(of name: String, to password: String, by actor: Actor) async throws -> PersonRecord {
        if let problem = PasswordHash.problem(password) { throw ServiceError(.invalid, "weak_password", problem) }
        let hash = try await Self.offloaded { try PasswordHash.make(password) }
        guard let record = try await storage.setPassword(of: name, hash: hash, at: Date()) else {
            throw ServiceError.notFound(L("没有名为 “\(name)” 的用户", "there is no user '\(name)'"))
        }
        try await audit(AuditEntry(actor: actor, action: "user.password", target: name, unit: record.unit.rawValue))
        return record
    }

    /// Disables a person at once; their sessions end.
    public func disablePerson(_ name: String, by actor: Actor) async throws -> PersonRecord {
        guard let record = try await storage.disablePerson(name, at: Date()) else {
            throw ServiceError.notFound(L("没有名为 “\(name)” 的用户", "there is no user '\(name)'"))
        }
        try await audit(AuditEntry(actor: actor, action: "user.disable", target: name, unit: record.unit.rawValue))
        return record
    }

    /// Signs a person in with their name and password: a new session
    /// whose id (for the browser's cookie) is kept only as its hash. A
    /// wrong password, an unknown name and a disabled person get the same
    /// answer; each try is in the audit log.
    public func signIn(name: String, password: String, address: String? = nil, now: Date = Date()) async throws -> (principal: Principal, session: String) {
        let found = try await storage.person(named: name)
        let matches = try await Self.offloaded {
            // An unknown name costs the same as a wrong password.
            PasswordHash.verify(password, against: found?.password ?? PasswordHash.decoy)
        }
        guard let found, matches, found.record.disabledAt == nil else {
            try await audit(
                AuditEntry(
                    actor: Actor(
                        name: name.isEmpty ? "?" : name, role: found?.record.role, unit: found?.record.unit ?? UnitCode("000000000000")!, tokenID: nil,
                        address: address),
                    action: "session.sign_in_refused", target: name, unit: found?.record.unit.rawValue,
                    details: ["reason": .string(found == nil ? "unknown_user" : matches ? "disabled" : "wrong_password")]))
            throw ServiceError.unauthenticated(L("用户名或密码不对,或用户已停用", "the name or the password is wrong, or the user is disabled"))
        }
        let principal = found.record.principal
        let session = TokenSecret.generate(prefix: Self.sessionPrefix)
        try await storage.createPersonSession(
            hash: TokenSecret.hash(session), personID: found.record.id, at: now, expiresAt: now.addingTimeInterval(Self.sessionLifetime))
        try await audit(AuditEntry(actor: Actor(principal, address: address), action: "session.sign_in", target: name, unit: principal.unit.rawValue))
        return (principal, session)
    }
}

extension PasswordHash {
    /// A hash no password matches, checked for unknown names so that they
    /// take as long as known ones.
    static let decoy = (try? make(TokenSecret.generate())) ?? ""
}
