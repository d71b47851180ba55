import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer
import Testing

@Suite("Ingest over a live server")
struct IngestTests {
    @Test("what a batch writes reaches the database file itself within seconds, not only its write-ahead log")
    func checkpointsInBackground() async throws {
        try await LiveServer.with { server in
            let path = server.directory.appendingPathComponent("server.sqlite").path
            func size() throws -> Int { (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
            try await Task.sleep(for: .seconds(1))
            let before = try size()
            let collector = try await server.token(.collector)
            var maker = SurveyMaker(seed: 6)
            let batch = (0..<200).map { maker.survey(village: $0 % LiveServer.villages.count, period: "20\(10 + $0 / LiveServer.villages.count)") }
            #expect(try await server.post(batch, token: collector).json.at("summary", "created")?.int == 200)
            // The writer leaves checkpoints to the checkpointer until 64 MiB of
            // log; this batch is far less, so only the checkpointer copies it
            // (every half second; a machine busy with the whole suite may take longer).
            var after = try size()
            for _ in 0..<200 where after < before + 400_000 {
                try await Task.sleep(for: .milliseconds(100))
                after = try size()
            }
            #expect(after >= before + 400_000, "the database file grew from \(before) to \(after) bytes")
        }
    }

    @Test("every outcome: created, duplicate, updated, stale, mismatch, rejected, forbidden, held", arguments: TestDatabase.all)
    func everyOutcome(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector, unit: "130102001000")
            var maker = SurveyMaker(seed: 1)
            // Townships 001 holds villages 001201...; find two villages in scope.
            let inScope = LiveServer.villages.enumerated().filter { $0.element.rawValue.hasPrefix("130102001") }.map(\.offset)
            let outside = LiveServer.villages.firstIndex { !$0.rawValue.hasPrefix("130102001") }!
            let first = maker.survey(village: inScope[0])
            let other = maker.survey(village: inScope[0])  // same unit and period, another instance
            var tampered = first
            tampered.answers["members_away"] = .integer((first.answers["members_away"]?.int ?? 0) == 0 ? 1 : 0)
            var invalid = maker.survey(village: inScope[1])
            invalid.answers["members_total"] = .integer(-3)
            let foreign = maker.survey(village: outside)

            let one = try await server.post([first, other, invalid, foreign], token: collector)
            #expect(one.status == 200)
            #expect(one.json.outcomes == ["created", "held", "rejected", "forbidden"])
            #expect(one.json.at("results", 2, "errors", 0, "path")?.stringValue == "members_total")
            #expect(one.json.at("results", 1, "conflict_id")?.int != nil)
            #expect(one.json.at("summary", "created")?.int == 1 && one.json.at("summary", "held")?.int == 1)

            var third = first
            third.revision = 3
            third.replaces = 2
            third.answers["members_away"] = .integer(2)
            var second = first
            second.revision = 2
            second.replaces = 1
            let two = try await server.post([first, tampered, third, second], token: collector)
            #expect(two.json.outcomes == ["duplicate", "mismatch", "updated", "stale"])
            #expect(two.json.at("results", 3, "server_revision")?.int == 3)

            let counts = try await server.storage.counts()
            #expect(counts.revisions == 3)  // first r1, third r3, other r1
            #expect(counts.instances == 2)
            #expect(counts.current == 1 && counts.held == 1 && counts.openConflicts == 1)
        }
    }

    @Test("sending the same batch again answers duplicate for every survey and changes nothing", arguments: TestDatabase.all)
    func idempotentResend(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let token = try await server.token(.collector)
            var maker = SurveyMaker(seed: 2)
            let surveys = (0..<60).map { maker.survey(village: $0) }
            let first = try await server.post(surveys, token: token)
            #expect(first.json.at("summary", "created")?.int == 60)
            let before = try await server.storage.counts()
            let again = try await server.post(surveys, token: token)
            #expect(again.json.outcomes == Array(repeating: "duplicate", count: 60))
            #expect(try await server.storage.counts() == before)
            // Key order does not matter to the content hash.
            var reordered = surveys[0]
            reordered.answers = JSONObject(reordered.answers.pairs.reversed().map { ($0.key, $0.value) })
            #expect(try await server.post([reordered], token: token).json.outcomes == ["duplicate"])
        }
    }

    @Test("an edit chain of three revisions, the history, and the survey as kept", arguments: TestDatabase.all)
    func editChain(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let viewer = try await server.token(.viewer)
            var maker = SurveyMaker(seed: 3)
            var survey = maker.survey(village: 5)
            var outcomes: [String] = []
            for revision in 1...3 {
                survey.revision = revision
                survey.replaces = revision > 1 ? revision - 1 : nil
                survey.answers["members_away"] = .integer(revision)
                outcomes += try await server.post([survey], token: collector).json.outcomes
            }
            #expect(outcomes == ["created", "updated", "updated"])
            let history = try await server.send("GET", "/api/v1/surveys/\(survey.instanceID)/revisions", token: viewer)
            #expect(history.status == 200)
            let revisions = try history.json()["revisions"]?.arrayValue ?? []
            #expect(revisions.map { $0["revision"]?.int } == [1, 2, 3])
            #expect(revisions.map { $0.at("answers", "members_away")?.int } == [1, 2, 3])
            #expect(revisions.last?["replaces"]?.int == 2)
            let current = try await server.send("GET", "/api/v1/surveys/\(survey.instanceID.uppercased())", token: viewer)
            #expect(current.status == 200)
            #expect(try current.json()["state"]?.stringValue == "current")
            #expect(try current.json()["revision"]?.int == 3)
        }
    }

    @Test("calculated values are recomputed by the server, whatever the device sent", arguments: TestDatabase.all)
    func recomputes(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let token = try await server.token(.admin)
            var maker = SurveyMaker(seed: 4)
            var survey = maker.survey(village: 7)
            survey.answers["secretary_age"] = .integer(3)
            let reply = try await server.post([survey], token: token)
            #expect(reply.json.outcomes == ["created"])
            let warnings = reply.json.at("results", 0, "warnings")?.arrayValue ?? []
            #expect(warnings.contains { $0["path"]?.stringValue == "secretary_age" && $0["code"]?.stringValue == "computed" })
            let stored = try await server.send("GET", "/api/v1/surveys/\(survey.instanceID)", token: token).json()
            let year = Int(survey.answers["survey_date"]!.stringValue!.prefix(4))!
            #expect(stored.at("answers", "secretary_age")?.int == year - survey.answers["secretary_birth_year"]!.int!)
        }
    }

    @Test(
        "a cascading select is checked at ingest as on the device: a village of another township is rejected; once() keeps the value the device sent",
        arguments: TestDatabase.all)
    func cascadingSelectAtIngest(database: TestDatabase) async throws {
        // The shipped registry with the cascading sample beside it, as a deployment would add a form.
        let directory = try scratchDirectory("cascade-forms")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(at: Fixtures.formsDirectory.appendingPathComponent("units"), to: directory.appendingPathComponent("units"))
        var yaml = try String(contentsOf: Fixtures.formsDirectory.appendingPathComponent("xlsx/cascade-sample.yaml"), encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "    calculation: jr:choice-name(${village}, '${village}')", with: "    calculation: jr:choice-name(${village}, '${village}')\n  - type: calculate\n    name: key\n    calculation: once(uuid())")
        try yaml.write(to: directory.appendingPathComponent("cascade-sample.yaml"), atomically: true, encoding: .utf8)
        let catalog = FormCatalog(directories: [directory])
        #expect(catalog.problems.isEmpty, "\(catalog.problems)")
        try await LiveServer.with(database, catalog: catalog) { server in
            let token = try await server.token(.admin)
            func survey(_ township: String, _ village: String, key: String? = nil) -> WireSurvey {
                var answers: JSONObject = ["township": .string(township), "village": .string(village), "liaison": "张三"]
                if let key { answers["key"] = .string(key) }
                return WireSurvey(
                    instanceID: UUID().uuidString.lowercased(), revision: 1, replaces: nil, formID: "cascade-sample", formVersion: "2026.1",
                    unit: "130102000000", period: "2026", answers: answers)
            }
            let wrong = try await server.post([survey("130102001", "130102002201")], token: token)
            #expect(wrong.json.outcomes == ["rejected"])
            #expect(wrong.json.at("results", 0, "errors", 0, "path")?.stringValue == "village")
            #expect(wrong.json.at("results", 0, "errors", 0, "code")?.stringValue == "choice")
            #expect(wrong.json.at("results", 0, "errors", 0, "message")?.stringValue?.contains("not offered given the earlier answers") == true)
            let right = survey("130102002", "130102002201", key: "kept-as-sent")
            let accepted = try await server.post([right], token: token)
            #expect(accepted.json.outcomes == ["created"], "\(accepted.json)")
            let stored = try await server.send("GET", "/api/v1/surveys/\(right.instanceID)", token: token).json()
            #expect(stored.at("answers", "key")?.stringValue == "kept-as-sent")
            #expect(stored.at("answers", "village_name")?.stringValue == "河口村")
        }
    }

    @Test("unknown forms and versions, unregistered units and periods of the wrong type are rejected with a reason", arguments: TestDatabase.all)
    func envelopeRejections(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let token = try await server.token(.admin)
            var maker = SurveyMaker(seed: 5)
            var unknownForm = maker.survey(village: 1)
            unknownForm.formID = "no-such-form"
            var unknownVersion = maker.survey(village: 1)
            unknownVersion.formVersion = "1999.1"
            var unregistered = maker.survey(village: 1)
            unregistered.unit = "130102001299"
            var wrongPeriod = maker.survey(village: 1)
            wrongPeriod.period = "2026Q3"
            var township = maker.survey(village: 1)
            township.unit = "130102001000"
            let reply = try await server.post([unknownForm, unknownVersion, unregistered, wrongPeriod, township], token: token).json
            #expect(reply.outcomes == Array(repeating: "rejected", count: 5))
            let paths = (0..<5).map { reply.at("results", $0, "errors", 0, "path")?.stringValue }
            #expect(paths == ["form", "version", "unit", "period", "unit"])
            #expect(reply.at("results", 1, "errors", 0, "message")?.stringValue?.contains(LiveServer.form.version) == true)
            #expect(reply.at("results", 2, "errors", 0, "message")?.stringValue?.contains("not in the registry") == true)
            #expect(try await server.storage.counts().revisions == 0)
        }
    }

    @Test("a held conflict is listed and resolved; the survey set aside is kept", arguments: TestDatabase.all)
    func heldConflictResolution(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let viewer = try await server.token(.viewer)
            let admin = try await server.token(.admin)
            var maker = SurveyMaker(seed: 6)
            let first = maker.survey(village: 9)
            let second = maker.survey(village: 9)
            let reply = try await server.post([first, second], token: collector).json
            #expect(reply.outcomes == ["created", "held"])
            let conflictID = try #require(reply.at("results", 1, "conflict_id")?.int)
            // Sent again (its first answer lost on the way): still held, with
            // the same conflict, so that the device does not count it as sent.
            let resent = try await server.post([second], token: collector).json
            #expect(resent.outcomes == ["held"])
            #expect(resent.at("results", 0, "conflict_id")?.int == conflictID)
            #expect(try await server.storage.counts().openConflicts == 1)

            let listed = try await server.send("GET", "/api/v1/conflicts", token: viewer)
            #expect(listed.status == 200)
            let conflict = try #require(try listed.json()["conflicts"]?.arrayValue?.first)
            #expect(conflict["held_instance"]?.stringValue == second.instanceID)
            #expect(conflict["current_instance"]?.stringValue == first.instanceID)

            let body = Array(#"{"keep": "\#(second.instanceID)"}"#.utf8)
            #expect(try await server.send("POST", "/api/v1/conflicts/\(conflictID)/resolve", token: viewer, body: body).status == 403)
            let resolved = try await server.send("POST", "/api/v1/conflicts/\(conflictID)/resolve", token: admin, body: body)
            #expect(resolved.status == 200)
            #expect(try resolved.json()["kept_instance"]?.stringValue == second.instanceID)
            #expect(try await server.send("POST", "/api/v1/conflicts/\(conflictID)/resolve", token: admin, body: body).status == 409)

            let kept = try await server.send("GET", "/api/v1/surveys/\(second.instanceID)", token: viewer).json()
            let setAside = try await server.send("GET", "/api/v1/surveys/\(first.instanceID)", token: viewer).json()
            #expect(kept["state"]?.stringValue == "current")
            #expect(setAside["state"]?.stringValue == "superseded")
            #expect(try await server.send("GET", "/api/v1/conflicts", token: viewer).json()["conflicts"]?.arrayValue?.isEmpty == true)
            #expect(try await server.send("GET", "/api/v1/conflicts?all=true", token: viewer).json()["conflicts"]?.arrayValue?.count == 1)
            // Resending either survey now is harmless.
            #expect(try await server.post([first, second], token: collector).json.outcomes == ["duplicate", "duplicate"])
            let counts = try await server.storage.counts()
            #expect(counts.current == 1 && counts.instances == 2 && counts.openConflicts == 0)
        }
    }
}

@Suite("Surveys that move or come back")
struct MovingSurveyTests {
    @Test("a held survey edited into a free unit becomes current and closes its conflict; the conflict can no longer be resolved", arguments: TestDatabase.all)
    func heldSurveyMoves(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let admin = try await server.token(.admin)
            let viewer = try await server.token(.viewer)
            var maker = SurveyMaker(seed: 50)
            let current = maker.survey(village: 20)
            var held = maker.survey(village: 20)
            let first = try await server.post([current, held], token: admin).json
            #expect(first.outcomes == ["created", "held"])
            let conflictID = try #require(first.at("results", 1, "conflict_id")?.int)

            held.revision = 2
            held.unit = LiveServer.villages[21].rawValue
            #expect(try await server.post([held], token: admin).json.outcomes == ["updated"])
            #expect(try await server.storage.survey(held.instanceID)?.state == .current)
            #expect(try await server.storage.survey(current.instanceID)?.state == .current)
            #expect(try await server.send("GET", "/api/v1/conflicts", token: viewer).json()["conflicts"]?.arrayValue?.isEmpty == true)
            let body = Array(#"{"keep": "\#(held.instanceID)"}"#.utf8)
            let late = try await server.send("POST", "/api/v1/conflicts/\(conflictID)/resolve", token: admin, body: body)
            #expect(late.status == 409)

            // Moved onto a unit that has a current survey, it is held there, with a new conflict.
            held.revision = 3
            held.unit = current.unit
            let back = try await server.post([held], token: admin).json
            #expect(back.outcomes == ["held"])
            #expect(back.at("results", 0, "conflict_id")?.int != conflictID)
            #expect(try await server.storage.counts().openConflicts == 1)
            #expect(try await server.storage.counts().current == 1)
        }
    }

    @Test("a survey set aside by a resolution and then edited comes back as held", arguments: TestDatabase.all)
    func supersededSurveyEdited(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let admin = try await server.token(.admin)
            var maker = SurveyMaker(seed: 51)
            var first = maker.survey(village: 30)
            let second = maker.survey(village: 30)
            let conflictID = try #require(try await server.post([first, second], token: admin).json.at("results", 1, "conflict_id")?.int)
            let body = Array(#"{"keep": "\#(second.instanceID)"}"#.utf8)
            #expect(try await server.send("POST", "/api/v1/conflicts/\(conflictID)/resolve", token: admin, body: body).status == 200)
            #expect(try await server.storage.survey(first.instanceID)?.state == .superseded)
            first.revision = 2
            first.answers["members_away"] = .integer(9)
            #expect(try await server.post([first], token: admin).json.outcomes == ["held"])
            #expect(try await server.storage.survey(first.instanceID)?.state == .held)
            #expect(try await server.storage.survey(second.instanceID)?.state == .current)
        }
    }

    @Test("a survey moved between townships shows each token only the revisions filed under its units", arguments: TestDatabase.all)
    func historyFollowsScope(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let admin = try await server.token(.admin)
            let eastVillage = LiveServer.villages.firstIndex { $0.rawValue.hasPrefix("130102001") }!
            let westVillage = LiveServer.villages.firstIndex { $0.rawValue.hasPrefix("130102002") }!
            let westViewer = try await server.token(.viewer, unit: "130102002000")
            var maker = SurveyMaker(seed: 52)
            var survey = maker.survey(village: eastVillage)
            #expect(try await server.post([survey], token: admin).json.outcomes == ["created"])
            survey.revision = 2
            survey.unit = LiveServer.villages[westVillage].rawValue
            #expect(try await server.post([survey], token: admin).json.outcomes == ["updated"])
            let seen = try await server.send("GET", "/api/v1/surveys/\(survey.instanceID)/revisions", token: westViewer).json()
            #expect(seen["revisions"]?.arrayValue?.map { $0["revision"]?.int } == [2])
            let all = try await server.send("GET", "/api/v1/surveys/\(survey.instanceID)/revisions", token: admin).json()
            #expect(all["revisions"]?.arrayValue?.count == 2)
        }
    }
}
