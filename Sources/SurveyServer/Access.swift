import Foundation
import SurveyCore

/// What a token may do.
public enum Role: String, Sendable, CaseIterable, Codable {
    /// Sends surveys for units under its unit code.
    case collector
    /// Reads surveys, conflicts and reports under its unit code.
    case viewer
    /// Reads like a viewer, and approves or returns the surveys under its
    /// unit at its unit's level (a township's or the county's reviewer).
    case reviewer
    /// Everything under its unit code, including resolving conflicts.
    case admin

    public var label: LocalizedText {
        switch self {
        case .collector: return L("采集员", "collector")
        case .viewer: return L("查看者", "viewer")
        case .reviewer: return L("审核员", "reviewer")
        case .admin: return L("管理员", "admin")
        }
    }

    public var maySend: Bool { self == .collector || self == .admin }
    public var mayRead: Bool { self != .collector }
    public var mayReview: Bool { self == .reviewer || self == .admin }
    public var mayResolve: Bool { self == .admin }

    /// Whether this role has `permission`.
    public func allows(_ permission: Permission) -> Bool {
        switch permission {
        case .signedIn: return true
        case .send: return maySend
        case .read: return mayRead
        case .review: return mayReview
        case .resolve, .audit: return mayResolve
        }
    }
}

/// What a route or a service call needs of its caller's role; every route
/// declares one (`ServerRoutes`).
public enum Permission: Sendable, Equatable {
    /// Any valid token.
    case signedIn
    /// Sending surveys: collectors and admins.
    case send
    /// Reading surveys, conflicts and reports: viewers and admins.
    case read
    /// Approving, returning and reopening surveys: reviewers and admins.
    case review
    /// Resolving conflicts: admins.
    case resolve
    /// Reading the audit log: admins.
    case audit

    /// Why a role without this permission is refused.
    public var refusal: LocalizedText {
        switch self {
        case .signedIn: return L("需要令牌", "a token is needed")
        case .send: return L("只有采集员和管理员令牌能上报调查", "only collector and admin tokens can send surveys")
        case .read: return L("采集员令牌只能上报,不能查看", "a collector token can send surveys but not read them")
        case .review: return L("只有审核员和管理员令牌能审核调查", "only reviewer and admin tokens can review surveys")
        case .resolve: return L("只有管理员令牌能处理冲突", "only an admin token can resolve conflicts")
        case .audit: return L("只有管理员令牌能查看审计记录", "only an admin token can read the audit log")
        }
    }
}

/// The holder of a valid token, as a request sees it.
public struct Principal: Sendable, Equatable {
    public var tokenID: Int64
    public var name: String
    public var role: Role
    /// Everything under this code is in scope.
    public var unit: UnitCode
    /// A person signed in with name and password (then `tokenID` is 0).
    public var personID: Int64?

    public init(tokenID: Int64, name: String, role: Role, unit: UnitCode, personID: Int64? = nil) {
        self.tokenID = tokenID
        self.name = name
        self.role = role
        self.unit = unit
        self.personID = personID
    }

    public func covers(_ code: UnitCode) -> Bool { code.isUnder(unit) }

    /// Refuses a principal whose role lacks `permission`.
    public func require(_ permission: Permission) throws(ServiceError) {
        guard role.allows(permission) else { throw ServiceError.forbidden(permission.refusal) }
    }

    /// Refuses a scope (a report's, a browse's, an export's) outside this principal's.
    public func requireScope(_ scope: UnitCode) throws(ServiceError) {
        guard covers(scope) else {
            throw ServiceError.forbidden(L("\(scope) 不在令牌的范围 \(unit) 内", "\(scope) is outside the token's scope \(unit)"))
        }
    }

    /// Refuses a unit (as stored, possibly damaged) outside this principal's scope.
    public func requireScope(_ unit: String, _ refusal: @autoclosure () -> LocalizedText) throws(ServiceError) {
        guard let code = UnitCode(unit), covers(code) else { throw ServiceError.forbidden(refusal()) }
    }
}

/// A token as the database keeps it: never the secret, only its hash.
public struct TokenRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var role: Role
    public var unit: UnitCode
    public var createdAt: Date
    public var revokedAt: Date?

    public var principal: Principal { Principal(tokenID: id, name: name, role: role, unit: unit) }
}

/// Bearer token secrets: 32 random bytes, printed once, stored as SHA-256.
public enum TokenSecret {
    public static let prefix = "vst_"

    /// A new secret: `prefix` and 256 random bits in base64url.
    public static func generate(prefix: String = prefix) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var text = prefix
        // Base64url without padding, 6 bits at a time.
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                text.append(alphabet[Int((buffer >> UInt32(bits)) & 63)])
            }
        }
        if bits > 0 { text.append(alphabet[Int((buffer << UInt32(6 - bits)) & 63)]) }
        return text
    }

    /// What the database stores and looks up.
    public static func hash(_ secret: String) -> String {
        Digests.sha256Hex(secret.utf8)
    }
}

/// Who does something that the audit log records: a token's holder (with
/// the address the request came from), or the server's operator at the
/// command line.
public struct Actor: Sendable, Equatable {
    public var name: String
    public var role: Role?
    /// Everything under this code is in scope.
    public var unit: UnitCode
    public var tokenID: Int64?
    /// The request's address, or `cli` for the command line.
    public var address: String?

    public init(name: String, role: Role?, unit: UnitCode, tokenID: Int64?, address: String?) {
        self.name = name
        self.role = role
        self.unit = unit
        self.tokenID = tokenID
        self.address = address
    }

    /// A token's holder or a signed-in person, asking from `address`.
    public init(_ principal: Principal, address: String?) {
        self.init(
            name: principal.name, role: principal.role, unit: principal.unit, tokenID: principal.personID == nil ? principal.tokenID : nil,
            address: address)
    }

    /// The operator of `vsurvey-server` on the server's own machine, who
    /// sees everything.
    public static func console(user: String = ProcessInfo.processInfo.environment["USER"] ?? "operator") -> Actor {
        Actor(name: "cli:\(user)", role: nil, unit: UnitCode("000000000000")!, tokenID: nil, address: "cli")
    }

    public func covers(_ code: UnitCode) -> Bool { code.isUnder(unit) }
}

/// A person who signs in to the web pages with a name and a password: a
/// county clerk, a township's reviewer. Devices and scripts use tokens.
public struct PersonRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var role: Role
    public var unit: UnitCode
    public var createdAt: Date
    public var disabledAt: Date?
    public var passwordChangedAt: Date

    public var principal: Principal { Principal(tokenID: 0, name: name, role: role, unit: unit, personID: id) }
}
