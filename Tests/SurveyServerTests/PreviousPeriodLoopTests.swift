import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer
import SurveyStore
import Testing

/// Last year's surveys on the server, as the device fetches them and
/// starts this year's from them, and the warnings each side evaluates.
@Suite("Last year's survey: baselines, prefill, previous() and warnings from device to server", .serialized)
struct PreviousPeriodLoopTests {
    static let today = "2026-11-26"

    /// Last year's surveys (form version 2026.1, period 2025) of villages, sent to the server.
    static func lastYear(_ server: ServerProcess, token: String, villages: [Int], seed: UInt64) async throws -> [Int: JSONObject] {
        var generator = VillageBranchGenerator(seed: seed)
        var surveys: [WireSurvey] = []
        var answers: [Int: JSONObject] = [:]
        for village in villages {
            var survey = generator.next()
            survey["survey_date"] = "2025-10-15"
            answers[village] = survey
            surveys.append(
                WireSurvey(
                    instanceID: UUID().uuidString.lowercased(), revision: 1, formID: "village-branch", formVersion: "2026.1",
                    unit: LiveServer.villages[village].rawValue, period: "2025", answers: survey))
        }
        let reply = try await call(server, "POST", "/api/v1/surveys", token: token, body: try JSONParser().parse(batch(surveys)))
        let outcomes = try reply.json().outcomes
        #expect(reply.status == 200 && outcomes.allSatisfy { $0 == "created" }, "\(reply.text)")
        return answers
    }

    /// This year's answers that every village gives again (not carried over).
    static let askedAgain: JSONObject = [
        "survey_date": "2026-11-20", "members_developed": 1, "training_sessions": 4, "members_trained": 12, "representative_meetings": 6,
    ]

    func write(_ answers: JSONObject, _ name: String, in directory: URL) throws -> String {
        let file = directory.appendingPathComponent(name)
        try Data(JSONValue.object(["answers": .object(answers)]).serialized().utf8).write(to: file)
        return file.path
    }

    @Test(
        "sync fetches last year's surveys (only what changed); fill --answers --prefill starts from them; warnings are printed, confirmed with an explanation or not; the server evaluates previous() and the warnings the same way, keeps the confirmations and flags the rest"
    )
    func baselinesPrefillAndWarnings() async throws {
        let serverDirectory = try scratch()
        let collector = try await createToken("collector", in: serverDirectory)
        let viewer = try await namedToken("县委组织部", role: "viewer", unit: "130102000000", db: "server.sqlite", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        let villages = [0, 1, 2, 3, 4, 5]
        var last = try await Self.lastYear(server, token: collector, villages: villages, seed: 301)

        let device = try Device(seed: 302)
        try await device.login(server, token: collector)
        func client(_ arguments: [String]) async throws -> CommandRun {
            try await runClient(arguments + ["--today", Self.today], dataDirectory: device.directory)
        }
        let first = try await client(["sync"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("6 surveys of last period fetched"), "\(first.stdout)")
        let listed = try await client(["baseline", "list"])
        #expect(listed.stdout.contains("2026.1") && listed.stdout.contains("6 in all"), "\(listed.stdout)")
        // Nothing changed: nothing is fetched again.
        let again = try await client(["sync"])
        #expect(!again.stdout.contains("of last period fetched"), "\(again.stdout)")
        // Last year's survey of village 3 is corrected on the server: only it comes again.
        var corrected = last[3]!
        corrected["applicants"] = .integer((corrected["applicants"]?.doubleValue.map { Int($0) } ?? 0) + 1)
        let listing = try await call(server, "GET", "/api/v1/baselines?form=village-branch&period=2025", token: collector).json()
        let instance3 = try #require(listing["baselines"]?.arrayValue?.first { $0["unit"]?.stringValue == LiveServer.villages[3].rawValue })
        let revision2 = WireSurvey(
            instanceID: try #require(instance3["instance_id"]?.stringValue), revision: 2, replaces: 1, formID: "village-branch", formVersion: "2026.1",
            unit: LiveServer.villages[3].rawValue, period: "2025", answers: corrected)
        #expect(try await call(server, "POST", "/api/v1/surveys", token: collector, body: try JSONParser().parse(batch([revision2]))).json().outcomes == ["updated"])
        last[3] = corrected
        let third = try await client(["sync"])
        #expect(third.stdout.contains("1 survey of last period fetched"), "\(third.stdout)")
        let held = try #require(try device.store.baseline(formID: "village-branch", period: "2025", unit: LiveServer.villages[3].rawValue))
        #expect(held.revision == 2 && held.answerObject == LiveServer.catalog.form("village-branch@2026.1")!.validate(corrected, today: CivilDate.parse(Self.today)!).answers)

        // This year: village 0 grew by half (confirmed), village 1 too and its
        // income jumped (not confirmed), village 2 is as last year, village 6
        // has no survey of last year.
        func grown(_ answers: JSONObject) -> JSONObject {
            let total = Int(answers["members_total"]!.doubleValue!)
            let more = total / 2 + 1
            var changes = Self.askedAgain
            changes["members_total"] = .integer(total + more)
            changes["members_age_60_over"] = .integer(Int(answers["members_age_60_over"]!.doubleValue!) + more)
            changes["edu_junior_or_below"] = .integer(Int(answers["edu_junior_or_below"]!.doubleValue!) + more)
            return changes
        }
        let explanation = "换届后两个支部合并"
        let scratchDirectory = device.directory.deletingLastPathComponent()
        let fill0 = try await client([
            "fill", "village-branch", "--unit", LiveServer.villages[0].rawValue, "--period", "2026", "--prefill", "--finalize",
            "--answers", try write(grown(last[0]!), "v0.json", in: scratchDirectory), "--confirm-warnings", explanation,
        ])
        #expect(fill0.status == 0, "\(fill0.stdout)\(fill0.stderr)")
        #expect(fill0.stdout.contains("confirmed with --confirm-warnings") && fill0.stdout.contains("members_total"), "\(fill0.stdout)")
        var jump = grown(last[1]!)
        let income = last[1]!["collective_income"]!.doubleValue!
        jump["collective_income"] = .number(max(income, 10_000) * 12)
        let fill1 = try await client([
            "fill", "village-branch", "--unit", LiveServer.villages[1].rawValue, "--period", "2026", "--prefill", "--finalize",
            "--answers", try write(jump, "v1.json", in: scratchDirectory),
        ])
        #expect(fill1.status == 0, "\(fill1.stdout)\(fill1.stderr)")
        #expect(fill1.stdout.contains("confirm with --confirm-warnings"), "\(fill1.stdout)")
        let fill2 = try await client([
            "fill", "village-branch", "--unit", LiveServer.villages[2].rawValue, "--period", "2026", "--prefill", "--finalize",
            "--answers", try write(Self.askedAgain, "v2.json", in: scratchDirectory),
        ])
        #expect(fill2.status == 0 && !fill2.stdout.contains("warning"), "\(fill2.stdout)\(fill2.stderr)")
        var generator = VillageBranchGenerator(seed: 303)
        let fresh = generator.next()
        let fill6 = try await client([
            "fill", "village-branch", "--unit", LiveServer.villages[6].rawValue, "--period", "2026", "--prefill", "--finalize",
            "--answers", try write(fresh, "v6.json", in: scratchDirectory),
        ])
        #expect(fill6.status == 0, "\(fill6.stdout)\(fill6.stderr)")
        #expect(fill6.stdout.contains("holds no survey of \(LiveServer.villages[6].rawValue) for last period"), "\(fill6.stdout)")

        // What the device expects, worked out by the form engine with last year's answers.
        let form = LiveServer.form
        #expect(form.version == "2026.2")
        let surveys = try device.store.list().filter { $0.period == "2026" }
        #expect(surveys.count == 4)
        let shown = try await client(["show", try #require(surveys.first { $0.unitCode == LiveServer.villages[0].rawValue }).shortID])
        #expect(shown.stdout.contains("(confirmed: \(explanation))"), "\(shown.stdout)")
        let sent = try await client(["sync"])
        #expect(sent.status == 0 && sent.stdout.contains("sent 4"), "\(sent.stdout)\(sent.stderr)")

        for survey in surveys {
            let village = LiveServer.villages.firstIndex { $0.rawValue == survey.unitCode }!
            let baseline = last[village].map { form.baseline(LiveServer.catalog.form("village-branch@2026.1")!.validate($0, today: CivilDate.parse(Self.today)!).answers, period: "2025") }
            let expected = form.validate(survey.answerObject, today: CivilDate.parse(Self.today)!, previous: baseline)
            let onServer = try await call(server, "GET", "/api/v1/surveys/\(survey.instanceID)", token: viewer).json()
            // previous() read the same last year on both sides: the calculation from it agrees.
            #expect(onServer.at("answers", "members_change") == survey.answerObject["members_change"], "village \(village)")
            #expect((survey.answerObject["members_change"] != nil) == (baseline != nil), "village \(village)")
            let warnings = onServer.at("checks", "warnings")?.arrayValue ?? []
            #expect(warnings.compactMap { $0["warning"]?.stringValue } == expected.firedWarnings.map(\.name), "village \(village): \(onServer.at("checks") ?? .null)")
            switch village {
            case 0:
                #expect(warnings.contains { $0["warning"] == "members_changed" && $0["confirmed"] == .bool(true) && $0["explanation"] == .string(explanation) })
                #expect(onServer.at("checks", "flags") == ["confirmed"])
            case 1:
                #expect(warnings.contains { $0["warning"] == "collective_income_jump" && $0["confirmed"] == .bool(false) })
                #expect(onServer.at("checks", "flags") == ["unconfirmed", "changed"])
                #expect(onServer.at("checks", "changes", 0, "field") == "collective_income")
            default:
                #expect(onServer["checks"] == .null, "village \(village): \(onServer.at("checks") ?? .null)")
            }
        }
        func instances(_ flag: String) async throws -> [String] {
            try await call(server, "GET", "/api/v1/surveys?period=2026&flag=\(flag)", token: viewer).json()["surveys"]?.arrayValue?.compactMap {
                $0["unit"]?.stringValue
            } ?? []
        }
        #expect(try await instances("unconfirmed") == [LiveServer.villages[1].rawValue])
        #expect(try await instances("confirmed") == [LiveServer.villages[0].rawValue])
        #expect(try await instances("changed") == [LiveServer.villages[1].rawValue])
        #expect(Set(try await instances("any")) == [LiveServer.villages[0].rawValue, LiveServer.villages[1].rawValue])
        let bad = try await call(server, "GET", "/api/v1/surveys?flag=odd", token: viewer)
        #expect(bad.status == 400 && bad.text.contains("flag must be unconfirmed"), "\(bad.text)")
        // A collector fetches baselines of its scope only.
        let outside = try await call(server, "GET", "/api/v1/baselines?form=village-branch&period=2025&units=130103001001", token: collector)
        #expect(outside.status == 403, "\(outside.status) \(outside.text)")
    }

    /// Types `value` as a person would at the prompt.
    static func typed(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .integer(let number): return String(number)
        case .number(let number): return Value.format(number)
        case .array(let items): return items.map(typed).joined(separator: " ")
        default: return ""
        }
    }

    /// Fills a survey in a terminal, answering each prompt as the person
    /// with `target` in mind would: Enter where last year's answer is shown
    /// and right, the new answer where it changed, the answer typed out
    /// where nothing is shown. Returns the keys typed (Enter counts one),
    /// the keys of the `changed` answers, and the transcript.
    static func fillInTerminal(
        unit: String, dataDirectory: URL, target: JSONObject, changed: Set<String>
    ) throws -> (keys: Int, changeKeys: Int, prompts: [String], transcript: String, status: Int32) {
        let form = LiveServer.form
        let session = try InteractiveProcess(
            ["fill", "village-branch", "--unit", unit, "--period", "2026", "--lang", "en", "--data-dir", dataDirectory.path, "--today", today],
            environment: [:], terminal: true)
        var labels: [(String, Field)] = []
        for field in form.fields where field.takesAnswer {
            if let label = field.label?.text(.en) { labels.append((label, field)) }
        }
        labels.sort { $0.0.count > $1.0.count }
        let members = target["committee_members"]?.arrayValue ?? []
        var keys = 0
        var changeKeys = 0
        var handled = 0
        var log: [String] = []
        func send(_ line: String, _ what: String) {
            keys += line.count + 1
            log.append("\(what) ⟶ \(line.isEmpty ? "⏎" : line + "⏎")")
            session.send(line)
        }
        while true {
            let deadline = Date().addingTimeInterval(20)
            var text = session.transcript
            while session.prompts <= handled && !text.contains("✓ Finalized") {
                guard Date() < deadline else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no prompt:\n\(text)"]) }
                Thread.sleep(forTimeInterval: 0.01)
                text = session.transcript
            }
            if text.contains("✓ Finalized") { break }
            // Output may come in pieces (an escape sequence cut in two): let it settle.
            Thread.sleep(forTimeInterval: 0.05)
            text = session.transcript
            handled = session.prompts
            let segment = text.components(separatedBy: "> ")[handled - 1]
            let lastLine = segment.split(separator: "\n").last.map(String.init) ?? ""
            if segment.contains("Finalize now?") {
                send("1", "finalize")
                continue
            }
            if segment.contains("Enter keeps it; 2 to change it") {
                send("", "entry (last year)")
                continue
            }
            if segment.contains("Enter confirms it") {
                send("", "warning")
                continue
            }
            if segment.contains("Add another?") {
                let have = Int(segment.components(separatedBy: ": ").last?.split(separator: " ").first ?? "") ?? 0
                send(have < members.count ? "1" : "2", "add another entry?")
                continue
            }
            let lines = segment.split(separator: "\n").map(String.init)
            guard let (label, field) = labels.first(where: { label, _ in lines.contains { $0.hasPrefix(label) } }) else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "unknown prompt:\n\(segment)\n--- transcript:\n\(text.suffix(3000))"])
            }
            var value: JSONValue?
            if field.repeatIndex != nil {
                let entry = (segment.firstMatch(of: /entry (\d+)/).flatMap { Int($0.1) } ?? 1) - 1
                value = entry < members.count ? members[entry][field.name] : nil
            } else {
                value = target[field.name]
            }
            // Choices by their numbers, as a person types them.
            var answer = value.map(typed) ?? ""
            if let choices = field.choices {
                answer = answer.split(separator: " ").map { name in
                    choices.choices.firstIndex { $0.name == name }.map { String($0 + 1) } ?? String(name)
                }.joined(separator: " ")
            }
            if changed.contains(field.name) {
                changeKeys += answer.count + 1
                send(answer, "\(label) (changed)")
            } else if lastLine.contains("[last year:") {
                send("", label)
            } else {
                send(answer, label)
            }
        }
        _ = try session.waitFor("✓ Finalized")
        return (keys, changeKeys, log, session.transcript, session.finish())
    }

    @Test(
        "a village whose answers equal last year's but two is filled in a terminal with at most one key per question plus the two changes; without last year's survey every answer is typed"
    )
    func prefillSavesKeys() async throws {
        let serverDirectory = try scratch()
        let collector = try await createToken("collector", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        // A village with five committee members besides the secretary.
        var seed: UInt64 = 400
        var sample = JSONObject()
        while true {
            var generator = VillageBranchGenerator(seed: seed)
            sample = generator.next()
            if (sample["committee_members"]?.arrayValue?.count ?? 0) == 5, (sample["members_hardship"]?.doubleValue ?? 0) < (sample["members_total"]?.doubleValue ?? 0) { break }
            seed += 1
        }
        let last = try await Self.lastYear(server, token: collector, villages: [10], seed: seed)[10]!
        #expect(last["committee_members"] == sample["committee_members"])
        let device = try Device(seed: 401)
        try await device.login(server, token: collector)
        let synced = try await runClient(["sync", "--today", Self.today], dataDirectory: device.directory)
        #expect(synced.stdout.contains("1 survey of last period fetched"), "\(synced.stdout)")

        // This year: last year's answers, the five asked again, and two changes.
        var target = last
        for (key, value) in Self.askedAgain { target[key] = value }
        target["members_hardship"] = .integer(Int(last["members_hardship"]!.doubleValue!) + 1)
        target["secretary_pay"] = .integer(Int(last["secretary_pay"]!.doubleValue!) + 2400)
        let changed: Set<String> = ["members_hardship", "secretary_pay"]
        let kept = LiveServer.form.validate(target, today: CivilDate.parse(Self.today)!)
        #expect(kept.isValid, "\(kept.issues)")
        let questions = Questionnaire.steps(LiveServer.form.settle(kept.answers, today: CivilDate.parse(Self.today)!)).filter { $0.kind == .question }.count

        let directory = device.directory
        let wanted = target
        let after = try await offPool {
            try Self.fillInTerminal(unit: LiveServer.villages[10].rawValue, dataDirectory: directory, target: wanted, changed: changed)
        }
        #expect(after.status == 0, "\(after.transcript)")
        #expect(after.transcript.contains("Starting from the unit's survey of 2025"), "\(after.transcript)")
        // Without last year's survey (another village): every answer typed.
        let before = try await offPool {
            try Self.fillInTerminal(unit: LiveServer.villages[11].rawValue, dataDirectory: directory, target: wanted, changed: changed)
        }
        #expect(before.status == 0, "\(before.transcript)")
        print("prefill: \(questions) questions; keys typed with last year's survey \(after.keys) (the two changes \(after.changeKeys)), without it \(before.keys)")
        print("with last year's survey:\n  " + after.prompts.joined(separator: "\n  "))
        print("without it:\n  " + before.prompts.joined(separator: "\n  "))
        #expect(after.keys <= questions + after.changeKeys, "\(after.prompts)")
        #expect(before.keys > 2 * after.keys)
        // Both surveys hold the same answers.
        let stored = try device.store.list().filter { $0.period == "2026" }
        #expect(stored.count == 2 && stored.allSatisfy { $0.status == .finalized })
        var first = stored[0].answerObject
        var second = stored[1].answerObject
        first["members_change"] = nil
        second["members_change"] = nil
        #expect(first == second)
        #expect(stored.first { $0.unitCode == LiveServer.villages[10].rawValue }?.answerObject["members_change"] == 0)
    }
}

