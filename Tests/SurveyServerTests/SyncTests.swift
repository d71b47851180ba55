import Foundation
import GRDB
import SurveyCore
import SurveyFixtures
import SurveyServer
import SurveyStore
import SurveySync
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `vsurvey` binary, beside `vsurvey-server`.
func clientBinary() throws -> URL { try Binaries.url("vsurvey") }

/// Runs the `vsurvey` binary on a device's data directory, from the
/// repository (whose `forms/` it then reads) or from `directory`.
func runClient(_ arguments: [String], dataDirectory: URL, in directory: URL = Fixtures.root, environment: [String: String] = [:]) async throws
    -> CommandRun
{
    try await offPool { try runClientBlocking(arguments, dataDirectory: dataDirectory, in: directory, environment: environment) }
}

func runClientBlocking(_ arguments: [String], dataDirectory: URL, in directory: URL = Fixtures.root, environment: [String: String] = [:]) throws
    -> CommandRun
{
    try CommandRun.run(try clientBinary(), arguments + ["--data-dir", dataDirectory.path, "--lang", "en"], in: directory, environment: environment)
}

/// A field device: a real `vsurvey` database with finalized surveys.
struct Device {
    let directory: URL
    let store: SurveyStore
    var maker: SurveyMaker

    init(seed: UInt64) throws {
        directory = try scratch().appendingPathComponent("device")
        store = try SurveyStore(directory: directory)
        maker = SurveyMaker(seed: seed)
    }

    /// Stores a finalized survey as `fill --finalize` does: checked first.
    @discardableResult
    mutating func finalize(village: Int) throws -> StoredSurvey {
        let wire = maker.survey(village: village)
        let kept = LiveServer.form.validate(wire.answers, today: CivilDate.today()).answers
        return try store.create(
            StoredSurvey(formID: wire.formID, formVersion: wire.formVersion, unitCode: wire.unit, period: wire.period, answers: kept, status: .finalized))
    }

    func login(_ server: ServerProcess, token: String) async throws {
        // As the README says: the token from a file, never on the command line.
        let file = directory.deletingLastPathComponent().appendingPathComponent("token-\(UUID().uuidString.prefix(8))")
        try Data((token + "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try await runClient(["login", "--server", "http://127.0.0.1:\(server.port)", "--token-file", file.path], dataDirectory: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("process list"), "\(run.stderr)")
    }

    func sync() async throws -> CommandRun { try await runClient(["sync"], dataDirectory: directory) }

    /// Corrects the secretary's pay of a survey in a terminal, as a person
    /// does: `vsurvey edit --at secretary_pay`, the new figure, finalize.
    /// The session waits for prompts by polling: on a thread of its own, so
    /// that the in-process servers of the tests running beside it go on.
    func correctPay(of survey: StoredSurvey, to pay: String) async throws {
        let arguments = ["edit", survey.shortID, "--at", "secretary_pay", "--lang", "en", "--data-dir", directory.path, "--today", "2026-11-26"]
        let (status, transcript) = try await offPool { () throws -> (Int32, String) in
            let session = try InteractiveProcess(arguments, environment: [:], terminal: true)
            try session.waitFor("Secretary's annual pay")
            session.send(pay)
            try session.waitFor("Finalize now?")
            session.send("1")
            try session.waitFor("Finalized")
            return (session.finish(), session.transcript)
        }
        #expect(status == 0, "\(transcript)")
    }
}

@Suite("vsurvey sync against vsurvey-server", .serialized)
struct SyncTests {
    @Test("a round trip: what the server stores equals what the device sent; a resend after a lost reply leaves one copy")
    func roundTrip() async throws {
        let serverDirectory = try scratch()
        let token = try await createToken("collector", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        var device = try Device(seed: 70)
        let surveys = try (0..<12).map { try device.finalize(village: $0 * 3) }
        try await device.login(server, token: token)
        let config = device.directory.appendingPathComponent("sync.json").path
        #expect((try FileManager.default.attributesOfItem(atPath: config)[.posixPermissions] as? Int).map { $0 & 0o077 } == 0)
        let first = try await device.sync()
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("sent 12"))
        let storage = try SQLiteServerStorage(path: serverDirectory.appendingPathComponent("server.sqlite").path)
        for survey in surveys {
            let stored = try #require(try await storage.survey(survey.instanceID))
            #expect(stored.latest.unit == survey.unitCode && stored.latest.revision == 1)
            #expect(try JSONParser().parse(stored.latest.answers) == .object(survey.answerObject))
        }
        #expect(try device.store.statusCounts()[.sent] == 12)

        // The reply to a batch is lost after the server committed it: on the
        // device those surveys are still finalized.
        try await device.store.database.write { db in
            try db.execute(sql: "UPDATE survey SET status = 'finalized', sent_at = NULL WHERE id IN (SELECT id FROM survey ORDER BY id LIMIT 5)")
        }
        let again = try await device.sync()
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(again.stdout.contains("duplicates 5"))
        #expect(try await storage.counts().revisions == 12)
        #expect(try device.store.statusCounts()[.sent] == 12)
    }

    @Test("a token with its limit of batches in flight is answered 429 with Retry-After before its body is read; its device waits as told and sends everything")
    func busyTokenWaitsAndSends() async throws {
        let serverDirectory = try scratch()
        let token = try await createToken("collector", in: serverDirectory)
        let other = try await createToken("collector", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory, arguments: ["--max-ingest-per-token", "1"])
        defer { server.stop() }
        // The token's one batch in flight: its head is read, its body has not come.
        let holder = try HTTPConnection(port: server.port)
        try holder.write(
            Array("POST /api/v1/surveys?holder=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Length: 100\r\n\r\n{".utf8))
        func post(_ secret: String) async throws -> HTTPReply {
            try await HTTPTestClient.send(
                port: server.port, "POST", "/api/v1/surveys", headers: [("Authorization", "Bearer \(secret)"), ("Accept-Language", "en")],
                body: Array("{}".utf8))
        }
        // Once the server has it (its line in the log, and a moment to authenticate it), a second batch is refused.
        #expect(await server.waitForLog("holder=1", timeout: 20))
        try await Task.sleep(for: .milliseconds(300))
        let busy = try await post(token)
        #expect(busy.status == 429, "\(busy.status) \(busy.text)")
        #expect(busy.header("Retry-After") == "2")
        #expect(try busy.json().at("error", "code")?.stringValue == "too_many_requests")
        #expect(busy.header("X-Request-ID") != nil)
        // Another token is not held up (its empty batch is merely malformed).
        #expect(try await post(other).status == 400)

        var device = try Device(seed: 72)
        for village in 0..<6 { try device.finalize(village: village * 5) }
        try await device.login(server, token: token)
        let syncing = device
        let sync = Task { try await syncing.sync() }
        try await Task.sleep(for: .seconds(1))
        // The slot is freed: the held batch ends (a malformed body, 400).
        let released = try await offPool { () throws -> HTTPReply in
            try holder.write([UInt8](repeating: UInt8(ascii: " "), count: 99))
            return try holder.readReply()
        }
        #expect(released.status == 400)
        let run = try await sync.value
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("sent 6"), "\(run.stdout)")
        #expect(try device.store.statusCounts()[.sent] == 6)
    }

    @Test("a refused survey keeps its reason, is edited and then accepted; a revision chain arrives in order")
    func refusedThenAccepted() async throws {
        let serverDirectory = try scratch()
        // The server's registry lacks one village at first.
        let missing = LiveServer.villages[7].rawValue
        let csv = try String(contentsOf: Fixtures.formsDirectory.appendingPathComponent("units/sample-county.csv"), encoding: .utf8)
        let partial = serverDirectory.appendingPathComponent("partial.csv")
        try csv.split(separator: "\n").filter { !$0.hasPrefix(missing) }.joined(separator: "\n").write(to: partial, atomically: true, encoding: .utf8)
        #expect(try await runServerCommand(["units", "import", partial.path, "--db", "server.sqlite"], in: serverDirectory).status == 0)
        let token = try await createToken("collector", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        var device = try Device(seed: 71)
        let refused = try device.finalize(village: 7)
        var chained = try device.finalize(village: 8)
        for _ in 0..<2 {
            var answers = chained.answerObject
            answers["members_away"] = .integer((answers["members_away"].flatMap { if case .integer(let n) = $0 { n } else { nil } } ?? 0) + 1)
            let kept = LiveServer.form.validate(answers, today: CivilDate.today()).answers
            chained = try device.store.edit(chained, answers: kept, finalize: true)
        }
        try await device.login(server, token: token)
        let first = try await device.sync()
        #expect(first.status == 1, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("rejected 1"))
        // Surveys counted as vsurvey list counts them, with the revisions said too.
        #expect(first.stdout.contains("sent 1 (3 revisions)"), "\(first.stdout)")
        let rejected = try device.store.find(refused.instanceID)
        #expect(rejected.status == .rejected)
        #expect(rejected.lastError?.contains("not in the registry") == true)
        let shown = try await runClient(["show", refused.shortID], dataDirectory: device.directory)
        #expect(shown.stdout.contains("the server's answer") && shown.stdout.contains("not in the registry"), "\(shown.stdout)")
        let listed = try await runClient(["list", "--status", "rejected"], dataDirectory: device.directory)
        #expect(listed.stdout.contains(refused.shortID))
        // The list sync points to says why.
        #expect(listed.stdout.contains("Reasons:") && listed.stdout.contains("not in the registry"), "\(listed.stdout)")
        let storage = try SQLiteServerStorage(path: serverDirectory.appendingPathComponent("server.sqlite").path)
        #expect(try await storage.revisions(of: chained.instanceID).map(\.revision) == [1, 2, 3])

        // The county adds the village; the surveyor edits and sends again.
        #expect(
            try await runServerCommand(
                ["units", "import", Fixtures.formsDirectory.appendingPathComponent("units/sample-county.csv").path, "--db", "server.sqlite"],
                in: serverDirectory
            ).status == 0)
        try await Task.sleep(for: .milliseconds(1100))  // the server re-reads the registry within a second
        _ = try device.store.edit(rejected, answers: rejected.answerObject, finalize: true)
        let second = try await device.sync()
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(try await storage.survey(refused.instanceID)?.latest.revision == 2)
        #expect(try device.store.find(refused.instanceID).status == .sent)
    }

    @Test("two devices syncing at once: every survey arrives once, and the second survey of one village is held")
    func twoDevices() async throws {
        let serverDirectory = try scratch()
        let token = try await createToken("collector", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        var one = try Device(seed: 72)
        var two = try Device(seed: 73)
        for village in 0..<40 { try one.finalize(village: village) }
        for village in 40..<80 { try two.finalize(village: village) }
        try two.finalize(village: 0)  // the same village as device one
        try await one.login(server, token: token)
        try await two.login(server, token: token)
        let (oneDirectory, twoDirectory) = (one.directory, two.directory)
        async let first = runClient(["sync"], dataDirectory: oneDirectory)
        async let second = runClient(["sync"], dataDirectory: twoDirectory)
        let runs = try await [first, second]
        #expect(runs[0].status == 0, "\(runs[0].stdout)\(runs[0].stderr)")
        #expect(runs[1].status == 0, "\(runs[1].stdout)\(runs[1].stderr)")
        let storage = try SQLiteServerStorage(path: serverDirectory.appendingPathComponent("server.sqlite").path)
        let counts = try await storage.counts()
        #expect(counts.revisions == 81 && counts.current == 80 && counts.held == 1)
        let heldOnDevices = (try one.store.statusCounts()[.held] ?? 0) + (try two.store.statusCounts()[.held] ?? 0)
        #expect(heldOnDevices == 1)
    }

    @Test("sync pulls the forms and units that changed, by hash; a new form version is pulled, filled and accepted")
    func pullForms() async throws {
        let serverDirectory = try scratch()
        let serverForms = serverDirectory.appendingPathComponent("forms")
        try FileManager.default.createDirectory(at: serverForms.appendingPathComponent("units"), withIntermediateDirectories: true)
        let villageForm = try String(contentsOf: Fixtures.formsDirectory.appendingPathComponent("village-branch-2026.1.yaml"), encoding: .utf8)
        try villageForm.write(to: serverForms.appendingPathComponent("village-branch.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: Fixtures.formsDirectory.appendingPathComponent("units/sample-county.csv"),
            to: serverForms.appendingPathComponent("units/sample-county.csv"))
        // A township collector: the registry it pulls is its township's.
        let township = "130102001000"
        let token = try await createToken("collector", in: serverDirectory, unit: township)
        var server = try await ServerProcess.start(directory: serverDirectory, forms: serverForms)
        let device = try Device(seed: 75)
        try await device.login(server, token: token)
        // The device runs where there is no forms/ directory: it has only what it pulls.
        let elsewhere = try scratch()
        let first = try await runClient(["sync"], dataDirectory: device.directory, in: elsewhere)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("forms updated from the server: village-branch@2026.1"), "\(first.stdout)")
        let registry = try UnitRegistry.load(contentsOf: device.directory.appendingPathComponent("forms/units/server.csv"))
        let expected = LiveServer.registry.units.filter { $0.code.rawValue.hasPrefix("130102001") }.map(\.code)
        #expect(registry.units.map(\.code) == expected)
        #expect(first.stdout.contains("unit registry updated from the server (\(expected.count) units)"))

        // Nothing changed: nothing is fetched again.
        let second = try await runClient(["sync"], dataDirectory: device.directory, in: elsewhere)
        #expect(second.status == 0)
        #expect(!second.stdout.contains("updated from the server"), "\(second.stdout)")

        // The county publishes version 2026.2.
        server.stop()
        let newVersion = try String(contentsOf: Fixtures.formsDirectory.appendingPathComponent("village-branch.yaml"), encoding: .utf8)
        #expect(newVersion != villageForm)
        try newVersion.write(to: serverForms.appendingPathComponent("village-branch-2026.2.yaml"), atomically: true, encoding: .utf8)
        server = try await ServerProcess.start(directory: serverDirectory, forms: serverForms)
        defer { server.stop() }
        try await device.login(server, token: token)  // the restarted server has a new port
        let third = try await runClient(["sync"], dataDirectory: device.directory, in: elsewhere)
        #expect(third.status == 0)
        #expect(third.stdout.contains("forms updated from the server: village-branch@2026.2\n"), "\(third.stdout)")
        let listed = try await runClient(["form", "list"], dataDirectory: device.directory, in: elsewhere)
        #expect(listed.stdout.contains("2026.1") && listed.stdout.contains("2026.2"), "\(listed.stdout)")

        // A survey filled with the new version is accepted by the server.
        let sample = try JSONParser().parse(Data(contentsOf: Fixtures.formsDirectory.appendingPathComponent("samples/village-branch-valid.json")))
        let answersFile = elsewhere.appendingPathComponent("answers.json")
        try Data(try #require(sample["answers"]).serializedBytes(pretty: true)).write(to: answersFile)
        let village = try #require(registry.units.first { $0.level == .village }).code.rawValue
        let filled = try await runClient(
            ["fill", "village-branch@2026.2", "--unit", village, "--period", "2026", "--answers", answersFile.path, "--finalize"],
            dataDirectory: device.directory, in: elsewhere)
        #expect(filled.status == 0, "\(filled.stdout)\(filled.stderr)")
        let fourth = try await runClient(["sync"], dataDirectory: device.directory, in: elsewhere)
        #expect(fourth.status == 0, "\(fourth.stdout)\(fourth.stderr)")
        #expect(fourth.stdout.contains("sent 1"))
        let storage = try SQLiteServerStorage(path: serverDirectory.appendingPathComponent("server.sqlite").path)
        let stored = try #require(try device.store.list(SurveyFilter()).first)
        #expect(try await storage.survey(stored.instanceID)?.latest.formVersion == "2026.2")
    }

    @Test("vsurvey report --remote: the county's report from the server as a table, JSON and a web page; a collector token is refused")
    func remoteReport() async throws {
        let serverDirectory = try scratch()
        let collector = try await createToken("collector", in: serverDirectory)
        let viewer = try await createToken("viewer", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        var device = try Device(seed: 76)
        for village in 0..<30 { try device.finalize(village: village) }
        try await device.login(server, token: collector)
        #expect(try await device.sync().status == 0)
        let address = "http://127.0.0.1:\(server.port)"
        let asViewer = ["VSURVEY_SERVER": address, "VSURVEY_TOKEN": viewer]
        let page = device.directory.appendingPathComponent("county.html")
        let table = try await runClient(
            ["report", "village-branch", "--remote", "--period", "2026", "--html", page.path], dataDirectory: device.directory, environment: asViewer)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("reported / expected") && table.stdout.contains("30/250"), "\(table.stdout)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains("<svg ") && html.contains("30 / 250"))
        let json = try await runClient(
            ["report", "village-branch", "--remote", "--period", "2026", "--format", "json"], dataDirectory: device.directory, environment: asViewer)
        let report = try JSONParser().parse(Array(json.stdout.utf8))
        #expect(report["total"]?["reported"] == .integer(30))
        #expect(report["missing"]?["count"] == .integer(220))
        let refused = try await runClient(
            ["report", "village-branch", "--remote", "--period", "2026"], dataDirectory: device.directory,
            environment: ["VSURVEY_SERVER": address, "VSURVEY_TOKEN": collector])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the server refused: a collector token"), "\(refused.stderr)")
    }

    @Test("a manual sync sends surveys still waiting out the backoff of an earlier failure: a person who types sync means now")
    func manualSyncIgnoresBackoff() async throws {
        let serverDirectory = try scratch()
        let token = try await createToken("collector", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        var device = try Device(seed: 78)
        let surveys = try (0..<5).map { try device.finalize(village: $0) }
        // As an earlier sync that met a refused connection leaves them: to be tried again in an hour.
        try device.store.recordSyncFailure(ids: surveys.compactMap(\.id), error: "cannot connect") { _ in Date().addingTimeInterval(3600) }
        try await device.login(server, token: token)
        let run = try await device.sync()
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("sent 5") && run.stdout.contains("still pending 0"), "\(run.stdout)")
        #expect(try device.store.statusCounts()[.sent] == 5)
    }

    @Test("a reply with an outcome this client does not know records nothing: the surveys stay finalized and pending, and sync says why")
    func unknownOutcome() async throws {
        var device = try Device(seed: 79)
        for village in 0..<3 { try device.finalize(village: village) }
        let newer = try await NewerServer.start()
        let run = try await withCleanup({ await newer.stop() }) {
            try await runClient(
                ["sync"], dataDirectory: device.directory, environment: ["VSURVEY_SERVER": "http://127.0.0.1:\(newer.port)", "VSURVEY_TOKEN": "vst_x"])
        }
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect((run.stdout + run.stderr).contains("an outcome this client does not know, 'quarantined'"), "\(run.stdout)\(run.stderr)")
        let finalized = try device.store.list(SurveyFilter(statuses: [.finalized]))
        #expect(finalized.count == 3)
        #expect(finalized.allSatisfy { $0.syncAttempts == 1 && $0.lastError?.contains("quarantined") == true })
    }

    @Test("a network failure leaves surveys pending with a retry time, and exit status 2")
    func networkFailure() async throws {
        var device = try Device(seed: 74)
        try device.finalize(village: 1)
        let closed = SilentListener()
        let port = closed.port
        closed.close()
        let run = try await runClient(
            ["sync"], dataDirectory: device.directory, environment: ["VSURVEY_SERVER": "http://127.0.0.1:\(port)", "VSURVEY_TOKEN": "vst_x"])
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("cannot connect"))
        #expect(try device.store.statusCounts()[.finalized] == 1)
    }
}

@Suite("vsurvey sync: one at a time, and --watch", .serialized)
struct SyncWatchTests {
    @Test("a second sync on the same database is refused while one runs")
    func oneAtATime() async throws {
        var device = try Device(seed: 80)
        try device.finalize(village: 2)
        let held = try SyncLock(directory: device.directory)
        let run = try await runClient(
            ["sync"], dataDirectory: device.directory, environment: ["VSURVEY_SERVER": "http://127.0.0.1:9", "VSURVEY_TOKEN": "vst_x"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("another vsurvey sync"))
        withExtendedLifetime(held) {}
    }

    @Test("--watch sends what is finalized while it runs, and stops cleanly on SIGTERM")
    func watch() async throws {
        let serverDirectory = try scratch()
        let token = try await createToken("collector", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        var device = try Device(seed: 81)
        try await device.login(server, token: token)
        let process = Process()
        process.executableURL = try clientBinary()
        process.arguments = ["sync", "--watch", "--every", "1s", "--data-dir", device.directory.path, "--lang", "en"]
        process.environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        try await Task.sleep(for: .milliseconds(500))
        let survey = try device.finalize(village: 3)
        let storage = try SQLiteServerStorage(path: serverDirectory.appendingPathComponent("server.sqlite").path)
        var arrived = false
        for _ in 0..<50 where !arrived {
            try await Task.sleep(for: .milliseconds(100))
            arrived = try await storage.survey(survey.instanceID) != nil
        }
        #expect(arrived, "the watching sync did not send the survey")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let output = String(decoding: PipeReader.readAll(out.fileHandleForReading), as: UTF8.self)
        #expect(output.contains("sync stopped"), "\(output)")
        #expect(try device.store.find(survey.instanceID).status == .sent)
    }
}
