import CCurl
import CCurlShim
import Foundation
import SurveyCore

/// A request as the client sends it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Compress the body with gzip and say so in `Content-Encoding`.
    public var gzipBody: Bool

    public init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil, gzipBody: Bool = false) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.gzipBody = gzipBody
    }
}

/// A response as received; the body is already decompressed.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Bytes sent and received on the wire for this exchange (compressed).
    public var bytesSent: Int
    public var bytesReceived: Int
    /// Connections opened for this exchange: 0 when an earlier one was reused.
    public var newConnections: Int

    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.last { $0.name.lowercased() == wanted }?.value
    }
}

/// What went wrong, in words a field worker can act on.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The host name did not resolve (no network, or a wrong address).
        case dns
        /// Nothing listens there, or a firewall refused.
        case refused
        /// No answer in time, or a transfer that crawled below the low-speed limit.
        case timeout
        /// TLS failed: certificate not trusted, wrong host, pinned key differs.
        case tls
        /// The proxy could not be reached or refused.
        case proxy
        /// The connection broke mid-transfer.
        case connectionLost
        /// A bad URL or option.
        case invalid
        case other
    }

    public var kind: Kind
    public var message: LocalizedText
    /// libcurl's own words, for logs.
    public var detail: String

    public var description: String { "\(message.text(.en)) (\(detail))" }

    /// Whether sending again later may succeed.
    public var isTransient: Bool { kind != .invalid && kind != .tls }
}

/// Options that hold for every request of a client.
public struct HTTPClientOptions: Sendable {
    public var connectTimeout: Duration = .seconds(15)
    /// The whole exchange, connect included.
    public var totalTimeout: Duration = .seconds(300)
    /// Abort a transfer slower than `lowSpeedBytesPerSecond` for `lowSpeedTime`.
    public var lowSpeedBytesPerSecond = 50
    public var lowSpeedTime: Duration = .seconds(30)
    /// A PEM file of certificate authorities to trust instead of the system's.
    public var caFile: String?
    /// `sha256//BASE64` (one or more, separated by `;`) or a PEM/DER public key file.
    public var pinnedPublicKey: String?
    public var userAgent = "vsurvey"

    public init() {}
}

/// A small HTTP client on one libcurl easy handle, reused so that
/// connections (and TLS sessions) are kept between requests. TLS peer and
/// host verification are always on. Proxies come from the usual environment
/// variables (`http_proxy`, `https_proxy`, `all_proxy`, `no_proxy`), which
/// libcurl reads itself. One request at a time; `send` may be called from
/// any thread.
public final class HTTPClient: @unchecked Sendable {
    public let options: HTTPClientOptions
    private let handle: UnsafeMutableRawPointer
    private let lock = NSLock()

    public init(options: HTTPClientOptions = HTTPClientOptions()) {
        precondition(ccurl_global_init_once() == CURLE_OK, "libcurl could not be initialised")
        self.options = options
        guard let handle = curl_easy_init() else { fatalError("libcurl could not make a handle (out of memory)") }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// Sends a request and waits for the whole response.
    public func send(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        lock.lock()
        defer { lock.unlock() }
        curl_easy_reset(handle)
        let collector = Collector()
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        var body = request.body
        var headers = request.headers
        if request.gzipBody, let plain = body {
            body = Gzip.compress(plain)
            headers.append(("Content-Encoding", "gzip"))
        }
        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        // libcurl would otherwise add `Expect: 100-continue` to large bodies
        // and wait for the server before sending them.
        list = curl_slist_append(list, "Expect:")
        defer { curl_slist_free_all(list) }

        func check(_ code: CURLcode) throws(HTTPClientError) {
            if code != CURLE_OK { throw Self.error(code, detail: String(cString: curl_easy_strerror(code))) }
        }
        let unmanaged = Unmanaged.passUnretained(collector)
        // libcurl copies string options, so Swift's temporary C strings will do.
        try check(ccurl_setopt_string(handle, CURLOPT_URL, request.url))
        try check(ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(options.connectTimeout)))
        try check(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(options.totalTimeout)))
        try check(ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedBytesPerSecond))
        try check(ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Self.milliseconds(options.lowSpeedTime) / 1000)))
        try check(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1))
        try check(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2))
        try check(ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        try check(ccurl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""))
        try check(ccurl_setopt_string(handle, CURLOPT_USERAGENT, options.userAgent))
        if let caFile = options.caFile { try check(ccurl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
        if let pinned = options.pinnedPublicKey { try check(ccurl_setopt_string(handle, CURLOPT_PINNEDPUBLICKEY, pinned)) }
        try check(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list))
        try check(ccurl_setopt_write_function(handle, Self.receiveBody))
        try check(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, unmanaged.toOpaque()))
        try check(ccurl_setopt_header_function(handle, Self.receiveHeader))
        try check(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, unmanaged.toOpaque()))

        let method = request.method.uppercased()
        switch method {
        case "GET": try check(ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1))
        case "HEAD": try check(ccurl_setopt_long(handle, CURLOPT_NOBODY, 1))
        case "POST": break
        default: try check(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method))
        }
        if body != nil || method == "POST" {
            // COPYPOSTFIELDS: libcurl keeps its own copy for the transfer.
            var bytes = body ?? []
            bytes.append(0)  // never an empty buffer, and the size says where it ends
            try check(ccurl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count - 1)))
            let copied = bytes.withUnsafeMutableBytes { ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, $0.baseAddress) }
            try check(copied)
            if method == "GET" || method == "HEAD" { try check(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)) }
        }

        let code = curl_easy_perform(handle)
        if code != CURLE_OK {
            let detail = String(cString: errorBuffer)
            throw Self.error(code, detail: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        var uploaded: curl_off_t = 0
        var downloaded: curl_off_t = 0
        var headerSize = 0
        var requestSize = 0
        var connections = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connections)
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        _ = ccurl_getinfo_off(handle, CURLINFO_SIZE_UPLOAD_T, &uploaded)
        _ = ccurl_getinfo_off(handle, CURLINFO_SIZE_DOWNLOAD_T, &downloaded)
        _ = ccurl_getinfo_long(handle, CURLINFO_HEADER_SIZE, &headerSize)
        _ = ccurl_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &requestSize)
        return HTTPResponse(
            status: status, headers: collector.finalHeaders, body: collector.body, bytesSent: Int(uploaded) + requestSize,
            bytesReceived: Int(downloaded) + headerSize, newConnections: connections)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Gathers the body and the headers of the last response (a redirect or
    /// `100 Continue` starts a new header block).
    final class Collector: @unchecked Sendable {
        var body: [UInt8] = []
        var headerLines: [String] = []

        var finalHeaders: [(name: String, value: String)] {
            headerLines.compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                let name = String(line[..<colon])
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                return (name, value)
            }
        }
    }

    private static let receiveBody: ccurl_data_callback = { data, size, count, context in
        guard let data, let context else { return 0 }
        let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
        let length = size * count
        data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            collector.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
        }
        return length
    }

    private static let receiveHeader: ccurl_data_callback = { data, size, count, context in
        guard let data, let context else { return 0 }
        let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
        let length = size * count
        let line = data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        }.trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            collector.headerLines = []
        } else if !line.isEmpty {
            collector.headerLines.append(line)
        }
        return length
    }

    /// libcurl's result codes, said so a person can act on them.
    static func error(_ code: CURLcode, detail: String) -> HTTPClientError {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST:
            return HTTPClientError(
                kind: .dns, message: L("找不到服务器地址(域名解析失败):请检查网络和服务器地址", "the server's name did not resolve: check the network and the server address"),
                detail: detail)
        case CURLE_COULDNT_RESOLVE_PROXY:
            return HTTPClientError(kind: .proxy, message: L("找不到代理服务器地址", "the proxy's name did not resolve"), detail: detail)
        case CURLE_COULDNT_CONNECT:
            return HTTPClientError(
                kind: .refused, message: L("无法连接服务器:对方拒绝连接或网络不通", "cannot connect to the server: the connection was refused or the network is down"),
                detail: detail)
        case CURLE_OPERATION_TIMEDOUT:
            return HTTPClientError(
                kind: .timeout,
                message: detail.contains("too slow")
                    ? L("网络太慢,传输已中止", "the network is too slow; the transfer was stopped") : L("服务器没有及时响应", "the server did not answer in time"),
                detail: detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE:
            let message =
                code == CURLE_SSL_PINNEDPUBKEYNOTMATCH
                ? L("服务器的公钥与固定的公钥不符:可能有人冒充服务器", "the server's public key does not match the pinned key: someone may be posing as the server")
                : L("安全连接(TLS)失败:服务器证书不受信任或与地址不符", "the secure connection (TLS) failed: the server's certificate is not trusted or does not match its address")
            return HTTPClientError(kind: .tls, message: message, detail: detail)
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            return HTTPClientError(kind: .connectionLost, message: L("连接在传输中断开", "the connection broke during the transfer"), detail: detail)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION:
            return HTTPClientError(kind: .invalid, message: L("服务器地址或选项无效", "the server address or an option is not valid"), detail: detail)
        default:
            if detail.lowercased().contains("proxy") {
                return HTTPClientError(kind: .proxy, message: L("代理服务器出错", "the proxy failed"), detail: detail)
            }
            return HTTPClientError(kind: .other, message: L("网络错误", "network error"), detail: "\(detail) (libcurl \(code.rawValue))")
        }
    }
}
