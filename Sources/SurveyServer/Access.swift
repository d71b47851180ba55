import Foundation
import SurveyCore

/// What a token may do.
public enum Role: String, Sendable, CaseIterable, Codable {
    /// Sends surveys for units under its unit code.
    case collector
    /// Reads surveys, conflicts and reports under its unit code.
    case viewer
    /// Everything under its unit code, including resolving conflicts.
    case admin

    public var label: LocalizedText {
        switch self {
        case .collector: return L("采集员", "collector")
        case .viewer: return L("查看者", "viewer")
        case .admin: return L("管理员", "admin")
        }
    }

    public var maySend: Bool { self != .viewer }
    public var mayRead: Bool { self != .collector }
    public var mayResolve: Bool { self == .admin }
}

/// The holder of a valid token, as a request sees it.
public struct Principal: Sendable, Equatable {
    public var tokenID: Int64
    public var name: String
    public var role: Role
    /// Everything under this code is in scope.
    public var unit: UnitCode

    public init(tokenID: Int64, name: String, role: Role, unit: UnitCode) {
        self.tokenID = tokenID
        self.name = name
        self.role = role
        self.unit = unit
    }

    public func covers(_ code: UnitCode) -> Bool { code.isUnder(unit) }
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

    public static func generate() -> String {
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
        SHA256.hex(of: secret.utf8)
    }
}
