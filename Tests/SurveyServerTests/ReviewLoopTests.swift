import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer
import SurveyStore
import Testing

/// Makes a token named `name` with the real `vsurvey-server token create`.
func namedToken(_ name: String, role: String, unit: String, db: String, in directory: URL) async throws -> String {
    let run = try await runServerCommand(["token", "create", "--db", db, "--name", name, "--role", role, "--unit", unit, "--lang", "en"], in: directory)
    guard run.status == 0, let secret = run.stdout.split(separator: "\n").last.map(String.init), secret.hasPrefix(TokenSecret.prefix) else {
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: run.stderr])
    }
    return secret
}

/// An HTTP request to a server process, as a reviewer's script would send it.
func call(_ server: ServerProcess, _ method: String, _ path: String, token: String, body: JSONValue? = nil) async throws -> HTTPReply {
    try await HTTPTestClient.send(
        port: server.port, method, path, headers: [("Authorization", "Bearer \(token)"), ("Accept-Language", "en")],
        body: body.map { Array($0.serialized().utf8) })
}

@Suite("The review loop: device, township and county", .serialized)
struct ReviewLoopTests {
    @Test(
        "the county returns a survey with a comment; the device hears it at sync, shows 被退回 with the comment, is edited in a terminal and sent again; pending on the server; the township approves, the county accepts, the device shows it accepted"
    )
    func returnReachesTheDevice() async throws {
        let serverDirectory = try scratch()
        let collector = try await createToken("collector", in: serverDirectory)
        let township = LiveServer.villages[0].ancestor(at: .township).rawValue
        let townshipReviewer = try await namedToken("城关镇审核员", role: "reviewer", unit: township, db: "server.sqlite", in: serverDirectory)
        let countyReviewer = try await namedToken("县委组织部", role: "reviewer", unit: "130102000000", db: "server.sqlite", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        var device = try Device(seed: 91)
        let survey = try device.finalize(village: 0)
        let other = try device.finalize(village: 1)
        try await device.login(server, token: collector)
        let sent = try await device.sync()
        #expect(sent.status == 0, "\(sent.stdout)\(sent.stderr)")
        let id = survey.instanceID

        let comment = "书记年报酬与上年相差太大,请核实"
        let returned = try await call(
            server, "POST", "/api/v1/surveys/\(id)/review", token: countyReviewer, body: ["action": "return", "revision": 1, "comment": .string(comment)])
        #expect(returned.status == 200, "\(returned.text)")
        // The device has heard nothing yet: offline, it shows what it knew.
        let before = try await runClient(["list"], dataDirectory: device.directory)
        #expect(!before.stdout.contains("returned"), "\(before.stdout)")

        let heard = try await device.sync()
        #expect(heard.status == 0, "\(heard.stdout)\(heard.stderr)")
        #expect(heard.stdout.contains("1 review decision received, 1 returned"), "\(heard.stdout)")
        // In Chinese, as the township officer reads it.
        let dataDirectory = device.directory.path
        func zh(_ arguments: [String]) async throws -> CommandRun {
            try await offPool {
                try CommandRun.run(try clientBinary(), arguments + ["--data-dir", dataDirectory, "--lang", "zh"], in: Fixtures.root)
            }
        }
        let list = try await zh(["list"])
        #expect(list.status == 0, "\(list.stderr)")
        let row = try #require(list.stdout.split(separator: "\n").first { $0.contains(survey.shortID) })
        #expect(row.contains("被退回(县)"), "\(list.stdout)")
        #expect(list.stdout.contains("退回意见:"), "\(list.stdout)")
        #expect(list.stdout.contains(comment) && list.stdout.contains("县委组织部"), "\(list.stdout)")
        let untouched = try #require(list.stdout.split(separator: "\n").first { $0.contains(other.shortID) })
        #expect(untouched.contains("已上报"), "\(list.stdout)")
        let onlyReturned = try await zh(["list", "--returned"])
        #expect(onlyReturned.stdout.contains(survey.shortID) && !onlyReturned.stdout.contains(other.shortID), "\(onlyReturned.stdout)")
        let show = try await zh(["show", id])
        #expect(show.stdout.contains("审核:被退回(县)(县委组织部"), "\(show.stdout)")
        #expect(show.stdout.contains(comment), "\(show.stdout)")
        let status = try await zh(["status"])
        #expect(status.stdout.contains("被退回待修改: 1"), "\(status.stdout)")

        // The officer fixes the pay in a terminal, as a person does.
        try await device.correctPay(of: survey, to: "45678")
        let resent = try await device.sync()
        #expect(resent.status == 0 && resent.stdout.contains("sent 1"), "\(resent.stdout)\(resent.stderr)")
        let onServer = try await call(server, "GET", "/api/v1/surveys/\(id)", token: townshipReviewer).json()
        #expect(onServer["revision"]?.int == 2)
        #expect(onServer.at("review", "state")?.stringValue == "pending")
        #expect(onServer.at("answers", "secretary_pay")?.int == 45678)
        // On the device: revision 2 waits for review; the return was about revision 1.
        let waiting = try await zh(["show", id])
        #expect(waiting.stdout.contains("修订 1 曾被退回(县)"), "\(waiting.stdout)")
        #expect(try await zh(["status"]).stdout.contains("被退回待修改: 0"))

        for token in [townshipReviewer, countyReviewer] {
            let approved = try await call(server, "POST", "/api/v1/surveys/\(id)/review", token: token, body: ["action": "approve", "revision": 2])
            #expect(approved.status == 200, "\(approved.text)")
        }
        let accepted = try await device.sync()
        #expect(accepted.stdout.contains("2 review decisions received"), "\(accepted.stdout)")
        let final = try await zh(["list"])
        let acceptedRow = try #require(final.stdout.split(separator: "\n").first { $0.contains(survey.shortID) })
        #expect(acceptedRow.contains("县已验收"), "\(final.stdout)")
        #expect(!final.stdout.contains("退回意见"), "\(final.stdout)")
        let json = try await runClient(["list", "--json"], dataDirectory: device.directory)
        let item = try #require(try JSONParser().parse(json.stdout).arrayValue?.first { $0["id"]?.stringValue == id })
        #expect(item.at("review", "state")?.stringValue == "accepted" && item.at("review", "level")?.stringValue == "county")
    }

    @Test(
        "vsurvey-server conflicts list, show and resolve with a comment; a conflict already resolved and one outside the admin's scope are refused; surveys list and show, and the audit log, from the command line",
        arguments: TestDatabase.all)
    func conflictsFromTheCommandLine(database: TestDatabase) async throws {
        let directory = try scratch()
        let db = try await processDatabase(database)
        defer { if database == .postgres { Task { await TestDatabase.dropDatabase(at: db) } } }
        let collector = try await createToken("collector", in: directory, db: db)
        let homeTownship = Townships.home.rawValue
        _ = try await namedToken("county-admin", role: "admin", unit: "130102000000", db: db, in: directory)
        _ = try await namedToken("other-admin", role: "admin", unit: Townships.other.rawValue, db: db, in: directory)
        let server = try await ServerProcess.start(directory: directory, db: db)
        var maker = SurveyMaker(seed: 92)
        let current = maker.survey(village: Townships.village)
        var held = maker.survey(village: Townships.village)
        held.answers["notes"] = "第二份:乡镇重复录入"
        let elsewhereCurrent = maker.survey(village: Townships.elsewhere)
        let elsewhereHeld = maker.survey(village: Townships.elsewhere)
        let reply = try await call(
            server, "POST", "/api/v1/surveys", token: collector, body: try JSONParser().parse(batch([current, held, elsewhereCurrent, elsewhereHeld])))
        #expect(try reply.json().outcomes == ["created", "held", "created", "held"])
        let homeConflict = try #require(try reply.json().at("results", 1, "conflict_id")?.int)
        let otherConflict = try #require(try reply.json().at("results", 3, "conflict_id")?.int)
        server.stop()

        func admin(_ arguments: [String]) async throws -> CommandRun {
            try await runServerCommand(arguments + ["--db", db, "--forms", Fixtures.formsDirectory.path, "--lang", "en"], in: directory)
        }
        let listed = try await admin(["conflicts", "list"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains(String(held.instanceID.prefix(8))) && listed.stdout.contains(String(elsewhereHeld.instanceID.prefix(8))))
        let scoped = try await admin(["conflicts", "list", "--as", "other-admin"])
        #expect(scoped.stdout.contains(String(elsewhereHeld.instanceID.prefix(8))) && !scoped.stdout.contains(String(held.instanceID.prefix(8))))

        let shown = try await admin(["conflicts", "show", String(homeConflict)])
        #expect(shown.status == 0, "\(shown.stderr)")
        let notesRow = try #require(shown.stdout.split(separator: "\n").first { $0.contains("第二份:乡镇重复录入") })
        #expect(notesRow.hasPrefix("*"), "\(shown.stdout)")
        #expect(shown.stdout.contains("current \(current.instanceID.prefix(8))") && shown.stdout.contains("held \(held.instanceID.prefix(8))"))
        #expect(shown.stdout.contains("differences (marked *)"))

        // Outside the admin's scope: refused, nothing changed.
        let outside = try await admin(["conflicts", "resolve", String(homeConflict), "--keep", String(held.instanceID.prefix(8)), "--as", "other-admin"])
        #expect(outside.status == 1)
        #expect(outside.stderr.contains("outside the token's scope"), "\(outside.stderr)")
        let resolved = try await admin([
            "conflicts", "resolve", String(homeConflict), "--keep", String(held.instanceID.prefix(8)), "--comment", "乡镇确认第二份为准", "--as", "county-admin",
        ])
        #expect(resolved.status == 0, "\(resolved.stderr)")
        #expect(resolved.stdout.contains("conflict \(homeConflict) resolved: \(held.instanceID) is the current survey"))
        let twice = try await admin(["conflicts", "resolve", String(homeConflict), "--keep", current.instanceID, "--as", "county-admin"])
        #expect(twice.status == 1)
        #expect(twice.stderr.contains("already resolved"), "\(twice.stderr)")
        let all = try await admin(["conflicts", "list", "--all"])
        #expect(all.stdout.contains("resolved") && all.stdout.contains("open"))
        let settled = try await admin(["conflicts", "show", String(homeConflict)])
        #expect(settled.stdout.contains("county-admin") && settled.stdout.contains("乡镇确认第二份为准"), "\(settled.stdout)")
        // The other township's admin settles its own.
        let theirs = try await admin(["conflicts", "resolve", String(otherConflict), "--keep", elsewhereCurrent.instanceID, "--as", "other-admin"])
        #expect(theirs.status == 0, "\(theirs.stderr)")

        // Surveys from the command line: the kept one is current, the other set aside.
        let surveys = try await admin(["surveys", "list", "--scope", homeTownship])
        #expect(
            surveys.stdout.contains(String(held.instanceID.prefix(8))) && !surveys.stdout.contains(String(current.instanceID.prefix(8))), "\(surveys.stdout)")
        let aside = try await admin(["surveys", "list", "--state", "superseded"])
        #expect(aside.stdout.contains(String(current.instanceID.prefix(8))) && aside.stdout.contains(String(elsewhereHeld.instanceID.prefix(8))))
        let survey = try await admin(["surveys", "show", held.instanceID])
        #expect(survey.status == 0, "\(survey.stderr)")
        let unitName = LiveServer.registry.unit(LiveServer.villages[Townships.village])!.name
        #expect(survey.stdout.contains(unitName) && survey.stdout.contains("review: pending review"), "\(survey.stdout)")
        #expect(survey.stdout.contains("Notes: 第二份:乡镇重复录入"), "\(survey.stdout)")
        let missing = try await admin(["surveys", "show", "0badc0de-0000-4000-8000-000000000000"])
        #expect(missing.status == 1 && missing.stderr.contains("there is no survey"))

        let audit = try await admin(["audit"])
        #expect(audit.status == 0, "\(audit.stderr)")
        let lines = audit.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("conflict.resolve") && $0.contains("county-admin") && $0.contains("乡镇确认第二份为准") }, "\(audit.stdout)")
        #expect(lines.contains { $0.contains("token.create") && $0.contains("other-admin") })
        let revoked = try await runServerCommand(["token", "revoke", "other-admin", "--db", db], in: directory)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(try await admin(["audit", "--action", "token.revoke"]).stdout.contains("other-admin"))
        // A revoked token cannot be acted as.
        let gone = try await admin(["audit", "--as", "other-admin"])
        #expect(gone.status == 1 && gone.stderr.contains("revoked"), "\(gone.stderr)")
        _ = try await namedToken("other-admin-2", role: "admin", unit: Townships.other.rawValue, db: db, in: directory)
        let scopedAudit = try await admin(["audit", "--as", "other-admin-2"])
        #expect(!scopedAudit.stdout.contains("county-admin") && scopedAudit.stdout.contains("conflict.resolve"), "\(scopedAudit.stdout)")
    }
}
