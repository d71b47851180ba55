import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer
import Testing

/// The OpenAPI document in the repository, read as plain JSON, with a
/// validator for the part of JSON Schema it uses.
struct OpenAPIDocument {
    let root: JSONValue

    init() throws {
        let url = Fixtures.root.appendingPathComponent("Sources/SurveyServer/openapi.json")
        root = try JSONParser().parse(Data(contentsOf: url))
    }

    /// Every operation as (METHOD, path).
    var operations: [APIRoute] {
        (root["paths"]?.objectValue ?? JSONObject()).flatMap { path, item in
            (item.objectValue ?? JSONObject()).keys.map { APIRoute(method: $0.uppercased(), path: path) }
        }
    }

    func responses(_ route: APIRoute) -> JSONObject {
        root.at("paths", route.path, route.method.lowercased(), "responses")?.objectValue ?? JSONObject()
    }

    func resolve(_ schema: JSONValue) -> JSONValue {
        guard let reference = schema["$ref"]?.stringValue else { return schema }
        let name = String(reference.split(separator: "/").last!)
        return root.at("components", "schemas", name) ?? .null
    }

    /// Problems of `value` against `schema`, each with a JSON path.
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        let schema = resolve(schema)
        var found: [String] = []
        if let options = schema["oneOf"]?.arrayValue {
            let matching = options.filter { problems(value, $0, at: path).isEmpty }.count
            if matching != 1 { return ["\(path): matches \(matching) of the oneOf schemas, not exactly one"] }
        }
        if let type = schema["type"] {
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            let actual: String
            switch value {
            case .null: actual = "null"
            case .bool: actual = "boolean"
            case .integer: actual = "integer"
            case .number: actual = "number"
            case .string: actual = "string"
            case .array: actual = "array"
            case .object: actual = "object"
            }
            if !allowed.contains(actual) && !(actual == "integer" && allowed.contains("number")) {
                return ["\(path): \(actual), expected \(allowed.joined(separator: " or "))"]
            }
        }
        if let options = schema["enum"]?.arrayValue, !options.contains(value) {
            found.append("\(path): \(value.serialized()) is not one of \(JSONValue.array(options).serialized())")
        }
        if let pattern = schema["pattern"]?.stringValue, let text = value.stringValue, text.range(of: pattern, options: .regularExpression) == nil {
            found.append("\(path): '\(text)' does not match \(pattern)")
        }
        if let minimum = schema["minimum"]?.doubleValue, let number = value.doubleValue, number < minimum {
            found.append("\(path): \(number) below \(minimum)")
        }
        if case .object(let object) = value {
            let properties = schema["properties"]?.objectValue ?? JSONObject()
            for required in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[required] == nil {
                found.append("\(path): missing \(required)")
            }
            for (key, child) in object {
                if let property = properties[key] {
                    found += problems(child, property, at: "\(path).\(key)")
                } else if schema["additionalProperties"] == .bool(false) {
                    found.append("\(path): undocumented key \(key)")
                }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() { found += problems(item, itemSchema, at: "\(path)[\(index)]") }
        }
        return found
    }
}

@Suite("The OpenAPI document matches the server")
struct OpenAPITests {
    @Test("the document lists exactly the routes registered with the server's router, and the server serves the document", arguments: TestDatabase.all)
    func routes(database: TestDatabase) async throws {
        let document = try OpenAPIDocument()
        #expect(document.root["openapi"]?.stringValue == "3.1.0")
        try await LiveServer.with(database) { server in
            let registered = ServerApplication.buildRouter(service: server.service).routes
            #expect(registered.count == Set(registered).count, "a route registered twice")
            #expect(Set(registered).subtracting(document.operations).isEmpty, "served but not documented: \(Set(registered).subtracting(document.operations))")
            #expect(Set(document.operations).subtracting(registered).isEmpty, "documented but not served: \(Set(document.operations).subtracting(registered))")
            let served = try await server.send("GET", "/api/v1/openapi.json")
            #expect(served.status == 200)
            #expect(try served.json() == document.root)
        }
    }

    @Test("every documented response is produced, and every response matches its schema", arguments: TestDatabase.all)
    func responses(database: TestDatabase) async throws {
        let document = try OpenAPIDocument()
        let limits = ServerLimits(maxBodyBytes: 64 * 1024, maxDecodedBytes: 256 * 1024, maxBatch: 5, maxIngestPerToken: 1)
        try await LiveServer.with(database, limits: limits) { server in
            let admin = try await server.token(.admin)
            let viewer = try await server.token(.viewer)
            let collector = try await server.token(.collector)
            // A token whose one batch in flight never ends while the exchanges run.
            let busy = try await server.token(.collector)
            let busyPrincipal = try await server.service.authenticate(token: busy)
            let (holding, hold) = AsyncStream.makeStream(of: Void.self)
            let (release, released) = AsyncStream.makeStream(of: Void.self)
            let holder = Task {
                try await server.service.admittingIngest(for: busyPrincipal) {
                    hold.yield()
                    for await _ in release { break }
                }
            }
            for await _ in holding { break }
            let outsider = try await server.token(.viewer, unit: "130102012000")
            var maker = SurveyMaker(seed: 30)
            let first = maker.survey(village: 3)
            let second = maker.survey(village: 3)
            var bad = maker.survey(village: 4)
            bad.answers["members_total"] = "many"
            let stored = try await server.post([first, second, bad], token: collector).json
            let conflictID = try #require(stored.at("results", 1, "conflict_id")?.int)
            let form = LiveServer.form
            let formETag = try await server.send("GET", "/api/v1/forms/\(form.id)/\(form.version)", token: admin).header("ETag") ?? ""
            let unitsETag = try await server.send("GET", "/api/v1/units", token: admin).header("ETag") ?? ""
            let keepHeld = Array(#"{"keep": "\#(second.instanceID)", "comment": "the second is the township's own"}"#.utf8)
            let reviewer = try await server.token(.reviewer, unit: LiveServer.villages[3].ancestor(at: .township).rawValue)
            let reviewPath = "/api/v1/surveys/\(second.instanceID)/review"
            // For the workspace: a survey of its own to decide on, and a second conflict to resolve.
            let decided = maker.survey(village: 6)
            let rival = maker.survey(village: 7)
            let rivalHeld = maker.survey(village: 7)
            let more = try await server.post([decided, rival, rivalHeld], token: collector).json
            let pageConflict = try #require(more.at("results", 2, "conflict_id")?.int)
            let pageReviewer = try await server.token(.reviewer, unit: LiveServer.villages[6].ancestor(at: .township).rawValue)
            let session = try await server.service.signIn(token: viewer).session
            let pageForm = [("Content-Type", "application/x-www-form-urlencoded")]
            let decidePath = "/workspace/surveys/\(decided.instanceID)/review"
            let resolvePath = "/workspace/conflicts/\(pageConflict)/resolve"
            func review(_ action: String, _ revision: Int) -> [UInt8] {
                Array(JSONValue.object(["action": .string(action), "revision": .integer(revision)]).serialized().utf8)
            }

            struct Exchange {
                var route: APIRoute
                var path: String
                var token: String?
                var headers: [(String, String)] = []
                var body: [UInt8]?
            }
            func exchange(
                _ method: String, _ template: String, _ path: String? = nil, _ token: String? = nil, headers: [(String, String)] = [], body: [UInt8]? = nil
            )
                -> Exchange
            {
                Exchange(route: APIRoute(method: method, path: template), path: path ?? template, token: token, headers: headers, body: body)
            }
            let surveyPath = "/api/v1/surveys/\(first.instanceID)"
            let exchanges: [Exchange] = [
                exchange("GET", "/health"),
                exchange("GET", "/api/v1/openapi.json"),
                exchange("GET", "/api/v1/handshake"), exchange("GET", "/api/v1/handshake", nil, admin),
                exchange("GET", "/api/v1/handshake", nil, "vst_wrong"),
                exchange("HEAD", "/api/v1/handshake"), exchange("HEAD", "/api/v1/handshake", nil, "vst_wrong"),
                exchange("POST", "/api/v1/surveys", nil, collector, body: Array(batch([maker.survey(village: 8), bad]).utf8)),
                exchange("POST", "/api/v1/surveys", nil, collector, body: Array("{\"surveys\": [".utf8)),
                exchange("POST", "/api/v1/surveys", nil, nil, body: Array(batch([]).utf8)),
                exchange("POST", "/api/v1/surveys", nil, viewer, body: Array(batch([]).utf8)),
                exchange("POST", "/api/v1/surveys", nil, collector, body: Array(batch((0..<6).map { maker.survey(village: $0) }).utf8)),
                exchange("POST", "/api/v1/surveys", nil, collector, headers: [("Content-Encoding", "compress")], body: Array("{}".utf8)),
                exchange("POST", "/api/v1/surveys", nil, busy, body: Array(batch([]).utf8)),
                exchange("GET", "/api/v1/surveys/{instance_id}", surveyPath, viewer),
                exchange("GET", "/api/v1/surveys/{instance_id}", surveyPath), exchange("GET", "/api/v1/surveys/{instance_id}", surveyPath, outsider),
                exchange("GET", "/api/v1/surveys/{instance_id}", "/api/v1/surveys/\(UUID().uuidString)", viewer),
                exchange("GET", "/api/v1/surveys/{instance_id}/revisions", surveyPath + "/revisions", viewer),
                exchange("GET", "/api/v1/surveys/{instance_id}/revisions", surveyPath + "/revisions"),
                exchange("GET", "/api/v1/surveys/{instance_id}/revisions", surveyPath + "/revisions", collector),
                exchange("GET", "/api/v1/surveys/{instance_id}/revisions", "/api/v1/surveys/\(UUID().uuidString)/revisions", admin),
                exchange("GET", "/api/v1/forms", nil, collector), exchange("GET", "/api/v1/forms"),
                exchange("GET", "/api/v1/forms/{id}/{version}", "/api/v1/forms/\(form.id)/\(form.version)", collector),
                exchange("GET", "/api/v1/forms/{id}/{version}", "/api/v1/forms/\(form.id)/\(form.version)", collector, headers: [("If-None-Match", formETag)]),
                exchange("GET", "/api/v1/forms/{id}/{version}", "/api/v1/forms/\(form.id)/\(form.version)"),
                exchange("GET", "/api/v1/forms/{id}/{version}", "/api/v1/forms/\(form.id)/0.0", collector),
                exchange("GET", "/api/v1/units", nil, collector), exchange("GET", "/api/v1/units", nil, admin, headers: [("If-None-Match", unitsETag)]),
                exchange("GET", "/api/v1/units"),
                exchange("GET", "/api/v1/baselines", "/api/v1/baselines?form=village-branch&period=2025", collector),
                exchange("GET", "/api/v1/baselines", "/api/v1/baselines?form=village-branch&period=2026&units=\(LiveServer.villages[0].rawValue)", admin),
                exchange("GET", "/api/v1/baselines", "/api/v1/baselines?form=village-branch", collector),
                exchange("GET", "/api/v1/baselines", "/api/v1/baselines?form=village-branch&period=2025"),
                exchange("GET", "/api/v1/baselines", "/api/v1/baselines?form=village-branch&period=2025&units=\(LiveServer.villages[0].rawValue)", outsider),
                exchange("GET", "/api/v1/baselines", "/api/v1/baselines?form=no-such-form&period=2025", collector),
                exchange("GET", "/api/v1/reports/{form}", "/api/v1/reports/village-branch?period=2026", viewer),
                exchange("GET", "/api/v1/reports/{form}", "/api/v1/reports/village-branch?period=2026Q1", viewer),
                exchange("GET", "/api/v1/reports/{form}", "/api/v1/reports/village-branch"),
                exchange("GET", "/api/v1/reports/{form}", "/api/v1/reports/village-branch?scope=130102000000", outsider),
                exchange("GET", "/api/v1/reports/{form}", "/api/v1/reports/no-such-form", admin),
                exchange("GET", "/reports/{form}", "/reports/village-branch?period=2026", viewer),
                exchange("GET", "/reports/{form}", "/reports/village-branch?period=2026"),
                exchange("GET", "/reports/{form}", "/reports/village-branch", collector),
                exchange("GET", "/reports/{form}", "/reports/no-such-form", viewer),
                exchange("GET", "/reports/{form}", "/reports/village-branch?period=garbage", viewer),
                exchange(
                    "POST", "/reports/login", nil, nil, headers: [("Content-Type", "application/x-www-form-urlencoded")],
                    body: Array("token=\(viewer)&next=%2Freports%2Fvillage-branch".utf8)),
                exchange(
                    "POST", "/reports/login", nil, nil, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array("token=vst_wrong".utf8)),
                exchange(
                    "POST", "/reports/login", nil, nil,
                    headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://evil.example")],
                    body: Array("token=\(viewer)&next=%2Freports%2Fvillage-branch".utf8)),
                exchange("POST", "/reports/logout", nil, nil, headers: [("Cookie", "vsurvey_session=vss_none")]),
                exchange("POST", "/reports/logout", nil, nil, headers: [("Cookie", "vsurvey_session=\(session)")]),
                // The workspace's pages.
                exchange("GET", "/workspace", "/workspace?period=2026", viewer), exchange("GET", "/workspace"),
                exchange("GET", "/workspace", nil, collector), exchange("GET", "/workspace", "/workspace?lang=fr", viewer),
                exchange("GET", "/workspace/surveys", "/workspace/surveys?form=village-branch&review=approved@township", viewer),
                exchange("GET", "/workspace/surveys", "/workspace/surveys?review=maybe", viewer), exchange("GET", "/workspace/surveys"),
                exchange("GET", "/workspace/surveys", nil, collector),
                exchange("GET", "/workspace/surveys/{instance_id}", "/workspace/surveys/\(decided.instanceID)", pageReviewer),
                exchange("GET", "/workspace/surveys/{instance_id}", "/workspace/surveys/\(decided.instanceID)"),
                exchange("GET", "/workspace/surveys/{instance_id}", "/workspace/surveys/\(decided.instanceID)", outsider),
                exchange("GET", "/workspace/surveys/{instance_id}", "/workspace/surveys/\(UUID().uuidString)", viewer),
                exchange("GET", "/workspace/surveys/{instance_id}", "/workspace/surveys/\(decided.instanceID)?lang=xx", viewer),
                exchange("POST", "/workspace/surveys/{instance_id}/review", decidePath, pageReviewer, headers: pageForm, body: Array("action=approve&revision=1".utf8)),
                exchange("POST", "/workspace/surveys/{instance_id}/review", decidePath, pageReviewer, headers: pageForm, body: Array("action=approve&revision=1".utf8)),
                exchange("POST", "/workspace/surveys/{instance_id}/review", decidePath, pageReviewer, headers: pageForm, body: Array("action=return&revision=1".utf8)),
                exchange("POST", "/workspace/surveys/{instance_id}/review", decidePath, nil, headers: pageForm, body: Array("action=approve&revision=1".utf8)),
                exchange("POST", "/workspace/surveys/{instance_id}/review", decidePath, viewer, headers: pageForm, body: Array("action=approve&revision=1".utf8)),
                exchange(
                    "POST", "/workspace/surveys/{instance_id}/review", "/workspace/surveys/\(UUID().uuidString)/review", pageReviewer, headers: pageForm,
                    body: Array("action=approve&revision=1".utf8)),
                exchange("GET", "/workspace/units/{code}", "/workspace/units/\(decided.unit)?form=village-branch", viewer),
                exchange("GET", "/workspace/units/{code}", "/workspace/units/123", viewer),
                exchange("GET", "/workspace/units/{code}", "/workspace/units/\(decided.unit)?form=village-branch&lang=xx", viewer), exchange("GET", "/workspace/units/{code}", "/workspace/units/\(decided.unit)"),
                exchange("GET", "/workspace/units/{code}", "/workspace/units/130102000000", outsider),
                exchange("GET", "/workspace/conflicts", nil, viewer), exchange("GET", "/workspace/conflicts"), exchange("GET", "/workspace/conflicts", nil, collector),
                exchange("GET", "/workspace/conflicts", "/workspace/conflicts?lang=xx", viewer),
                exchange("GET", "/workspace/conflicts/{id}", "/workspace/conflicts/\(pageConflict)", admin),
                exchange("GET", "/workspace/conflicts/{id}", "/workspace/conflicts/\(pageConflict)"),
                exchange("GET", "/workspace/conflicts/{id}", "/workspace/conflicts/\(pageConflict)", outsider),
                exchange("GET", "/workspace/conflicts/{id}", "/workspace/conflicts/999", viewer),
                exchange("GET", "/workspace/conflicts/{id}", "/workspace/conflicts/\(pageConflict)?lang=xx", viewer),
                exchange("POST", "/workspace/conflicts/{id}/resolve", resolvePath, admin, headers: pageForm, body: Array("comment=x".utf8)),
                exchange("POST", "/workspace/conflicts/{id}/resolve", resolvePath, nil, headers: pageForm, body: Array("keep=\(rivalHeld.instanceID)".utf8)),
                exchange("POST", "/workspace/conflicts/{id}/resolve", resolvePath, viewer, headers: pageForm, body: Array("keep=\(rivalHeld.instanceID)".utf8)),
                exchange(
                    "POST", "/workspace/conflicts/{id}/resolve", "/workspace/conflicts/999/resolve", admin, headers: pageForm,
                    body: Array("keep=\(rivalHeld.instanceID)".utf8)),
                exchange("POST", "/workspace/conflicts/{id}/resolve", resolvePath, admin, headers: pageForm, body: Array("keep=\(rivalHeld.instanceID)".utf8)),
                exchange("POST", "/workspace/conflicts/{id}/resolve", resolvePath, admin, headers: pageForm, body: Array("keep=\(rivalHeld.instanceID)".utf8)),
                exchange("GET", "/workspace/exports", nil, viewer), exchange("GET", "/workspace/exports"), exchange("GET", "/workspace/exports", nil, collector),
                exchange("GET", "/workspace/exports", "/workspace/exports?lang=xx", viewer),
                exchange("GET", "/workspace/exports/{form}", "/workspace/exports/village-branch?format=csv&review=", viewer),
                exchange("GET", "/workspace/exports/{form}", "/workspace/exports/village-branch"),
                exchange("GET", "/workspace/exports/{form}", "/workspace/exports/village-branch", collector),
                exchange("GET", "/workspace/exports/{form}", "/workspace/exports/village-branch?lang=xx", viewer),
                exchange("GET", "/workspace/units/{code}", "/workspace/units/\(decided.unit)?lang=xx", viewer),
                exchange("GET", "/workspace/audit", nil, admin), exchange("GET", "/workspace/audit", "/workspace/audit?before=x", admin),
                exchange("GET", "/workspace/audit"), exchange("GET", "/workspace/audit", nil, viewer),
                exchange("GET", "/api/v1/conflicts", nil, viewer), exchange("GET", "/api/v1/conflicts"), exchange("GET", "/api/v1/conflicts", nil, collector),
                exchange("GET", "/api/v1/conflicts", "/api/v1/conflicts?all=garbage", viewer),
                exchange("POST", "/api/v1/conflicts/{id}/resolve", "/api/v1/conflicts/\(conflictID)/resolve", admin, body: Array(#"{"keep": 1}"#.utf8)),
                exchange("POST", "/api/v1/conflicts/{id}/resolve", "/api/v1/conflicts/\(conflictID)/resolve", nil, body: keepHeld),
                exchange("POST", "/api/v1/conflicts/{id}/resolve", "/api/v1/conflicts/\(conflictID)/resolve", viewer, body: keepHeld),
                exchange("POST", "/api/v1/conflicts/{id}/resolve", "/api/v1/conflicts/999/resolve", admin, body: keepHeld),
                exchange("GET", "/api/v1/conflicts/{id}", "/api/v1/conflicts/\(conflictID)", viewer),
                exchange("GET", "/api/v1/conflicts/{id}", "/api/v1/conflicts/\(conflictID)"),
                exchange("GET", "/api/v1/conflicts/{id}", "/api/v1/conflicts/\(conflictID)", outsider),
                exchange("GET", "/api/v1/conflicts/{id}", "/api/v1/conflicts/999", viewer),
                exchange("POST", "/api/v1/conflicts/{id}/resolve", "/api/v1/conflicts/\(conflictID)/resolve", admin, body: keepHeld),
                exchange("POST", "/api/v1/conflicts/{id}/resolve", "/api/v1/conflicts/\(conflictID)/resolve", admin, body: keepHeld),
                // Review: the survey kept by the resolution is current.
                exchange("GET", "/api/v1/surveys", "/api/v1/surveys?form=village-branch&limit=1", viewer),
                exchange("GET", "/api/v1/surveys", "/api/v1/surveys?review=maybe", viewer), exchange("GET", "/api/v1/surveys"),
                exchange("GET", "/api/v1/surveys", nil, collector),
                exchange("POST", "/api/v1/surveys/{instance_id}/review", reviewPath, reviewer, body: review("approve", 2)),
                exchange("POST", "/api/v1/surveys/{instance_id}/review", reviewPath, reviewer, body: review("approve", 1)),
                exchange("POST", "/api/v1/surveys/{instance_id}/review", reviewPath, reviewer, body: review("return", 1)),
                exchange("POST", "/api/v1/surveys/{instance_id}/review", reviewPath, nil, body: review("approve", 1)),
                exchange("POST", "/api/v1/surveys/{instance_id}/review", reviewPath, viewer, body: review("approve", 1)),
                exchange("POST", "/api/v1/surveys/{instance_id}/review", "/api/v1/surveys/\(UUID().uuidString)/review", reviewer, body: review("approve", 1)),
                exchange("POST", "/api/v1/surveys/{instance_id}/review", reviewPath, reviewer, body: review("approve", 1)),
                exchange("GET", "/api/v1/surveys/{instance_id}/reviews", reviewPath + "s", viewer),
                exchange("GET", "/api/v1/surveys/{instance_id}/reviews", reviewPath + "s"),
                exchange("GET", "/api/v1/surveys/{instance_id}/reviews", reviewPath + "s", outsider),
                exchange("GET", "/api/v1/surveys/{instance_id}/reviews", "/api/v1/surveys/\(UUID().uuidString)/reviews", viewer),
                exchange("GET", "/api/v1/reviews", nil, collector), exchange("GET", "/api/v1/reviews", "/api/v1/reviews?after=x", collector),
                exchange("GET", "/api/v1/reviews"),
                exchange(
                    "POST", "/api/v1/reviews", nil, reviewer,
                    body: Array(
                        #"{"action":"reopen","surveys":[{"instance_id":"\#(second.instanceID)","revision":1},{"instance_id":"\#(first.instanceID)","revision":1}]}"#
                            .utf8)),
                exchange("POST", "/api/v1/reviews", nil, reviewer, body: Array(#"{"action":"approve"}"#.utf8)),
                exchange("POST", "/api/v1/reviews", nil, nil, body: Array(#"{"action":"approve","surveys":[]}"#.utf8)),
                exchange("POST", "/api/v1/reviews", nil, viewer, body: Array(#"{"action":"approve","surveys":[]}"#.utf8)),
                exchange(
                    "POST", "/api/v1/reviews", nil, reviewer,
                    body: Array(
                        JSONValue.object(["action": "approve", "surveys": .array(Array(repeating: ["instance_id": "x", "revision": 1], count: 501))])
                            .serialized().utf8)),
                exchange("GET", "/api/v1/exports/{form}", "/api/v1/exports/village-branch?format=jsonl", viewer),
                exchange("GET", "/api/v1/exports/{form}", "/api/v1/exports/village-branch?format=csv&values=codes", viewer),
                exchange("GET", "/api/v1/exports/{form}", "/api/v1/exports/village-branch?period=2026", admin),
                exchange("GET", "/api/v1/exports/{form}", "/api/v1/exports/village-branch?format=pdf", viewer),
                exchange("GET", "/api/v1/exports/{form}", "/api/v1/exports/village-branch"),
                exchange("GET", "/api/v1/exports/{form}", "/api/v1/exports/village-branch", collector),
                exchange("GET", "/api/v1/exports/{form}", "/api/v1/exports/no-such-form", viewer),
                exchange("GET", "/api/v1/audit", nil, admin), exchange("GET", "/api/v1/audit", "/api/v1/audit?action=nonesuch", admin),
                exchange("GET", "/api/v1/audit"), exchange("GET", "/api/v1/audit", nil, viewer),
            ]
            var seen: Set<String> = []
            for item in exchanges {
                var headers = item.headers
                if let token = item.token { headers.append(("Authorization", "Bearer \(token)")) }
                let reply = try await HTTPTestClient.send(port: server.port, item.route.method, item.path, headers: headers, body: item.body)
                let label = "\(item.route.method) \(item.path) → \(reply.status)"
                let documented = document.responses(item.route)
                guard let response = documented["\(reply.status)"] else {
                    Issue.record("\(label) is not documented (documented: \(documented.keys.joined(separator: ", ")))")
                    continue
                }
                seen.insert("\(item.route.method) \(item.route.path) \(reply.status)")
                #expect(reply.header("X-Request-ID") != nil, "\(label): no X-Request-ID")
                for name in response["headers"]?.objectValue?.keys ?? [] {
                    #expect(reply.header(name) != nil, "\(label): documented header \(name) is missing")
                }
                if let schema = response.at("content", "application/json", "schema") {
                    #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true, "\(label): not JSON")
                    let body = try reply.json()
                    let problems = document.problems(body, schema)
                    #expect(problems.isEmpty, "\(label): \(problems.joined(separator: "; "))")
                } else if response.at("content", "text/html") != nil {
                    #expect(reply.header("Content-Type")?.hasPrefix("text/html") == true, "\(label): not HTML")
                    #expect(String(decoding: reply.body, as: UTF8.self).contains("</html>"), "\(label): not a whole page")
                } else if let types = response["content"]?.objectValue?.keys, !types.isEmpty {
                    // A file: one of the documented types, and not empty.
                    let type = reply.header("Content-Type") ?? ""
                    #expect(types.contains { type.hasPrefix($0) }, "\(label): \(type) is not one of \(types)")
                    #expect(!reply.body.isEmpty, "\(label): an empty file")
                } else if item.route.method != "HEAD" {
                    #expect(reply.body.isEmpty, "\(label): a body where none is documented")
                }
            }
            released.yield()
            try await holder.value
            // /health's 503 needs a database that does not answer; see `healthReportsAFailingDatabase`.
            let expected = Set(
                document.operations.flatMap { route in document.responses(route).keys.map { "\(route.method) \(route.path) \($0)" } })
            let missing = expected.subtracting(seen).subtracting(["GET /health 503"])
            #expect(missing.isEmpty, "documented but never produced: \(missing.sorted().joined(separator: ", "))")
        }
    }

    @Test("health says 503 when the database file was moved away under the server")
    func healthReportsAFailingDatabase() async throws {
        let document = try OpenAPIDocument()
        try await LiveServer.with { server in
            #expect(try await server.send("GET", "/health").status == 200)
            let path = try #require(server.storage as? SQLiteServerStorage).path
            try FileManager.default.moveItem(atPath: path, toPath: path + ".moved")
            let reply = try await server.send("GET", "/health")
            #expect(reply.status == 503)
            let schema = try #require(document.responses(APIRoute(method: "GET", path: "/health"))["503"]?.at("content", "application/json", "schema"))
            #expect(document.problems(try reply.json(), schema).isEmpty)
            #expect(try reply.json()["message"]?.stringValue?.contains("moved") == true)
        }
    }

    @Test("health says 503 when the PostgreSQL database stops answering", .enabled(if: TestDatabase.postgresURL != nil))
    func healthReportsALostDatabase() async throws {
        let document = try OpenAPIDocument()
        try await LiveServer.with(.postgres) { server in
            #expect(try await server.send("GET", "/health").status == 200)
            let name = try #require((server.storage as? PostgresServerStorage)?.location.split(separator: "/").last)
            try await PostgresServerStorage.dropDatabase(named: String(name), at: TestDatabase.postgresURL!)
            let reply = try await server.send("GET", "/health")
            #expect(reply.status == 503)
            let schema = try #require(document.responses(APIRoute(method: "GET", path: "/health"))["503"]?.at("content", "application/json", "schema"))
            #expect(document.problems(try reply.json(), schema).isEmpty)
        }
    }
}
