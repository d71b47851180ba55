import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SurveyCore

/// The language of a request's messages: `?lang=en`, else Accept-Language,
/// else Chinese.
enum RequestLanguage {
    /// A `lang` parameter that is neither `zh` nor `en` is refused, not ignored.
    static func problem(_ request: Request) -> ServiceError? {
        guard let explicit = request.uri.queryParameters["lang"], Language(code: String(explicit)) == nil else { return nil }
        return ServiceError(.invalid, "invalid_lang", L("参数 lang 只能是 zh 或 en", "the lang parameter must be zh or en"))
    }

    static func of(_ request: Request) -> Language {
        if let explicit = request.uri.queryParameters["lang"], let language = Language(code: String(explicit)) { return language }
        if let accept = request.headers[.acceptLanguage]?.lowercased(), accept.hasPrefix("en") { return .en }
        return .zh
    }
}

enum JSONResponse {
    /// Bodies at least this large are sent gzip-compressed to a client that
    /// accepts it; smaller ones would not shrink enough to pay for it.
    static let compressionThreshold = 1024

    /// A JSON answer; compressed with gzip when `request` accepts it and the
    /// body is large enough.
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], for request: Request? = nil) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        var bytes = value.serializedBytes()
        bytes.append(10)
        if let request {
            headers[.vary] = "Accept-Encoding"
            if bytes.count >= compressionThreshold, acceptsGzip(request.headers[.acceptEncoding]) {
                bytes = Gzip.compress(bytes, level: 5)
                headers[.contentEncoding] = "gzip"
            }
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Whether an `Accept-Encoding` value admits gzip (and not with `q=0`).
    static func acceptsGzip(_ value: String?) -> Bool {
        guard let value else { return false }
        for part in value.lowercased().split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let coding = fields.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let quality = fields.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
        return false
    }
}

/// Reading request bodies within a limit.
extension Request {
    /// The body's bytes, refused as too large past `limit` (a declared
    /// `Content-Length` over it before anything is read).
    func bytes(upTo limit: Int) async throws -> ByteBuffer {
        if let declared = headers[.contentLength].flatMap({ Int($0) }), declared > limit { throw ServiceError.tooLarge(limit) }
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ServiceError.tooLarge(limit)
        }
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-ID")!
    static let apiVersion = Self("X-VSurvey-API")!
    static let maxBatch = Self("X-VSurvey-Max-Batch")!
    static let maxBody = Self("X-VSurvey-Max-Body")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
}

extension Duration {
    /// Whole milliseconds, for log lines.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
