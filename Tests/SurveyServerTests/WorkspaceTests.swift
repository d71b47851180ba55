import Foundation
import SurveyCore
import SurveyFixtures
import Testing

@testable import SurveyServer

/// A person signed in to the workspace: the session cookie and the CSRF
/// token its pages carry.
struct SignedIn {
    let cookie: String
    let csrf: String

    static let form = [("Content-Type", "application/x-www-form-urlencoded")]

    static func signIn(_ server: LiveServer, _ name: String, _ password: String) async throws -> SignedIn {
        let body = "name=\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&password=\(password)&next=%2Fworkspace"
        let reply = try await server.send("POST", "/reports/login", headers: form, body: Array(body.utf8))
        #expect(reply.status == 303 && reply.header("Location") == "/workspace")
        let cookie = try #require(reply.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        let home = try await server.send("GET", "/workspace", headers: [("Cookie", cookie)])
        #expect(home.status == 200, "\(home.text)")
        return SignedIn(cookie: cookie, csrf: home.text.between("<meta name=\"csrf-token\" content=\"", "\""))
    }

    func get(_ server: LiveServer, _ path: String) async throws -> HTTPReply {
        try await server.send("GET", path, headers: [("Cookie", cookie), ("Accept-Language", "zh-CN")])
    }

    /// Posts a page's form as the browser would from the server's own page.
    func post(_ server: LiveServer, _ path: String, _ fields: [(String, String)], csrf: String? = nil, origin: String? = nil) async throws -> HTTPReply {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = ([("csrf", csrf ?? self.csrf)] + fields).map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(
            separator: "&")
        return try await server.send(
            "POST", path, headers: [("Cookie", cookie), ("Origin", origin ?? "http://127.0.0.1:\(server.port)"), ("Accept-Language", "zh-CN")] + Self.form,
            body: Array(body.utf8))
    }
}

@Suite("The workspace pages")
struct WorkspaceTests {
    static let county = UnitCode("130102000000")!

    @Test(
        "a township reviewer signs in with a password, sees what waits, filters and pages the table, returns and approves on the survey page; a form without the CSRF token or from another site changes nothing; the county accepts; Chinese and English",
        arguments: TestDatabase.all)
    func reviewInTheBrowser(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let home = Townships.home
            _ = try await server.service.createPerson(name: "乡镇审核员", role: .reviewer, unit: home, password: "township-pass-1", by: .console(user: "test"))
            _ = try await server.service.createPerson(name: "县审核员", role: .admin, unit: Self.county, password: "county-pass-12", by: .console(user: "test"))
            var maker = SurveyMaker(seed: 180)
            let villages = LiveServer.villages.indices.filter { LiveServer.villages[$0].ancestor(at: .township) == home }
            let surveys = villages.prefix(7).map { maker.survey(village: $0) } + [maker.survey(village: Townships.elsewhere)]
            #expect(try await server.post(surveys, token: collector).json.at("summary", "created")?.int == 8)
            let township = try await SignedIn.signIn(server, "乡镇审核员", "township-pass-1")
            #expect(township.csrf.count == 64)

            // Home: seven surveys of the township wait for this reviewer; the other township's is not counted.
            let start = try await township.get(server, "/workspace?period=2026")
            #expect(start.text.contains("待我审核<b>7</b>"), "\(start.text)")
            #expect(start.text.contains("已收到 / 应报送<b>7 / \(villages.count)</b>"))
            #expect(!start.text.contains("领导班子"), "a county's form has nothing for a township")

            // The table: filtered by review state and text, paged.
            let firstPage = try await township.get(server, "/workspace/surveys?form=village-branch&period=2026&review=pending&limit=5")
            #expect(firstPage.status == 200)
            #expect(firstPage.text.components(separatedBy: "<tr><td><a href=\"/workspace/surveys/").count - 1 == 5)
            let beforeNext = String(firstPage.text[..<(firstPage.text.range(of: "\" rel=\"next\"")?.lowerBound ?? firstPage.text.startIndex)])
            let next = String(beforeNext[(beforeNext.range(of: "<a href=\"", options: .backwards)?.upperBound ?? beforeNext.endIndex)...])
                .replacingOccurrences(of: "&amp;", with: "&")
            #expect(next.contains("cursor=") && next.contains("limit=5") && next.contains("review=pending"), "\(next)")
            let secondPage = try await township.get(server, next)
            #expect(secondPage.text.components(separatedBy: "<tr><td><a href=\"/workspace/surveys/").count - 1 == 2)
            let target = surveys[0]
            let name = try #require(LiveServer.registry.unit(UnitCode(target.unit)!)?.name)
            let found = try await township.get(server, "/workspace/surveys?q=\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
            #expect(found.text.contains(target.instanceID) && !found.text.contains(surveys[1].instanceID))
            #expect(try await township.get(server, "/workspace/surveys/\(surveys[7].instanceID)").status == 403, "another township's survey")

            // The survey page: answers as a person reads them, and the decisions this reviewer may take.
            let path = "/workspace/surveys/\(target.instanceID)"
            let page = try await township.get(server, path)
            #expect(page.text.contains(name) && page.text.contains("待审核") && page.text.contains("value=\"approve\"") && page.text.contains("value=\"return\""))
            #expect(page.text.contains("党员总数"), "answers with their labels")
            #expect(!page.text.contains("value=\"reopen\""), "nothing to reopen yet")

            // Refused without the CSRF token, with another session's, and from another site: nothing changes.
            let comment = "书记报酬<script>alert(1)</script>请核实"
            let noToken = try await township.post(server, "\(path)/review", [("action", "return"), ("revision", "1"), ("comment", comment)], csrf: "")
            #expect(noToken.status == 403 && noToken.text.contains("拒绝这个表单"))
            let crossSite = try await township.post(
                server, "\(path)/review", [("action", "return"), ("revision", "1"), ("comment", comment)], origin: "http://127.0.0.1:1")
            #expect(crossSite.status == 403)
            #expect(try await server.service.detail(of: target.instanceID, for: .init(tokenID: 0, name: "t", role: .admin, unit: Self.county)).review == .pending)

            // A return needs a comment: the page says so.
            let bare = try await township.post(server, "\(path)/review", [("action", "return"), ("revision", "1"), ("comment", "")])
            #expect(bare.status == 400 && bare.text.contains("class=\"flash error\""), "\(bare.text)")
            let returned = try await township.post(server, "\(path)/review", [("action", "return"), ("revision", "1"), ("comment", comment)])
            #expect(returned.status == 303 && returned.header("Location") == "\(path)?done=return")
            let after = try await township.get(server, "\(path)?done=return")
            #expect(after.text.contains("被退回(乡镇)") && after.text.contains("已退回:现为被退回(乡镇)"))
            // What a person typed is shown as text, never run as a page's script.
            #expect(after.text.contains("书记报酬&lt;script&gt;alert(1)&lt;/script&gt;请核实") && !after.text.contains("<script>alert"))
            #expect(after.text.contains("value=\"reopen\"") && !after.text.contains("value=\"approve\""))

            // The device corrects it; the township approves revision 2; the county accepts.
            var corrected = target
            corrected.revision = 2
            corrected.replaces = 1
            corrected.answers["secretary_pay"] = .integer(45_678)
            #expect(try await server.post([corrected], token: collector).json.at("results", 0, "outcome")?.stringValue == "updated")
            let stale = try await township.post(server, "\(path)/review", [("action", "approve"), ("revision", "1")])
            #expect(stale.status == 409, "the page was of revision 1")
            let revised = try await township.get(server, path)
            #expect(revised.text.contains("45678") || revised.text.contains("45,678"), "the change between revisions")
            #expect(try await township.post(server, "\(path)/review", [("action", "approve"), ("revision", "2")]).status == 303)

            let county = try await SignedIn.signIn(server, "县审核员", "county-pass-12")
            let countyHome = try await county.get(server, "/workspace?period=2026")
            #expect(countyHome.text.contains("待我审核(乡镇已审核)<b>1</b>"), "\(countyHome.text)")
            let waiting = try await county.get(server, "/workspace/surveys?form=village-branch&period=2026&review=approved@township")
            #expect(waiting.status == 200)
            #expect(waiting.text.contains(target.instanceID) && !waiting.text.contains(surveys[1].instanceID), "\(waiting.text)")
            let countyPage = try await county.get(server, path)
            #expect(countyPage.text.contains(">验收</button>"))
            // The township's CSRF token is not the county's.
            #expect(try await county.post(server, "\(path)/review", [("action", "approve"), ("revision", "2")], csrf: township.csrf).status == 403)
            #expect(try await county.post(server, "\(path)/review", [("action", "approve"), ("revision", "2")]).status == 303)
            let accepted = try await county.get(server, path)
            #expect(accepted.text.contains("县已验收"))
            #expect(accepted.text.contains("乡镇 ✓") && accepted.text.contains("县 ✓"))

            // English on request, kept in every link.
            let english = try await county.get(server, "\(path)?lang=en")
            #expect(english.text.contains("accepted by the county") && english.text.contains("href=\"/workspace/surveys?lang=en\""))
            // The audit page is an admin's; a reviewer is refused.
            let audit = try await county.get(server, "/workspace/audit")
            #expect(audit.text.contains("review.approve") && audit.text.contains("乡镇审核员") && audit.text.contains("session.sign_in"))
            #expect(try await township.get(server, "/workspace/audit").status == 403)

            // The API takes the session too, with the same role rules, and wants the CSRF token for a change.
            let api = try await server.send("GET", "/api/v1/surveys/\(target.instanceID)", headers: [("Cookie", township.cookie)])
            #expect(try api.json().at("review", "state")?.stringValue == "accepted")
            let reopen = Array("{\"action\":\"reopen\",\"revision\":2}".utf8)
            let forged = try await server.send(
                "POST", "/api/v1/surveys/\(surveys[1].instanceID)/review", headers: [("Cookie", township.cookie), ("Content-Type", "application/json")],
                body: Array("{\"action\":\"approve\",\"revision\":1}".utf8))
            let code = try forged.json().at("error", "code")?.stringValue
            #expect(forged.status == 403 && code == "csrf")
            let allowed = try await server.send(
                "POST", "/api/v1/surveys/\(surveys[1].instanceID)/review",
                headers: [("Cookie", township.cookie), ("X-CSRF-Token", township.csrf), ("Content-Type", "application/json")],
                body: Array("{\"action\":\"approve\",\"revision\":1}".utf8))
            #expect(allowed.status == 200, "\(allowed.text)")
            let outOfScope = try await server.send(
                "POST", "/api/v1/surveys/\(surveys[7].instanceID)/review",
                headers: [("Cookie", township.cookie), ("X-CSRF-Token", township.csrf), ("Content-Type", "application/json")], body: reopen)
            #expect(outOfScope.status == 403)

            // Signed out, the pages ask to sign in again.
            #expect(try await township.post(server, "/reports/logout", []).status == 200)
            let gone = try await township.get(server, "/workspace")
            #expect(gone.status == 401 && gone.text.contains("action=\"/reports/login\""))
        }
    }

    @Test("a held survey's conflict is compared side by side and resolved on its page by an admin, with a comment; exports and units lead where they say", arguments: TestDatabase.all)
    func conflictsAndLinks(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            _ = try await server.service.createPerson(name: "county", role: .admin, unit: Self.county, password: "county-pass-12", by: .console(user: "test"))
            _ = try await server.service.createPerson(name: "viewer", role: .viewer, unit: Self.county, password: "viewer-pass-12", by: .console(user: "test"))
            var maker = SurveyMaker(seed: 181)
            let current = maker.survey(village: 0)
            var held = maker.survey(village: 0)
            held.answers["notes"] = "第二份:重复录入"
            let reply = try await server.post([current, held], token: collector).json
            let id = try #require(reply.at("results", 1, "conflict_id")?.int)
            let county = try await SignedIn.signIn(server, "county", "county-pass-12")
            let list = try await county.get(server, "/workspace/conflicts")
            #expect(list.text.contains("href=\"/workspace/conflicts/\(id)\""))
            let page = try await county.get(server, "/workspace/conflicts/\(id)")
            #expect(page.status == 200)
            #expect(page.text.contains("<tr class=\"differs\"><td>备注</td><td>第二份:重复录入</td>"), "\(page.text)")
            #expect(page.text.contains("value=\"\(held.instanceID)\"") && page.text.contains("value=\"\(current.instanceID)\""))
            // A viewer reads it but cannot resolve it.
            let viewer = try await SignedIn.signIn(server, "viewer", "viewer-pass-12")
            #expect(!(try await viewer.get(server, "/workspace/conflicts/\(id)").text.contains("id=\"resolve\"")))
            #expect(try await viewer.post(server, "/workspace/conflicts/\(id)/resolve", [("keep", held.instanceID)]).status == 403)
            let resolved = try await county.post(server, "/workspace/conflicts/\(id)/resolve", [("keep", held.instanceID), ("comment", "乡镇确认第二份")])
            #expect(resolved.status == 303)
            let settled = try await county.get(server, "/workspace/conflicts/\(id)?done=resolved")
            #expect(settled.text.contains("冲突已处理") && settled.text.contains("乡镇确认第二份") && !settled.text.contains("id=\"resolve\""))
            #expect(try await server.storage.conflict(Int64(id))?.keptInstance == held.instanceID)

            // A unit from a report's list leads to its survey; the exports page to the API's exports.
            let unit = try await county.get(server, "/workspace/units/\(current.unit)?form=village-branch&period=2026")
            #expect(unit.status == 303 && unit.header("Location") == "/workspace/surveys/\(held.instanceID)")
            let exports = try await county.get(server, "/workspace/exports")
            #expect(exports.text.contains("action=\"/workspace/exports/village-branch\"") && exports.text.contains("<option value=\"xlsx\">"))
            // The form's empty fields are dropped on the way to the API's export.
            let chosen = try await county.get(server, "/workspace/exports/village-branch?period=2026&scope=130102000000&review=&format=csv&values=labels")
            #expect(chosen.status == 303)
            #expect(chosen.header("Location") == "/api/v1/exports/village-branch?period=2026&scope=130102000000&format=csv&values=labels")
            let download = try await county.get(server, try #require(chosen.header("Location")))
            #expect(download.status == 200 && download.header("Content-Type") == "application/zip")
        }
    }
}
