import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import SurveyCore

/// Client framing errors (a request the HTTP parser cannot read) as the API
/// answers everything else: JSON, with an `X-Request-ID` that the log also
/// records, and a 4xx status, never 500.
enum FramingErrors {
    /// The status for a parser error: 431 for headers over the limit, else 400.
    static func status(_ error: HTTPParserError) -> HTTPResponse.Status {
        error == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
    }

    static func serviceError(_ error: HTTPParserError) -> ServiceError {
        error == .headerOverflow
            ? ServiceError(.invalid, "headers_too_large", L("请求头过大", "the request's headers are too large"))
            : ServiceError(.invalid, "bad_framing", L("HTTP 请求格式错误(\(error)),无法读取", "the HTTP request is malformed (\(error)) and cannot be read"))
    }

    static func response(_ error: HTTPParserError, language: Language) -> Response {
        var response = JSONResponse.make(serviceError(error).json(language), status: status(error))
        response.headers[.connection] = "close"
        return response
    }
}

/// Sits after the HTTP codec. A parser error between requests (a request
/// line or headers it cannot read: `Content-Length: -1`, two lengths,
/// headers over the limit) is answered here, since no request exists for
/// the router to answer; the connection is then closed. An error while a
/// request is being answered (a bad chunk size in its body) goes on to the
/// route reading the body, and `ErrorMiddleware` answers it. An error in
/// the rest of a body whose request was already answered (a 401 before the
/// body was read) closes the connection without a second answer.
final class FramingErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let logger: Logger
    /// Requests read whose answer has not ended yet.
    private var open = 0
    /// A request's head has come and its end not yet.
    private var reading = false
    private var answered = false

    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            open += 1
            reading = true
        case .end: reading = false
        case .body: break
        }
        guard !answered else { return }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { open -= 1 }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, open == 0, !answered else {
            context.fireErrorCaught(error)
            return
        }
        if reading {
            // The request was answered before its body was read; its rest cannot be read: close, answer nothing more.
            answered = true
            context.close(promise: nil)
            return
        }
        answered = true
        let id = RequestID().description
        logger.info(
            "framing error",
            metadata: ["hb.request.id": .string(id), "error": .string("\(parserError)"), "status": .stringConvertible(FramingErrors.status(parserError).code)])
        // No request headers were read, so no Accept-Language: the server's first language.
        var bytes = FramingErrors.serviceError(parserError).json(.zh).serializedBytes()
        bytes.append(10)
        let body = ByteBuffer(bytes: bytes)
        let head = HTTPResponse(
            status: FramingErrors.status(parserError),
            headerFields: [
                .contentType: "application/json; charset=utf-8", .contentLength: "\(body.readableBytes)", .connection: "close", .requestID: id,
            ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
