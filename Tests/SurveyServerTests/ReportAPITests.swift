import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveySQL
import SurveyServer
import Testing

@Suite("Reports from the server's report tables", .serialized)
struct ReportAPITests {
    /// The reference evaluator's report over what the server should hold as current.
    static func expected(_ surveys: [WireSurvey], scope: String, period: String = "2026") throws -> Report {
        let form = LiveServer.form
        // The server's surveys arrived moments ago: on time as long as now is.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let kept = surveys.map { survey in
            ReportSurvey(
                unit: survey.unit, period: survey.period, form: form, answers: form.validate(survey.answers, today: CivilDate.today()).answers,
                reportedAt: now)
        }
        let code = try #require(UnitCode(scope))
        let length = Report.groupLength(scope: code, form: form)
        let reference = ReferenceEvaluator(form: form)
        let data = reference.data(
            kept, scopePrefix: code.prefix, period: period, groupLength: length, dueBefore: form.deadline(of: period), watchLimit: 50)
        let previous = Period(period)?.previous.map {
            reference.data(kept, scopePrefix: code.prefix, period: $0.description, groupLength: length, dueBefore: nil, watchLimit: 50)
        }
        return Report(form: form, registry: LiveServer.registry, scope: code, period: period, data: data, previous: previous, missingLimit: 50)
    }

    @Test(
        "the county report equals the reference over the current surveys; held surveys count only once resolved; a township viewer sees only its township",
        arguments: TestDatabase.all)
    func countyReport(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let viewer = try await server.token(.viewer)
            var maker = SurveyMaker(seed: 500)
            var current = (0..<120).map { maker.survey(village: $0) }
            current += (0..<40).map { maker.survey(village: $0, period: "2025") }
            let stored = try await server.post(current, token: collector)
            #expect(stored.json.at("summary", "created")?.int == 160)

            var reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: viewer)
            #expect(reply.status == 200)
            var json = try reply.reportJSON()
            #expect(json == (try Self.expected(current, scope: "130102000000").json(.en)), "the server's report differs from the reference")
            #expect(json.at("total", "reported")?.int == 120)
            #expect(json["previous_period"]?.stringValue == "2025")
            #expect(json.at("missing", "count")?.int == LiveServer.villages.count - 120)

            // A second survey for a village is held: the report does not change.
            let rival = maker.survey(village: 5)
            let held = try await server.post([rival], token: collector)
            #expect(held.json.at("results", 0, "outcome")?.stringValue == "held")
            reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: viewer)
            #expect(try reply.reportJSON() == json)
            // The county keeps the rival: the report follows.
            let conflict = try #require(held.json.at("results", 0, "conflict_id")?.int)
            let admin = try await server.token(.admin)
            let resolved = try await server.send(
                "POST", "/api/v1/conflicts/\(conflict)/resolve", token: admin, body: Array(#"{"keep": "\#(rival.instanceID)"}"#.utf8))
            #expect(resolved.status == 200)
            current = current.filter { !($0.unit == rival.unit && $0.period == "2026") } + [rival]
            reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: viewer)
            json = try reply.reportJSON()
            #expect(json == (try Self.expected(current, scope: "130102000000").json(.en)))

            // An edit that moves a survey to another village moves its row.
            var moved = current[7]
            moved.revision = 2
            moved.replaces = 1
            moved.unit = LiveServer.villages[200].rawValue
            #expect(try await server.post([moved], token: collector).json.at("results", 0, "outcome")?.stringValue == "updated")
            current[7] = moved
            reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: viewer)
            #expect(try reply.reportJSON() == (try Self.expected(current, scope: "130102000000").json(.en)))

            // CSV, with a byte-order mark, one line per township and the total.
            let csv = try await server.send("GET", "/api/v1/reports/village-branch?period=2026&format=csv", token: viewer)
            #expect(csv.status == 200)
            #expect(csv.header("Content-Type")?.hasPrefix("text/csv") == true)
            #expect(Array(csv.body.prefix(3)) == [0xEF, 0xBB, 0xBF])
            let lines = String(decoding: csv.body, as: UTF8.self).split(separator: "\r\n")
            #expect(lines.count == 1 + LiveServer.registry.units(under: UnitCode("130102000000")!, level: .township).count + 1)

            // A unit named as a spreadsheet formula (from an imported registry) is written as text.
            let formula = "=HYPERLINK(\"http://evil.example/\",\"click\")"
            var units = LiveServer.registry.units
            let renamed = try #require(units.firstIndex { $0.code.rawValue == "130102003000" })
            let original = units[renamed]
            units[renamed] = OrgUnit(code: original.code, name: formula, level: original.level, parent: original.parent)
            _ = try await server.storage.replaceUnits(units)
            try await Task.sleep(for: .milliseconds(1100))  // the registry is looked at again at most once a second
            let named = try await server.send("GET", "/api/v1/reports/village-branch?period=2026&format=csv", token: viewer)
            let text = String(decoding: named.body, as: UTF8.self)
            #expect(text.contains("130102003000,\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"click\"\")\","), "\(text)")
            #expect(!text.contains(",=HYPERLINK") && !text.contains(",\"=HYPERLINK"))
            _ = try await server.storage.replaceUnits(LiveServer.registry.units)
            try await Task.sleep(for: .milliseconds(1100))

            // A township's viewer: its own township by default, not the county.
            let township = "130102003000"
            let local = try await server.token(.viewer, unit: township)
            reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: local)
            #expect(reply.status == 200)
            #expect(try reply.reportJSON() == (try Self.expected(current, scope: township).json(.en)))
            #expect(try reply.json()["group_level"]?.stringValue == "village")
            #expect(try await server.send("GET", "/api/v1/reports/village-branch?scope=130102000000", token: local).status == 403)
            #expect(try await server.send("GET", "/api/v1/reports/village-branch", token: collector).status == 403)
        }
    }

    @Test(
        "seeded data: a registry in the national pattern with one survey per reporting village, then the year before on the same registry; the national report adds up",
        arguments: TestDatabase.all
    )
    func seededCountry(database: TestDatabase) async throws {
        let directory = try scratchDirectory("seed")
        let storage = try await database.makeStorage(in: directory)
        try await withCleanup({
            await TestDatabase.drop(storage)
            try? FileManager.default.removeItem(at: directory)
        }) {
            let service = SurveyService(storage: storage, catalog: LiveServer.catalog)
            // Another year needs villages to keep.
            await #expect(throws: ServiceError.self) { try await service.seed(villages: nil, period: "2025") }

            let first = try await service.seed(villages: 700, period: "2026", seed: 4, reporting: 0.9)
            let registry = try await service.registry()
            let villages = registry.units.filter { $0.level == .village }
            #expect(villages.count == 700 && first.units == registry.units.count)
            #expect(first.refused == 0 && first.stored == first.villages && (560...680).contains(first.stored))
            // Every village hangs under a township, a county, a city and a province.
            for village in villages.prefix(50) {
                var levels: [UnitLevel] = []
                var code = village.parent
                while let parent = code.flatMap(registry.unit) {
                    levels.append(parent.level)
                    code = parent.parent
                }
                #expect(levels == [.township, .county, .city, .province], "\(village.code)")
            }
            let country = UnitCode("000000000000")!
            var report = try await service.report(formID: "village-branch", scope: country, period: "2026")
            #expect(report.total.reported == first.stored && report.total.expected == 700)
            #expect(report.rows.map(\.reported).reduce(0, +) == first.stored)
            #expect(report.previousPeriod == nil)

            let second = try await service.seed(villages: nil, period: "2025", seed: 5, reporting: 0.9)
            #expect(second.units == first.units && second.refused == 0 && (560...680).contains(second.stored))
            #expect(try await service.registry().units.count == registry.units.count)
            report = try await service.report(formID: "village-branch", scope: country, period: "2026")
            #expect(report.previousPeriod == "2025" && report.total.reported == first.stored)
            #expect(try await storage.counts().current == first.stored + second.stored)
        }
    }

    @Test("the report page: sign in by form and cookie, then the table, the three charts and the lists for the data given", arguments: TestDatabase.all)
    func reportPage(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let viewer = try await server.token(.viewer)
            var maker = SurveyMaker(seed: 501)
            var surveys = (0..<30).map { maker.survey(village: $0) }
            surveys[0].answers["operating_income"] = .integer(12_345)
            surveys[0].answers["collective_income"] = .integer(20_000)
            #expect(try await server.post(surveys, token: collector).json.at("summary", "created")?.int == 30)

            // Without a token: the sign-in page. A wrong token: the sign-in page again.
            let anonymous = try await server.send("GET", "/reports/village-branch?period=2026")
            #expect(anonymous.status == 401)
            #expect(String(decoding: anonymous.body, as: UTF8.self).contains("action=\"/reports/login\""))
            let form = [("Content-Type", "application/x-www-form-urlencoded")]
            let wrong = try await server.send("POST", "/reports/login", headers: form, body: Array("token=vst_nope&next=%2Freports%2Fvillage-branch".utf8))
            #expect(wrong.status == 401)
            #expect(wrong.header("Set-Cookie") == nil)
            // A viewer's token: a session cookie, and back to the page; an outside address is not followed (the workspace instead).
            let signedIn = try await server.send(
                "POST", "/reports/login", headers: form, body: Array("token=\(viewer)&next=https%3A%2F%2Fevil.example%2F".utf8))
            #expect(signedIn.status == 303)
            #expect(signedIn.header("Location") == "/workspace")
            // Only a plain path under /reports/ or /workspace is followed: no CR LF, tab, backslash or dot segments, encoded or not.
            for next in [
                "%2Freports%2Fx%0D%0ASet-Cookie%3A%20a%3Db", "%2Freports%2F%09%2Fevil.com", "%2Freports%2F..%2Fapi%2Fv1%2Funits",
                "%2Freports%2F%252e%252e%2Fapi", "%2Freports%2F%5C%5Cevil.com", "%2Freports%2F%250d%250aX%3A%201",
            ] {
                let refused = try await server.send("POST", "/reports/login", headers: form, body: Array("token=\(viewer)&next=\(next)".utf8))
                #expect(refused.status == 303 && refused.header("Location") == "/workspace", "\(next)")
            }
            // Only this server's own page signs in: a form posted from another site gets no cookie.
            for headers in [[("Origin", "https://evil.example")], [("Origin", "null")], [("Sec-Fetch-Site", "cross-site")]] {
                let crossSite = try await server.send("POST", "/reports/login", headers: form + headers, body: Array("token=\(viewer)".utf8))
                #expect(crossSite.status == 403 && crossSite.header("Set-Cookie") == nil, "\(headers)")
            }
            let sameSite = try await server.send(
                "POST", "/reports/login", headers: form + [("Origin", "http://127.0.0.1:\(server.port)"), ("Sec-Fetch-Site", "same-origin")],
                body: Array("token=\(viewer)".utf8))
            #expect(sameSite.status == 303 && sameSite.header("Set-Cookie")?.contains("Secure") == false)
            // Behind a proxy that serves HTTPS, the cookie is sent over HTTPS only.
            let proxied = try await server.send("POST", "/reports/login", headers: form + [("X-Forwarded-Proto", "https")], body: Array("token=\(viewer)".utf8))
            #expect(proxied.header("Set-Cookie")?.hasSuffix("; Secure") == true)
            let kept = try await server.send(
                "POST", "/reports/login", headers: form, body: Array("token=\(viewer)&next=%2Freports%2Fvillage-branch%3Fperiod%3D2026%26lang%3Den".utf8))
            #expect(kept.header("Location") == "/reports/village-branch?period=2026&lang=en")
            let cookie = try #require(signedIn.header("Set-Cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/;"))
            let pair = String(cookie.split(separator: ";")[0])

            let page = try await server.send("GET", "/reports/village-branch?period=2026&lang=en", headers: [("Cookie", pair)])
            #expect(page.status == 200)
            let html = String(decoding: page.body, as: UTF8.self)
            let expected = try Self.expected(surveys, scope: "130102000000")
            // The table: every township and the total reported count.
            // Each township's column heading leads to its villages' surveys in the workspace.
            for row in expected.rows {
                #expect(
                    html.contains("<th><a href=\"/workspace/surveys?form=village-branch&amp;period=2026&amp;scope=\(row.unit)&amp;lang=en\">\(row.name)</a></th>"),
                    "\(row.name)")
            }
            // The neighbouring periods, the one shown without a link.
            #expect(html.contains("<a href=\"/reports/village-branch?scope=130102000000&amp;period=2025&amp;lang=en\">2025</a> <b>2026</b>"), "\(html.prefix(4000))")
            #expect(html.contains("<td class=\"total\">30/250</td>"))
            // Three charts, as inline SVG, with the histogram's counts adding up to the villages with an income.
            #expect(html.components(separatedBy: "<svg ").count - 1 == 3)
            #expect(html.contains("Members by age group") && html.contains("Reporting completeness"))
            let counts = try #require(expected.histograms[1])
            #expect(counts.reduce(0, +) == 30)
            #expect(html.contains("stroke-dasharray"), "the weak-economy threshold line")
            // Fonts a Linux machine has (fonts-noto-cjk, WenQuanYi) come first; printed pages are numbered.
            #expect(html.contains("font-family: \"Noto Sans CJK SC\", \"Noto Sans SC\", \"WenQuanYi Micro Hei\""))
            #expect(html.contains("@bottom-center { content: counter(page)"))
            // The weak-economy list names the village given 12,345 yuan, with its income.
            let village = try #require(LiveServer.registry.unit(UnitCode(surveys[0].unit)!))
            #expect(html.contains("\(village.name) · ¥12,345</a>"), "\(html)")
            #expect(html.contains("<li><a href=\"/workspace/units/\(village.code)?form=village-branch&amp;period=2026&amp;lang=en\">"))
            #expect(try await server.send("GET", "/reports/village-branch", token: collector).status == 403)
        }
    }

    @Test(
        "the page's cookie holds a session id, never the token, kept hashed; it ends on sign-out, on revoking its token and when it expires",
        arguments: TestDatabase.all)
    func sessions(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let viewer = try await server.token(.viewer, name: "county-clerk")
            let form = [("Content-Type", "application/x-www-form-urlencoded")]
            func signIn() async throws -> String {
                let reply = try await server.send("POST", "/reports/login", headers: form, body: Array("token=\(viewer)".utf8))
                #expect(reply.status == 303)
                let cookie = try #require(reply.header("Set-Cookie"))
                #expect(!cookie.contains(viewer) && !cookie.contains(String(viewer.dropFirst(4).prefix(16))), "the token went back to the browser")
                #expect(cookie.hasPrefix("vsurvey_session=vss_") && cookie.contains("Max-Age=28800"), "\(cookie)")
                return String(cookie.split(separator: ";")[0])
            }
            func page(_ cookie: String) async throws -> HTTPReply {
                try await server.send("GET", "/reports/village-branch?period=2026", headers: [("Cookie", cookie)])
            }
            let first = try await signIn()
            let second = try await signIn()
            #expect(first != second)
            let shown = try await page(first)
            #expect(shown.status == 200)
            #expect(String(decoding: shown.body, as: UTF8.self).contains("action=\"/reports/logout\""))
            // Only hashes are kept.
            let secret = String(first.split(separator: "=", maxSplits: 1)[1])
            let rows = try await server.storage.sql.read { session in try session.all("SELECT hash FROM web_session").map { $0.text(0) } }
            #expect(rows.count == 2 && !rows.contains(secret) && rows.contains(TokenSecret.hash(secret)))
            // The token itself, or a made-up session, in the cookie is no sign-in.
            #expect(try await page("vsurvey_session=\(viewer)").status == 401)
            #expect(try await page("vsurvey_token=\(viewer)").status == 401)
            #expect(try await page("vsurvey_session=vss_made-up").status == 401)
            #expect(try await server.send("GET", "/api/v1/reports/village-branch", headers: [("Cookie", "vsurvey_session=vss_made-up")]).status == 401)
            // The API takes the session as it takes the token, with the same role.
            #expect(try await server.send("GET", "/api/v1/reports/village-branch?period=2026", headers: [("Cookie", first)]).status == 200)

            // Signing out (with the page's CSRF token) ends that session on the server; the other goes on.
            let csrf = "csrf=" + String(decoding: shown.body, as: UTF8.self).between("name=\"csrf\" value=\"", "\"")
            let noToken = try await server.send("POST", "/reports/logout", headers: [("Cookie", first)] + form)
            #expect(noToken.status == 403, "a sign-out without the CSRF token")
            let out = try await server.send("POST", "/reports/logout", headers: [("Cookie", first)] + form, body: Array(csrf.utf8))
            #expect(out.status == 200 && out.header("Set-Cookie")?.contains("Max-Age=0") == true)
            #expect(try await page(first).status == 401)
            #expect(try await page(second).status == 200)
            // A sign-out posted from another site is refused and ends nothing.
            let secondPage = String(decoding: try await page(second).body, as: UTF8.self)
            let forged = try await server.send(
                "POST", "/reports/logout", headers: [("Cookie", second), ("Origin", "https://evil.example")] + form,
                body: Array(("csrf=" + secondPage.between("name=\"csrf\" value=\"", "\"")).utf8))
            #expect(forged.status == 403)
            #expect(try await page(second).status == 200)

            // Sessions expire after eight hours.
            let later = Date().addingTimeInterval(SurveyService.sessionLifetime + 60)
            let live = String(second.split(separator: "=", maxSplits: 1)[1])
            _ = try await server.service.authenticate(session: live)
            await #expect(throws: ServiceError.self) { try await server.service.authenticate(session: live, now: later) }

            // Revoking the token ends its sessions.
            let third = try await signIn()
            #expect(try await server.storage.revokeToken("county-clerk") != nil)
            #expect(try await page(third).status == 401)
            #expect(try await page(second).status == 401)
            #expect(try await server.storage.sql.read { session in try session.all("SELECT hash FROM web_session") }.isEmpty)
        }
    }
}

@Suite("Watch lists read in SQL order")
struct WatchFirstTests {
    @Test(
        "each list's first units ordered and limited in SQL equal those of one read of every flagged row, in two parts as for a large scope",
        arguments: TestDatabase.all)
    func sameLists(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            var maker = SurveyMaker(seed: 77)
            let surveys = (0..<LiveServer.villages.count).map { maker.survey(village: $0) }
            #expect(try await server.post(surveys, token: collector).json.at("summary", "created")?.int == surveys.count)
            let form = LiveServer.form
            let plan = ReportPlan(versions: [form])
            let sql = ReportSQL(form: form, schema: plan.schema, dialect: server.service.reports.dialect)
            let scope = LiveServer.county.prefix
            let ranges = sql.split(scopePrefix: scope, groups: [], parts: 2)
            for limit in [1, 5, 40] {
                let one = try await server.service.reports.run(
                    ReportQueries(
                        form: form, totals: [],
                        watch: try ranges.compactMap { try sql.watchAll(scopePrefix: scope, period: "2026", range: $0) }, watchLimit: limit))
                let first = try await server.service.reports.run(
                    ReportQueries(
                        form: form, totals: [],
                        watch: try ranges.flatMap { try sql.watchFirst(scopePrefix: scope, period: "2026", range: $0, limit: limit) }, watchLimit: limit))
                #expect(!one.watch.isEmpty)
                #expect(first.watch == one.watch, "limit \(limit)")
            }
        }
    }
}
