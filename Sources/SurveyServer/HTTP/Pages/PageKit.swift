import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import SurveyCore

/// What every web page shares: the templates (`Templates/*.mustache`,
/// rendered with swift-mustache, which escapes every value it is given),
/// the session cookie and its CSRF token, reading a posted form, and the
/// short pages (a message, the sign-in form).
enum Pages {
    /// The templates shipped with the server, loaded once. A template that
    /// does not parse is a fault of the build, found by the pages' tests.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        guard let directory = Bundle.module.url(forResource: "Templates", withExtension: nil),
            let files = try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        else { fatalError("the server's page templates are missing from its bundle") }
        for file in files where file.pathExtension == "mustache" {
            do {
                try library.register(String(decoding: try Data(contentsOf: file), as: UTF8.self), named: file.deletingPathExtension().lastPathComponent)
            } catch {
                fatalError("the page template \(file.lastPathComponent) does not parse: \(error)")
            }
        }
        return library
    }()

    /// Renders `template` with `values` as an HTML response.
    static func render(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let text = library.render(values, withTemplate: template) ?? ""
        return html(status, text, headers: headers)
    }

    static func html(_ status: HTTPResponse.Status, _ html: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Pages of this server may not be framed by another site's.
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Content-Security-Policy")!] = "frame-ancestors 'none'; form-action 'self'"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// A short page: a heading, a message and, for 401, the sign-in form
    /// that returns to `next`.
    static func message(
        _ status: HTTPResponse.Status, _ text: LocalizedText, language: Language, signIn next: String? = nil, headers: HTTPFields = [:]
    ) -> Response {
        let en = language == .en
        var values: [String: Any] = ["lang": en ? "en" : "zh-CN", "message": text.text(language), "t": PageText.strings(language)]
        if let next { values["signIn"] = ["next": next] }
        return render("message", values, status: status, headers: headers)
    }

    // MARK: The session

    static let cookieName = "vsurvey_session"

    /// The session cookie: HttpOnly, SameSite=Strict, for the whole server
    /// (the pages and the API read it); Secure when the browser reached the
    /// server over HTTPS (through a proxy that says so).
    static func sessionCookie(_ value: String, maxAge: Int, _ request: Request) -> String {
        let secure = request.headers[.xForwardedProto]?.lowercased() == "https" || request.headers[.origin]?.lowercased().hasPrefix("https://") == true
        return "\(cookieName)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (secure ? "; Secure" : "")
    }

    /// The session id a request's cookie carries.
    static func session(in request: Request) -> String? {
        for part in (request.headers[.cookie] ?? "").split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            if pair.hasPrefix(cookieName + "=") { return String(pair.dropFirst(cookieName.count + 1)) }
        }
        return nil
    }

    /// The CSRF token of a session: every form of a signed-in page carries
    /// it, and an API call made with the cookie sends it as `X-CSRF-Token`.
    /// Derived from the session id, which only the browser and the request
    /// hold (the database keeps the id's hash, from which this cannot be
    /// made), so nothing more is stored.
    static func csrfToken(_ session: String) -> String {
        Digests.sha256Hex(Array("vsurvey-csrf\u{0}".utf8) + Array(session.utf8))
    }

    /// Whether `token` is the session's, compared in constant time.
    static func csrfMatches(_ token: String?, session: String) -> Bool {
        guard let token else { return false }
        let expected = Array(csrfToken(session).utf8)
        let given = Array(token.utf8)
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether a post comes from this server's own pages: its `Origin`
    /// (when the browser sends one) names the host it was sent to, and
    /// `Sec-Fetch-Site` does not say cross-site.
    static func sameSite(_ request: Request) -> Bool {
        if let site = request.headers[.secFetchSite]?.lowercased(), site == "cross-site" { return false }
        guard let origin = request.headers[.origin], origin != "null" else { return request.headers[.origin] == nil }
        guard let host = request.head.authority else { return false }
        let authority = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
        return authority.lowercased() == host.lowercased()
    }

    /// Whether a request that changes something may go on: one made with a
    /// token in its header carries no ambient credential; one made with the
    /// session cookie must come from this server's pages and carry the
    /// session's CSRF token.
    static func mayChange(_ request: Request, _ context: ServerRequestContext, token: String?) -> Bool {
        guard let session = context.session else { return true }
        return sameSite(request) && csrfMatches(token, session: session)
    }

    /// The fields of an `application/x-www-form-urlencoded` body.
    static func formFields(_ request: Request) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    /// Where to go after signing in: only a page of this server, as a
    /// plain path under `/reports/` or `/workspace` (and its query): no
    /// control characters or spaces (looked for scalar by scalar: "\r\n"
    /// is one Character), no backslash, no empty or dot segments, neither
    /// as sent nor once its percent escapes are undone.
    static func safeNext(_ next: String?) -> String {
        let fallback = "/workspace"
        guard let next else { return fallback }
        let path = String(next.prefix { $0 != "?" && $0 != "#" })
        func plain(_ text: String) -> Bool {
            guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0 != "\\" }) else { return false }
            let segments = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            let page = text.hasPrefix("/reports/") || text == "/workspace" || text.hasPrefix("/workspace/") || text.hasPrefix("/workspace?")
            return page && segments.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
        }
        guard plain(next), plain(path), let decoded = path.removingPercentEncoding, plain(decoded) else { return fallback }
        return next
    }

    /// A path with its query, percent-escaped as a query value needs.
    static func query(_ path: String, _ items: [(String, String?)]) -> String {
        let present = items.compactMap { name, value in value.map { (name, $0) } }
        guard !present.isEmpty else { return path }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return path + "?"
            + present.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
    }
}
