import Foundation
import SurveyCore
import SurveyFixtures
import SurveySQL
import SurveySQLite
import Testing

@testable import SurveyServer

extension LiveServer {
    /// `POST /api/v1/surveys/{id}/review`.
    func review(_ id: String, _ action: String, revision: Int, comment: String? = nil, token: String) async throws -> HTTPReply {
        var body: JSONObject = ["action": .string(action), "revision": .integer(revision)]
        if let comment { body["comment"] = .string(comment) }
        return try await send("POST", "/api/v1/surveys/\(id)/review", token: token, body: Array(JSONValue.object(body).serialized().utf8))
    }

    /// A survey's review state as the API gives it: `approved@township`, `pending`.
    func reviewState(_ id: String, token: String) async throws -> String {
        let json = try await send("GET", "/api/v1/surveys/\(id)", token: token).json()
        let state = json.at("review", "state")?.stringValue ?? "?"
        return json.at("review", "level")?.stringValue.map { "\(state)@\($0)" } ?? state
    }

    /// The audit log's actions, newest first, as an admin of the county sees them.
    func auditActions(token: String) async throws -> [String] {
        try await send("GET", "/api/v1/audit", token: token).json()["entries"]?.arrayValue?.compactMap { $0["action"]?.stringValue } ?? []
    }
}

/// The sample county's villages in two different townships, and those townships.
enum Townships {
    static let village = 0
    static let home = LiveServer.villages[village].ancestor(at: .township)
    /// A village of another township.
    static let elsewhere = LiveServer.villages.firstIndex { $0.ancestor(at: .township) != home }!
    static let other = LiveServer.villages[elsewhere].ancestor(at: .township)
}

@Suite("Review by level")
struct ReviewTests {
    @Test(
        "the township approves first, then the county accepts; order, level, role, scope and the revision seen are enforced; the audit log has each decision",
        arguments: TestDatabase.all)
    func approvalByLevel(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let township = try await server.token(.reviewer, unit: Townships.home.rawValue, name: "城关镇审核")
            let otherTownship = try await server.token(.reviewer, unit: Townships.other.rawValue)
            let county = try await server.token(.reviewer, unit: "130102000000", name: "县审核")
            let villageReviewer = try await server.token(.reviewer, unit: LiveServer.villages[0].rawValue)
            let viewer = try await server.token(.viewer)
            let admin = try await server.token(.admin)
            var maker = SurveyMaker(seed: 41)
            let survey = maker.survey(village: Townships.village)
            #expect(try await server.post([survey], token: collector).json.outcomes == ["created"])
            let id = survey.instanceID
            #expect(try await server.reviewState(id, token: viewer) == "pending")

            // The county cannot approve before the township.
            let early = try await server.review(id, "approve", revision: 1, token: county)
            #expect(early.status == 409)
            #expect(try early.json().at("error", "code")?.stringValue == "review_order")
            // Nobody approves a revision they did not see.
            let stale = try await server.review(id, "approve", revision: 2, token: township)
            #expect(stale.status == 409)
            #expect(try stale.json().at("error", "code")?.stringValue == "stale_revision")
            #expect(try stale.json().at("error", "current_revision")?.int == 1)
            // Another township's reviewer, a viewer, a collector and a village's reviewer are refused.
            #expect(try await server.review(id, "approve", revision: 1, token: otherTownship).status == 403)
            #expect(try await server.review(id, "approve", revision: 1, token: viewer).status == 403)
            #expect(try await server.review(id, "approve", revision: 1, token: collector).status == 403)
            let village = try await server.review(id, "approve", revision: 1, token: villageReviewer)
            #expect(village.status == 403)
            #expect(try village.json().at("error", "code")?.stringValue == "not_a_review_level")
            #expect(try await server.review("0badc0de-0000-4000-8000-000000000000", "approve", revision: 1, token: township).status == 404)
            #expect(try await server.reviewState(id, token: viewer) == "pending")

            let approved = try await server.review(id, "approve", revision: 1, comment: "已核对", token: township)
            #expect(approved.status == 200, "\(approved.text)")
            #expect(try approved.json().at("review", "state")?.stringValue == "approved")
            #expect(try approved.json().at("review", "level")?.stringValue == "township")
            let again = try await server.review(id, "approve", revision: 1, token: township)
            #expect(again.status == 409)
            #expect(try again.json().at("error", "code")?.stringValue == "already_reviewed")
            let accepted = try await server.review(id, "approve", revision: 1, token: county)
            #expect(accepted.status == 200)
            #expect(try await server.reviewState(id, token: viewer) == "accepted@county")
            // The township cannot undo the county's decision.
            #expect(try await server.review(id, "reopen", revision: 1, token: township).status == 409)

            let history = try await server.send("GET", "/api/v1/surveys/\(id)/reviews", token: viewer).json()["reviews"]?.arrayValue ?? []
            #expect(history.map { $0["reviewer"]?.stringValue ?? "" } == ["城关镇审核", "县审核"])
            #expect(history.map { $0.at("review", "state")?.stringValue ?? "" } == ["approved", "accepted"])
            #expect(history.first?["comment"]?.stringValue == "已核对")

            // The audit log: each decision, who, from where; for admins only.
            let audit = try await server.send("GET", "/api/v1/audit?action=review.approve", token: admin).json()
            let entries = audit["entries"]?.arrayValue ?? []
            #expect(entries.count == 2)
            #expect(entries.map { $0["actor"]?.stringValue ?? "" } == ["县审核", "城关镇审核"])
            #expect(entries.allSatisfy { $0["target"]?.stringValue == id && $0["address"]?.stringValue == "127.0.0.1" })
            #expect(entries.last?.at("details", "to")?.stringValue == "approved@township")
            #expect(try await server.send("GET", "/api/v1/audit", token: viewer).status == 403)
            #expect(try await server.send("GET", "/api/v1/audit", token: township).status == 403)
            // An admin of another township sees none of it.
            let otherAdmin = try await server.token(.admin, unit: Townships.other.rawValue)
            #expect(try await server.auditActions(token: otherAdmin).isEmpty)
        }
    }

    @Test(
        "any level returns with a comment; a new revision from the device resets the review to pending and keeps the history; reopen undoes a decision",
        arguments: TestDatabase.all)
    func returnAndNewRevision(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let township = try await server.token(.reviewer, unit: Townships.home.rawValue)
            let county = try await server.token(.admin, unit: "130102000000", name: "县组织部")
            let viewer = try await server.token(.viewer)
            var maker = SurveyMaker(seed: 42)
            let first = maker.survey(village: Townships.village)
            _ = try await server.post([first], token: collector)
            let id = first.instanceID

            #expect(try await server.review(id, "approve", revision: 1, token: township).status == 200)
            // A return needs a reason.
            let bare = try await server.review(id, "return", revision: 1, comment: "  ", token: county)
            #expect(bare.status == 400)
            #expect(try bare.json().at("error", "code")?.stringValue == "comment_required")
            let returned = try await server.review(id, "return", revision: 1, comment: "集体收入比去年高十倍,请核实", token: county)
            #expect(returned.status == 200, "\(returned.text)")
            #expect(try await server.reviewState(id, token: viewer) == "returned@county")
            // A returned survey waits for the device: approving it is refused.
            let blocked = try await server.review(id, "approve", revision: 1, token: township)
            #expect(blocked.status == 409)
            #expect(try blocked.json().at("error", "code")?.stringValue == "returned")
            // The county reopens its return: the township's approval stands again.
            #expect(try await server.review(id, "reopen", revision: 1, token: county).status == 200)
            #expect(try await server.reviewState(id, token: viewer) == "approved@township")
            #expect(try await server.review(id, "return", revision: 1, comment: "请核实集体收入", token: county).status == 200)

            // The device's corrected revision: pending again, the history kept.
            let second = maker.survey(village: Townships.village, revision: 2, id: id)
            #expect(try await server.post([second], token: collector).json.outcomes == ["updated"])
            #expect(try await server.reviewState(id, token: viewer) == "pending")
            let detail = try await server.send("GET", "/api/v1/surveys/\(id)", token: viewer).json()
            #expect(detail.at("review", "comment") == .null)
            #expect(detail.at("review", "levels")?.arrayValue == [.string("township"), .string("county")])
            let history = try await server.send("GET", "/api/v1/surveys/\(id)/reviews", token: viewer).json()["reviews"]?.arrayValue ?? []
            #expect(history.map { $0["action"]?.stringValue ?? "" } == ["approve", "return", "reopen", "return"])
            #expect(history.allSatisfy { $0["revision"]?.int == 1 })
            // A decision about the old revision is refused now.
            #expect(try await server.review(id, "approve", revision: 1, token: township).status == 409)

            // The township returns the new revision itself, then thinks better of it.
            #expect(try await server.review(id, "return", revision: 2, comment: "缺少支书年龄", token: township).status == 200)
            #expect(try await server.reviewState(id, token: viewer) == "returned@township")
            #expect(try await server.review(id, "reopen", revision: 2, token: township).status == 200)
            #expect(try await server.reviewState(id, token: viewer) == "pending")
            #expect(try await server.review(id, "reopen", revision: 2, token: township).json().at("error", "code")?.stringValue == "nothing_to_reopen")
            // Approved at both levels, then the county reopens its acceptance.
            #expect(try await server.review(id, "approve", revision: 2, token: township).status == 200)
            #expect(try await server.review(id, "approve", revision: 2, token: county).status == 200)
            #expect(try await server.reviewState(id, token: viewer) == "accepted@county")
            #expect(try await server.review(id, "reopen", revision: 2, token: county).status == 200)
            #expect(try await server.reviewState(id, token: viewer) == "approved@township")

            // What a collector's device hears: every decision about the surveys its token sent, in order.
            let feed = try await server.send("GET", "/api/v1/reviews?after=0", token: collector).json()
            let notices = feed["reviews"]?.arrayValue?.compactMap(ReviewNotice.init(json:)) ?? []
            #expect(notices.count == 9)
            #expect(notices.map(\.instanceID).allSatisfy { $0 == id })
            #expect(notices[1].status == ReviewStatus(.returned, at: .county) && notices[1].comment == "集体收入比去年高十倍,请核实")
            #expect(notices[1].reviewer == "县组织部")
            let last = try #require(feed["next"]?.int)
            #expect(try await server.send("GET", "/api/v1/reviews?after=\(last)", token: collector).json()["reviews"]?.arrayValue?.isEmpty == true)
            // Another collector's token hears nothing of surveys it did not send.
            let stranger = try await server.token(.collector)
            #expect(try await server.send("GET", "/api/v1/reviews", token: stranger).json()["reviews"]?.arrayValue?.isEmpty == true)
            #expect(try await server.send("GET", "/api/v1/reviews?after=-1", token: collector).status == 400)

            let admin = try await server.token(.admin)
            let actions = try await server.auditActions(token: admin)
            #expect(actions.filter { $0.hasPrefix("review.") }.count == 9)
            #expect(actions.filter { $0 == "review.return" }.count == 3)
        }
    }

    @Test("a batch review answers each survey on its own: approved, stale, out of scope, unknown", arguments: TestDatabase.all)
    func batchReview(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let township = try await server.token(.reviewer, unit: Townships.home.rawValue)
            let viewer = try await server.token(.viewer)
            var maker = SurveyMaker(seed: 43)
            let homeVillages = LiveServer.villages.indices.filter { LiveServer.villages[$0].ancestor(at: .township) == Townships.home }
            let mine = homeVillages.prefix(3).map { maker.survey(village: $0) }
            let theirs = maker.survey(village: Townships.elsewhere)
            _ = try await server.post(mine + [theirs], token: collector)
            func item(_ id: String, _ revision: Int) -> JSONValue { ["instance_id": .string(id), "revision": .integer(revision)] }
            let body: JSONValue = [
                "action": "approve", "comment": "批量审核",
                "surveys": .array([
                    item(mine[0].instanceID, 1), item(mine[1].instanceID, 1), item(mine[2].instanceID, 3), item(theirs.instanceID, 1),
                    item("0badc0de-0000-4000-8000-000000000000", 1),
                ]),
            ]
            let reply = try await server.send("POST", "/api/v1/reviews", token: township, body: Array(body.serialized().utf8))
            #expect(reply.status == 200, "\(reply.text)")
            let json = try reply.json()
            let results = json["results"]?.arrayValue ?? []
            #expect(results.map { $0["ok"] == .bool(true) } == [true, true, false, false, false])
            #expect(results.map { $0.at("error", "status")?.int ?? 200 } == [200, 200, 409, 403, 404])
            #expect(results[2].at("error", "code")?.stringValue == "stale_revision")
            #expect(json.at("summary", "done")?.int == 2 && json.at("summary", "refused")?.int == 2 + 1)
            #expect(try await server.reviewState(mine[0].instanceID, token: viewer) == "approved@township")
            #expect(try await server.reviewState(mine[2].instanceID, token: viewer) == "pending")
            #expect(try await server.reviewState(theirs.instanceID, token: viewer) == "pending")
            // A survey held in a conflict waits for the conflict to be resolved.
            let rival = maker.survey(village: homeVillages[0])
            #expect(try await server.post([rival], token: collector).json.outcomes == ["held"])
            let held = try await server.review(rival.instanceID, "approve", revision: 1, token: township)
            #expect(held.status == 409)
            #expect(try held.json().at("error", "code")?.stringValue == "not_current")
            // Malformed batches are refused whole.
            for bad in [#"{"action":"approve"}"#, #"{"action":"bless","surveys":[]}"#, #"{"action":"approve","surveys":[{"instance_id":1}]}"#] {
                #expect(try await server.send("POST", "/api/v1/reviews", token: township, body: Array(bad.utf8)).status == 400, "\(bad)")
            }
            #expect(try await server.send("POST", "/api/v1/reviews", token: township, body: Array(#"{"action":"approve","surveys":[]}"#.utf8)).status == 400)
        }
    }

    @Test(
        "browsing surveys: filters by review state and text, pages by cursor, names units and townships; a survey reads as a person reads it, its revisions with their changes",
        arguments: TestDatabase.all)
    func browseAndRead(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector, name: "贺庄采集")
            let township = try await server.token(.reviewer, unit: Townships.home.rawValue)
            let viewer = try await server.token(.viewer)
            var maker = SurveyMaker(seed: 44)
            let surveys = (0..<5).map { maker.survey(village: $0) }
            _ = try await server.post(surveys, token: collector)
            let target = surveys[0]
            _ = try await server.review(target.instanceID, "return", revision: 1, comment: "请补充", token: township)

            var seen: [String] = []
            var cursor: String?
            repeat {
                let path = "/api/v1/surveys?form=village-branch&period=2026&limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await server.send("GET", path, token: viewer).json()
                let items = page["surveys"]?.arrayValue ?? []
                #expect(items.count <= 2)
                seen += items.compactMap { $0["instance_id"]?.stringValue }
                cursor = page["next_cursor"]?.stringValue
            } while cursor != nil
            #expect(Set(seen) == Set(surveys.map(\.instanceID)) && seen.count == 5)

            let returned = try await server.send("GET", "/api/v1/surveys?review=returned", token: viewer).json()["surveys"]?.arrayValue ?? []
            #expect(returned.count == 1)
            let listed = try #require(returned.first)
            let unit = LiveServer.registry.unit(LiveServer.villages[0])!
            #expect(listed["unit_name"]?.stringValue == unit.name)
            #expect(listed.at("township", "name")?.stringValue == LiveServer.registry.unit(Townships.home)?.name)
            #expect(listed["sent_by"]?.stringValue == "贺庄采集")
            #expect(listed.at("review", "comment")?.stringValue == "请补充")
            #expect(try await server.send("GET", "/api/v1/surveys?review=pending", token: viewer).json()["surveys"]?.arrayValue?.count == 4)
            // By a part of the unit's name, and by the start of its code.
            let name = String(unit.name.prefix(2))
            let byName = try await server.send("GET", "/api/v1/surveys?q=\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", token: viewer)
                .json()
            #expect(byName["surveys"]?.arrayValue?.contains { $0["instance_id"]?.stringValue == target.instanceID } == true)
            let byCode = try await server.send("GET", "/api/v1/surveys?q=\(unit.code.rawValue)", token: viewer).json()["surveys"]?.arrayValue ?? []
            #expect(byCode.map { $0["instance_id"]?.stringValue } == [target.instanceID])
            #expect(try await server.send("GET", "/api/v1/surveys?q=%25", token: viewer).json()["surveys"]?.arrayValue?.isEmpty == true)
            // Bad parameters and scopes are refused with a reason.
            #expect(try await server.send("GET", "/api/v1/surveys?review=maybe", token: viewer).status == 400)
            #expect(try await server.send("GET", "/api/v1/surveys?limit=0", token: viewer).status == 400)
            #expect(try await server.send("GET", "/api/v1/surveys?cursor=x", token: viewer).status == 400)
            let narrow = try await server.token(.viewer, unit: Townships.other.rawValue)
            #expect(try await server.send("GET", "/api/v1/surveys?scope=\(Townships.home.rawValue)", token: narrow).status == 403)
            #expect(try await server.send("GET", "/api/v1/surveys", token: narrow).json()["surveys"]?.arrayValue?.isEmpty == true)
            #expect(try await server.send("GET", "/api/v1/surveys", token: collector).status == 403)

            // A second revision changes two answers: the diff says which, as a person reads them.
            var answers = target.answers
            answers["notes"] = .string("已按乡镇意见补充")
            answers["secretary_pay"] = .integer(51234)
            var second = target
            second.revision = 2
            second.replaces = 1
            second.answers = answers
            #expect(try await server.post([second], token: collector).json.outcomes == ["updated"])
            let revisions = try await server.send("GET", "/api/v1/surveys/\(target.instanceID)/revisions", token: viewer).json()["revisions"]?.arrayValue ?? []
            #expect(revisions.count == 2)
            #expect(revisions[0]["changes"]?.arrayValue?.isEmpty == true)
            let changes = revisions[1]["changes"]?.arrayValue ?? []
            let paths = changes.compactMap { $0["path"]?.stringValue }
            #expect(Set(paths) == ["notes", "secretary_pay"], "\(paths)")
            let pay = try #require(changes.first { $0["path"]?.stringValue == "secretary_pay" })
            #expect(pay["after"]?.stringValue == "51234 yuan")
            #expect(pay["label"]?.stringValue == "Secretary's annual pay")
            let readable = try await server.send("GET", "/api/v1/surveys/\(target.instanceID)", token: viewer, headers: [("Accept-Language", "zh-CN")]).json()
            let lines = readable["readable"]?.arrayValue ?? []
            #expect(lines.contains { $0["kind"]?.stringValue == "section" && $0["label"]?.stringValue == "A. 基本情况" })
            #expect(lines.contains { $0["path"]?.stringValue == "secretary_pay" && $0["value"]?.stringValue == "51234元" })
        }
    }
}

@Suite("The audit log")
struct AuditTests {
    @Test("sign-ins to the report pages (and refused ones), sign-outs and CSV downloads are recorded with who and from where", arguments: TestDatabase.all)
    func signInsAndExports(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let viewer = try await server.token(.viewer, name: "county-office")
            let admin = try await server.token(.admin)
            let form = [("Content-Type", "application/x-www-form-urlencoded")]
            let signedIn = try await server.send("POST", "/reports/login", headers: form, body: Array("token=\(viewer)&next=%2Freports%2Fvillage-branch".utf8))
            #expect(signedIn.status == 303)
            let cookie = try #require(signedIn.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
            #expect(try await server.send("POST", "/reports/login", headers: form, body: Array("token=vst_wrong".utf8)).status == 401)
            let reportPage = String(decoding: try await server.send("GET", "/reports/village-branch?period=2026", headers: [("Cookie", cookie)]).body, as: UTF8.self)
            let csrf = Array(("csrf=" + reportPage.between("name=\"csrf\" value=\"", "\"")).utf8)
            #expect(try await server.send("POST", "/reports/logout", headers: [("Cookie", cookie)] + form, body: csrf).status == 200)
            #expect(try await server.send("GET", "/api/v1/reports/village-branch?period=2026&format=csv", token: viewer).status == 200)
            let entries = try await server.send("GET", "/api/v1/audit", token: admin).json()["entries"]?.arrayValue ?? []
            #expect(entries.map { $0["action"]?.stringValue ?? "" } == ["report.export", "session.sign_out", "session.sign_in_refused", "session.sign_in"])
            #expect(entries.allSatisfy { $0["address"]?.stringValue == "127.0.0.1" })
            #expect(entries[0]["actor"]?.stringValue == "county-office" && entries[0]["target"]?.stringValue == "village-branch/2026")
            #expect(entries[3]["actor"]?.stringValue == "county-office" && entries[3]["role"]?.stringValue == "viewer")
            #expect(entries[2]["actor"]?.stringValue == "?")
            // Paging, newest first.
            let first = try await server.send("GET", "/api/v1/audit?limit=3", token: admin).json()
            let cursor = try #require(first["next_cursor"]?.stringValue)
            let rest = try await server.send("GET", "/api/v1/audit?limit=3&cursor=\(cursor)", token: admin).json()
            #expect(rest["entries"]?.arrayValue?.map { $0["action"]?.stringValue ?? "" } == ["session.sign_in"])
            #expect(rest["next_cursor"] == .null)
        }
    }
}

@Suite("Upgrading to review by level")
struct ReviewUpgradeTests {
    @Test("a database from before review keeps its tokens and sign-ins when the token table is rebuilt for the reviewer role (SQLite)")
    func upgradeKeepsTokensAndSessions() async throws {
        let directory = try scratch()
        let path = directory.appendingPathComponent("server.sqlite").path
        let before = ServerSchema.migrations(.sqlite).filter { $0.id != "v8 review" }
        let secret = TokenSecret.generate()
        let session = TokenSecret.generate(prefix: SurveyService.sessionPrefix)
        do {
            let old = try SQLiteEngine(path: path, migrations: before)
            try await old.write { session_ in
                try session_.execute(
                    "INSERT INTO token (id, name, role, unit, hash, created_at) VALUES (7, 'county-viewer', 'viewer', '130102000000', ?, 1)",
                    [.text(TokenSecret.hash(secret))])
                try session_.execute(
                    "INSERT INTO web_session (hash, token_id, created_at, expires_at) VALUES (?, 7, 1, ?)",
                    [.text(TokenSecret.hash(session)), .integer(Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000)])
                // Nothing can hold a reviewer yet.
                #expect(throws: (any Error).self) {
                    try session_.execute(
                        "INSERT INTO token (name, role, unit, hash, created_at) VALUES ('r', 'reviewer', '130102000000', 'h', 1)", [])
                }
            }
            old.close()
        }
        let storage = try SQLiteServerStorage(path: path)
        #expect(try await storage.appliedMigrations().last == ServerSchema.migrations(.sqlite).last?.id)
        let principal = try #require(try await storage.principal(tokenHash: TokenSecret.hash(secret)))
        #expect(principal.tokenID == 7 && principal.role == .viewer)
        #expect(try await storage.principal(sessionHash: TokenSecret.hash(session), at: Date()) == principal)
        let reviewer = try await storage.createToken(name: "township-reviewer", role: .reviewer, unit: UnitCode("130102001000")!, hash: "abc")
        #expect(reviewer.id == 8 && reviewer.role == .reviewer)
        // Sessions still belong to tokens: revoking one ends its sign-ins.
        _ = try await storage.revokeToken("county-viewer")
        #expect(try await storage.principal(sessionHash: TokenSecret.hash(session), at: Date()) == nil)
        let foreignKeys = try await storage.sql.read { session in
            try session.all("SELECT \"table\" FROM pragma_foreign_key_list('web_session')").map { $0.text(0) }
        }
        #expect(foreignKeys == ["token"])
    }
}
