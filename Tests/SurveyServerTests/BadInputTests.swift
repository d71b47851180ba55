import Foundation
import HTTPTypes
import SurveyCore
import SurveyFixtures
import SurveySQL
import Testing

@testable import SurveyServer

@Suite("Bad input is refused with a clear error and leaves the store untouched")
struct BadInputTests {
    func error(_ reply: HTTPReply) -> (code: String?, message: String) {
        let json = try? reply.json()
        return (json?.at("error", "code")?.stringValue, json?.at("error", "message")?.stringValue ?? reply.text)
    }

    @Test("limits, malformed bodies and hostile JSON", arguments: TestDatabase.all)
    func refusals(database: TestDatabase) async throws {
        try await LiveServer.with(database, limits: ServerLimits(maxBodyBytes: 256 * 1024, maxDecodedBytes: 1 << 20, maxBatch: 20)) { server in
            let token = try await server.token(.admin)
            var maker = SurveyMaker(seed: 20)
            func post(_ body: [UInt8], _ headers: [(String, String)] = []) async throws -> HTTPReply {
                try await server.send("POST", "/api/v1/surveys", token: token, headers: headers, body: body)
            }

            // Too many surveys in a batch.
            let tooMany = try await post(Array(batch((0..<21).map { maker.survey(village: $0) }).utf8))
            #expect(tooMany.status == 413)
            #expect(error(tooMany).code == "batch_too_large")
            #expect(error(tooMany).message.contains("20"))
            #expect(try tooMany.json().at("error", "limit")?.int == 20)

            // A body over the limit, declared by Content-Length or sent chunked.
            let big = [UInt8](repeating: UInt8(ascii: " "), count: 300 * 1024)
            let declared = try await post(big)
            #expect(declared.status == 413)
            #expect(error(declared).message.contains("262144"))
            var chunked: [UInt8] = []
            for _ in 0..<5 { chunked += Array("10000\r\n".utf8) + [UInt8](repeating: 32, count: 65536) + Array("\r\n".utf8) }
            chunked += Array("0\r\n\r\n".utf8)
            let streamed = try await post(chunked, [("Transfer-Encoding", "chunked")])
            #expect(streamed.status == 413)

            // gzip: damaged, and a small body that inflates past the limit.
            let gzipped = Gzip.compress(Array(batch([maker.survey(village: 1)]).utf8))
            let damaged = try await post(Array(gzipped.prefix(gzipped.count / 2)), [("Content-Encoding", "gzip")])
            #expect(damaged.status == 400)
            #expect(error(damaged).message.contains("gzip"))
            let bomb = Gzip.compress([UInt8](repeating: UInt8(ascii: " "), count: 4 << 20))
            #expect(bomb.count < 256 * 1024)
            let inflated = try await post(bomb, [("Content-Encoding", "gzip")])
            #expect(inflated.status == 413)
            #expect(error(inflated).message.contains("decompressed"))
            #expect(try await post(Array("{}".utf8), [("Content-Encoding", "br")]).status == 415)

            // Malformed JSON says where.
            let malformed = try await post(Array("{\"surveys\": [\n  {\"instance_id\": }\n]}".utf8))
            #expect(malformed.status == 400)
            #expect(try malformed.json().at("error", "line")?.int == 2)
            #expect(try malformed.json().at("error", "column")?.int == 19)
            // Invalid UTF-8, absurd numbers, deep nesting, the wrong shape.
            let badUTF8 = try await post(Array("{\"surveys\": [\"".utf8) + [0xC3, 0x28] + Array("\"]}".utf8))
            #expect(badUTF8.status == 400)
            #expect(error(badUTF8).message.contains("UTF-8"))
            #expect(try await post(Array("{\"surveys\": [{\"revision\": 1e999}]}".utf8)).status == 400)
            let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
            let nested = try await post(Array("{\"surveys\": \(deep)}".utf8))
            #expect(nested.status == 400)
            #expect(error(nested).message.contains("deep") || error(nested).message.contains("nest"))
            let extra = try await post(Array("{\"surveys\": [], \"force\": true}".utf8))
            #expect(extra.status == 400)
            #expect(error(extra).message.contains("force"))
            #expect(try await post(Array("[1, 2]".utf8)).status == 400)

            // Per survey: unknown envelope keys and absurd revisions are rejected by name.
            var survey = maker.survey(village: 2).json.objectValue!
            survey["priority"] = "high"
            var hugeRevision = maker.survey(village: 3).json.objectValue!
            hugeRevision["revision"] = .integer(Int.max)
            let perSurvey = try await post(Array(JSONValue.object(["surveys": [.object(survey), .object(hugeRevision)]]).serialized().utf8))
            #expect(perSurvey.status == 200)
            let reply = try perSurvey.json()
            #expect(reply.outcomes == ["rejected", "rejected"])
            #expect(reply.at("results", 0, "errors", 0, "path")?.stringValue == "priority")
            #expect(reply.at("results", 1, "errors", 0, "path")?.stringValue == "revision")

            // Nothing was stored, and the server still answers.
            #expect(try await server.storage.counts().revisions == 0)
            #expect(try await server.send("GET", "/health").status == 200)
            let fine = try await post(Array(batch([maker.survey(village: 4)]).utf8))
            #expect(try fine.json().outcomes == ["created"])
        }
    }

    @Test("unknown routes and oversized resolutions get JSON errors with the request id", arguments: TestDatabase.all)
    func routerErrors(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let admin = try await server.token(.admin)
            let missing = try await server.send("GET", "/api/v1/nothing-here", token: admin)
            #expect(missing.status == 404)
            #expect(error(missing).message.contains("openapi.json"))
            #expect(missing.header("X-Request-ID") != nil)
            // A route that exists, asked with a method it does not take: 405 and what it takes.
            for (method, path, allowed) in [
                ("DELETE", "/api/v1/conflicts", "GET"), ("PUT", "/api/v1/handshake", "HEAD, GET"), ("GET", "/api/v1/conflicts/1/resolve", "POST"),
                ("PATCH", "/api/v1/surveys/0123abcd-0000-4000-8000-000000000000", "GET"),
            ] {
                let wrong = try await server.send(method, path, token: admin)
                #expect(wrong.status == 405 && wrong.header("Allow") == allowed, "\(method) \(path): \(wrong.status) \(wrong.header("Allow") ?? "-")")
                #expect(error(wrong).code == "method_not_allowed" && wrong.header("X-Request-ID") != nil)
            }
            // A literal route stands for its path alone: /reports/login is not /reports/{form}.
            let options = try await server.send("OPTIONS", "/reports/login")
            #expect(options.status == 405 && options.header("Allow") == "POST", "\(options.header("Allow") ?? "-")")
            #expect(try await server.send("GET", "/api/v1/conflicts?all=maybe", token: admin).status == 400)
            // A language the server does not speak is refused, not ignored: JSON for the API, a page for the pages.
            let badLanguage = try await server.send("GET", "/api/v1/forms?lang=fr", token: admin)
            #expect(badLanguage.status == 400 && error(badLanguage).code == "invalid_lang")
            let badPage = try await server.send("GET", "/reports/village-branch?lang=fr", token: admin)
            #expect(badPage.status == 400 && badPage.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(try await server.send("GET", "/api/v1/forms?lang=en", token: admin).status == 200)
            let huge = [UInt8](repeating: UInt8(ascii: " "), count: 100 * 1024)
            let resolve = try await server.send("POST", "/api/v1/conflicts/1/resolve", token: admin, body: huge)
            #expect(resolve.status == 413)
            #expect(error(resolve).code == "payload_too_large")
        }
    }

    @Test("a request the HTTP parser cannot read is answered 400 (431 for huge headers) in JSON with a request id, never 500 or an empty body")
    func framingErrors() async throws {
        try await LiveServer.with(.sqlite) { server in
            let admin = try await server.token(.admin)
            let start = "POST /api/v1/surveys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(admin)\r\nContent-Type: application/json\r\n"
            let cases: [(String, String, Int)] = [
                ("negative length", start + "Content-Length: -1\r\n\r\n{}", 400),
                ("two lengths", start + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
                ("a 100 KB header", start + "X-Filler: " + String(repeating: "a", count: 100 * 1024) + "\r\n\r\n", 431),
                ("a bad chunk size, in the body a route reads", start + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400),
                ("a request line that is not HTTP", "GET /health HTTP/1.1 extra\r\n\r\n", 400),
            ]
            for (what, request, status) in cases {
                let reply = try await HTTPTestClient.raw(port: server.port, Array(request.utf8))
                #expect(reply.status == status, "\(what): \(reply.status) \(reply.text)")
                #expect(reply.header("X-Request-ID")?.isEmpty == false, "\(what): no request id")
                #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true, "\(what)")
                #expect(error(reply).code == (status == 431 ? "headers_too_large" : "bad_framing"), "\(what): \(reply.text)")
            }
            // A request answered before its body is read (no token: 401), whose body then
            // cannot be read: one answer, the connection closed, no second answer.
            let early = try await HTTPTestClient.raw(
                port: server.port,
                Array("POST /api/v1/surveys HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".utf8))
            #expect(early.status == 401, "\(early.status) \(early.text)")
            // The server goes on serving.
            #expect(try await server.send("GET", "/health").status == 200)
        }
    }

    @Test("messages follow Accept-Language: Chinese by default, English on request", arguments: TestDatabase.all)
    func languages(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let chinese = try await HTTPTestClient.send(port: server.port, "GET", "/api/v1/forms")
            #expect(chinese.status == 401)
            #expect(error(chinese).message.contains("令牌"))
            let english = try await server.send("GET", "/api/v1/forms")
            #expect(error(english).message.contains("token"))
            #expect(english.header("X-Request-ID")?.isEmpty == false)
        }
    }
}

@Suite("Errors become HTTP answers in one place")
struct HTTPErrorMappingTests {
    @Test("each engine's failures a client can act on answer the same status on SQLite and PostgreSQL: busy, full and gone are 503, a lost race 409")
    func engineFailures() {
        for kind in [SQLError.Kind.busy, .full, .unavailable] {
            let mapped = HTTPErrors.serviceError(SQLError(kind, "engine's words"))
            #expect(mapped?.kind == .unavailable && mapped?.code == "unavailable", "\(kind)")
            #expect(HTTPErrors.status(.unavailable) == .serviceUnavailable)
        }
        #expect(HTTPErrors.serviceError(SQLError(.constraint, "unique"))?.kind == .conflict)
        #expect(HTTPErrors.status(.conflict) == .conflict)
        // A statement the database refused for another reason is the server's fault: 500, details in the log.
        #expect(HTTPErrors.serviceError(SQLError(.failed, "syntax error")) == nil)
        // The engine's own words never reach the client.
        #expect(HTTPErrors.serviceError(SQLError(.busy, "database is locked at /srv/x.sqlite"))?.message.text(.en).contains("/srv") == false)
    }

    @Test("the storage's refusals and the service's keep their meaning")
    func domainErrors() {
        let cases: [(StorageError.Kind, ServiceError.Kind, Int)] = [
            (.notFound, .notFound, 404), (.forbidden, .forbidden, 403), (.conflict, .conflict, 409), (.invalid, .invalid, 400),
            (.unavailable, .unavailable, 503),
        ]
        for (storage, service, status) in cases {
            let mapped = HTTPErrors.serviceError(StorageError(storage, L("原因", "reason")))
            #expect(mapped?.kind == service && mapped?.message.text(.en) == "reason")
            #expect(HTTPErrors.status(service).code == status)
        }
        #expect(HTTPErrors.status(.unauthenticated).code == 401 && HTTPErrors.status(.tooLarge).code == 413)
        #expect(HTTPErrors.status(.unsupportedEncoding).code == 415)
    }
}
