import Foundation
import Hummingbird
import SurveyCore

/// Query parameters and body fields that several routes read, each read
/// and refused the same way wherever it appears.
enum RequestFields {
    /// A query parameter as sent (empty included), or nil when absent.
    static func raw(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[name[...]].map(String.init)
    }

    /// `scope`: a 12-digit unit code, or `fallback` when there is none.
    static func scope(_ text: String?, default fallback: UnitCode) throws(ServiceError) -> UnitCode {
        guard let text else { return fallback }
        guard let code = UnitCode(text) else {
            throw ServiceError(.invalid, "invalid_scope", L("scope 应为 12 位单位代码", "scope must be a 12-digit unit code"))
        }
        return code
    }

    /// `review`: a review state, when one is asked for.
    static func reviewState(_ text: String?) throws(ServiceError) -> ReviewState? {
        guard let text else { return nil }
        guard let state = ReviewState(rawValue: text) else {
            throw ServiceError(
                .invalid, "invalid_review", L("review 应为 pending、approved、accepted 或 returned", "review must be pending, approved, accepted or returned"))
        }
        return state
    }

    /// `level`: the level a review decision was made at, with `review`.
    static func reviewLevel(_ text: String?) throws(ServiceError) -> UnitLevel? {
        guard let text else { return nil }
        guard let level = UnitLevel(rawValue: text), level.prefixLength < 12 else {
            throw ServiceError(
                .invalid, "invalid_level", L("level 应为 province、city、county 或 township", "level must be province, city, county or township"))
        }
        return level
    }

    /// The largest cursor or event number a request may name (18 digits, as the document says).
    static let largestCursor: Int64 = 999_999_999_999_999_999

    /// An optional whole-number query parameter within `range`.
    static func integer(_ text: String?, name: String, range: ClosedRange<Int64>) throws(ServiceError) -> Int64? {
        guard let text else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw ServiceError(
                .invalid, "invalid_\(name)",
                L(
                    "\(name) 应为 \(range.lowerBound) 到 \(range.upperBound) 之间的整数",
                    "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)"))
        }
        return value
    }

    /// A JSON object body with only the `allowed` keys.
    static func object(_ request: Request, _ service: SurveyService, allowed: Set<String>) async throws -> JSONObject {
        let buffer = try await request.bytes(upTo: 1 << 20)
        let document = try service.decodeBody(Array(buffer.readableBytesView), gzip: false)
        guard case .object(let object) = document else {
            throw ServiceError.invalid(L("请求体应为 JSON 对象", "the body must be a JSON object"))
        }
        for key in object.keys where !allowed.contains(key) {
            throw ServiceError.invalid(
                L("未知的键 “\(key)”(可用:\(allowed.sorted().joined(separator: "、")))", "unknown key '\(key)' (use \(allowed.sorted().joined(separator: ", ")))"))
        }
        return object
    }

    /// A body's optional `comment`: text or null.
    static func comment(_ body: JSONObject) throws(ServiceError) -> String? {
        switch body["comment"] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw ServiceError.invalid(L("comment 应为文字", "comment must be a string"))
        }
    }
}
