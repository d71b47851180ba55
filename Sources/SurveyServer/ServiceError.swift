import SurveyCore

/// A request the service cannot do, in the service's own terms: what kind
/// of refusal, a machine code, and a message for a person. The HTTP layer
/// maps each kind to one status (`HTTPErrors`); the service knows nothing
/// of HTTP.
public struct ServiceError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Malformed or out of range: the caller must change the request.
        case invalid
        /// No credential, or one that is not valid.
        case unauthenticated
        /// A valid credential whose role or units do not allow this.
        case forbidden
        case notFound
        /// The state changed under the request (a resolved conflict, a name taken).
        case conflict
        /// Larger than a limit.
        case tooLarge
        /// A content encoding the server does not read.
        case unsupportedEncoding
        /// The database or the server cannot serve it now; nothing changed.
        case unavailable
        /// The caller has too many requests in flight; it may retry after
        /// the `retry_after` seconds in `details`.
        case busy
    }

    public var kind: Kind
    /// A stable code for programs: `invalid_period`, `payload_too_large`…
    public var code: String
    public var message: LocalizedText
    /// Extra fields for the error object (`limit`, `line`, `column`).
    public var details: [(String, JSONValue)]

    public init(_ kind: Kind, _ code: String, _ message: LocalizedText, details: [(String, JSONValue)] = []) {
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(code): \(message.text(.en))" }

    /// The error object the API answers with.
    public func json(_ language: Language) -> JSONValue {
        var error = JSONObject()
        error.appendUnique("code", .string(code))
        error.appendUnique("message", .string(message.text(language)))
        for (key, value) in details { error[key] = value }
        return ["error": .object(error)]
    }

    public static func unauthenticated(_ message: LocalizedText) -> ServiceError { ServiceError(.unauthenticated, "unauthorized", message) }
    public static func forbidden(_ message: LocalizedText) -> ServiceError { ServiceError(.forbidden, "forbidden", message) }
    public static func notFound(_ message: LocalizedText) -> ServiceError { ServiceError(.notFound, "not_found", message) }
    public static func invalid(_ message: LocalizedText, details: [(String, JSONValue)] = []) -> ServiceError {
        ServiceError(.invalid, "bad_request", message, details: details)
    }
    public static func tooLarge(_ limit: Int) -> ServiceError {
        ServiceError(
            .tooLarge, "payload_too_large", L("请求体超过 \(limit) 字节的上限", "the request body is larger than the limit of \(limit) bytes"),
            details: [("limit", .integer(limit))])
    }
}

extension ServiceError {
    /// A storage refusal in the service's terms, with its code when it has one.
    public init(_ error: StorageError) {
        switch error.kind {
        case .notFound: self.init(.notFound, error.code ?? "not_found", error.message)
        case .forbidden: self.init(.forbidden, error.code ?? "forbidden", error.message)
        case .conflict: self.init(.conflict, error.code ?? "conflict", error.message)
        case .invalid: self.init(.invalid, error.code ?? "bad_request", error.message)
        case .unavailable: self.init(.unavailable, error.code ?? "unavailable", error.message)
        }
    }
}
