import Foundation
import SurveyCore
import SurveyFixtures
import SurveyStore
import Testing

/// A real browser, when `VSURVEY_TEST_BROWSER=1` (`.ci/run` installs
/// chromium, chromium-driver and python3-selenium from Debian).
enum Browser {
    static var wanted: Bool { ProcessInfo.processInfo.environment["VSURVEY_TEST_BROWSER"] == "1" }
}

@Suite("The report page in a real browser", .enabled(if: Browser.wanted))
struct BrowserTests {
    @Test("a county clerk signs in with a token, reads the page in Chinese with its charts, signs out; the browser keeps a session id, never the token")
    func signInReadSignOut() async throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let viewer = try await createToken("viewer", in: directory)
        let server = try await ServerProcess.start(directory: directory)
        defer { server.stop() }
        let screenshot = directory.appendingPathComponent("report.png").path
        let run = try await offPool {
            try CommandRun.run(
                URL(fileURLWithPath: "/usr/bin/python3"),
                [
                    Fixtures.root.appendingPathComponent("Tests/Tools/browser_signin.py").path,
                    "http://127.0.0.1:\(server.port)/reports/village-branch?period=2026", viewer, screenshot,
                ],
                in: directory, environment: ["HOME": directory.path])
        }
        #expect(run.status == 0, "\(run.stderr)")
        let seen = try JSONParser().parse(run.stdout)
        #expect(seen["before"]?.stringValue?.contains("请先登录以查看报告") == true)
        #expect(seen["title"]?.stringValue?.hasPrefix("村党组织建设情况调查") == true, "\(seen["title"] ?? .null)")
        let cookies = seen["cookies"]?.arrayValue ?? []
        #expect(cookies.count == 1, "\(seen["page"] ?? .null)")
        #expect(cookies.first?["name"] == "vsurvey_session" && cookies.first?["httpOnly"] == .bool(true) && cookies.first?["sameSite"] == "Strict")
        #expect(cookies.first?["value"]?.stringValue?.hasPrefix("vss_") == true && cookies.first?["value"]?.stringValue != viewer)
        #expect(seen["page"]?.stringValue?.contains("已报送/应报送") == true && seen["page"]?.stringValue?.contains("退出登录") == true)
        #expect(seen["charts"]?.doubleValue ?? 0 >= 3)
        #expect(seen["signed_out"]?.stringValue?.contains("已退出登录") == true)
        #expect(seen["after"]?.stringValue?.contains("请先登录以查看报告") == true, "signed out, the page asks to sign in again")
        #expect(((try? FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) ?? 0) > 10_000, "a screenshot")
    }
}

@Suite("The workspace in a real browser", .enabled(if: Browser.wanted))
struct WorkspaceBrowserTests {
    /// Runs one step of `Tests/Tools/browser_workspace.py`; what the browser saw.
    static func step(_ arguments: [String], in directory: URL) async throws -> JSONValue {
        let run = try await offPool {
            try CommandRun.run(
                URL(fileURLWithPath: "/usr/bin/python3"), [Fixtures.root.appendingPathComponent("Tests/Tools/browser_workspace.py").path] + arguments,
                in: directory, environment: ["HOME": directory.path])
        }
        #expect(run.status == 0, "\(arguments.first ?? ""): \(run.stderr)")
        return try JSONParser().parse(run.stdout.isEmpty ? "{}" : run.stdout)
    }

    static func user(_ name: String, role: String, unit: String, password: String, in directory: URL) async throws {
        let made = try await offPool {
            try CommandRun.run(
                try serverBinary(), ["user", "create", "--db", "server.sqlite", "--name", name, "--role", role, "--unit", unit, "--lang", "en"],
                in: directory, input: password + "\n")
        }
        #expect(made.status == 0, "\(made.stderr)")
    }

    @Test(
        "a township reviewer signs in with a password, filters, returns a survey with a comment; the device syncs, sees it, is edited and syncs; the township approves in the browser, the county accepts, resolves a conflict on its page and downloads an xlsx; a form posted from another site is refused"
    )
    func wholeLoop() async throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let shots = ProcessInfo.processInfo.environment["VSURVEY_SCREENSHOTS"] ?? directory.path
        let downloads = directory.appendingPathComponent("downloads")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        let collector = try await createToken("collector", in: directory)
        let township = Townships.home.rawValue
        try await Self.user("城关镇审核员", role: "reviewer", unit: township, password: "township-pass-1", in: directory)
        try await Self.user("县委组织部", role: "admin", unit: "130102000000", password: "county-pass-12", in: directory)
        let server = try await ServerProcess.start(directory: directory)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"

        var device = try Device(seed: 93)
        let villages = LiveServer.villages.indices.filter { LiveServer.villages[$0].ancestor(at: .township) == Townships.home }
        let survey = try device.finalize(village: villages[0])
        for village in villages.dropFirst().prefix(5) { _ = try device.finalize(village: village) }
        try await device.login(server, token: collector)
        #expect(try await device.sync().status == 0)
        let id = survey.instanceID
        let unitName = try #require(LiveServer.registry.unit(LiveServer.villages[villages[0]])?.name)

        // The township returns it from the browser, found by the table's filters.
        let comment = "书记年报酬与上年相差太大,请核实"
        let returned = try await Self.step(["return", base, "城关镇审核员", "township-pass-1", shots, unitName, comment], in: directory)
        #expect(returned["home"]?.stringValue?.contains("待我审核\n6") == true, "\(returned["home"] ?? .null)")
        #expect(returned["rows"]?.arrayValue?.count == 1, "\(returned["rows"] ?? .null)")
        #expect(returned["rows"]?.at(0)?.stringValue?.contains(unitName) == true)
        #expect(returned["table_url"]?.stringValue?.contains("review=pending") == true)
        #expect(returned["status"]?.stringValue == "被退回(乡镇)", "\(returned["after"] ?? .null)")
        #expect(returned["after"]?.stringValue?.contains(comment) == true)

        // The device hears it, is edited in a terminal and sends revision 2.
        let heard = try await device.sync()
        #expect(heard.stdout.contains("1 returned"), "\(heard.stdout)")
        let dataDirectory = device.directory.path
        let list = try await offPool { try CommandRun.run(try clientBinary(), ["list", "--data-dir", dataDirectory, "--lang", "zh"], in: Fixtures.root) }
        #expect(list.stdout.contains("被退回(乡镇)") && list.stdout.contains(comment) && list.stdout.contains("城关镇审核员"), "\(list.stdout)")
        try await device.correctPay(of: survey, to: "45678")
        #expect(try await device.sync().stdout.contains("sent 1"))

        // The township approves revision 2 (its change shown); the county accepts it.
        let approved = try await Self.step(["approve", base, "城关镇审核员", "township-pass-1", shots, id], in: directory)
        #expect(approved["before"]?.stringValue == "待审核")
        #expect(approved["changes"]?.arrayValue?.contains { $0.stringValue?.contains("45678") == true } == true, "\(approved["changes"] ?? .null)")
        #expect(approved["status"]?.stringValue == "乡镇已审核", "\(approved["after"] ?? .null)")

        // A form on another site's page that posts an approval as the county is refused, and changes nothing.
        let forged = try await Self.step(["forge", base, "县委组织部", "county-pass-12", "-", id], in: directory)
        #expect(forged["answer"]?.stringValue?.contains("拒绝这个表单") == true, "\(forged)")
        let between = try await call(server, "GET", "/api/v1/surveys/\(id)", token: collector)
        #expect(between.status == 403, "a collector cannot read surveys")
        let accepted = try await Self.step(["approve", base, "县委组织部", "county-pass-12", "-", id], in: directory)
        #expect(accepted["before"]?.stringValue == "乡镇已审核", "the forged approval changed nothing")
        #expect(accepted["status"]?.stringValue == "县已验收", "\(accepted["after"] ?? .null)")
        let final = try await device.sync()
        #expect(final.stdout.contains("2 review decisions received"), "\(final.stdout)")

        // A second survey of another village is held; the county keeps it on the conflict page.
        var maker = SurveyMaker(seed: 94)
        var held = maker.survey(village: villages[1])
        held.answers["notes"] = "第二份:乡镇重复录入"
        let sent = try await call(server, "POST", "/api/v1/surveys", token: collector, body: try JSONParser().parse(batch([held])))
        let conflict = try #require(try sent.json().at("results", 0, "conflict_id")?.int)
        let resolved = try await Self.step(
            ["resolve", base, "县委组织部", "county-pass-12", shots, String(conflict), held.instanceID, "乡镇确认第二份为准"], in: directory)
        #expect(resolved["differing"]?.arrayValue?.contains { $0.stringValue?.contains("第二份:乡镇重复录入") == true } == true, "\(resolved)")
        #expect(resolved["after"]?.stringValue?.contains("冲突已处理") == true, "\(resolved["after"] ?? .null)")

        // The raw data, downloaded as the clerk does, opened by a spreadsheet reader.
        let exported = try await Self.step(["export", base, "县委组织部", "county-pass-12", "-", downloads.path, "2026"], in: directory)
        let file = try #require(exported["files"]?.arrayValue?.first?.stringValue, "\(exported)")
        if SpreadsheetReader.wanted {
            let sheets = try await offPool { try SpreadsheetReader.read(downloads.appendingPathComponent(file).path) }["sheets"]?.arrayValue ?? []
            #expect(sheets.compactMap { $0["title"]?.stringValue } == ["村党组织建设情况调查", "其他“两委”成员"])
            let rows = sheets.first?["rows"]?.arrayValue?.map { $0.arrayValue ?? [] } ?? []
            // The header and six current surveys: the kept one replaced its rival.
            #expect(rows.count == 1 + 6, "\(rows.count)")
            let ids = rows.dropFirst().compactMap { $0.first?["value"]?.stringValue }
            #expect(ids.contains(held.instanceID) && ids.contains(id))
            #expect(rows.first?.first?["value"]?.stringValue == "调查编号")
        }
        if ProcessInfo.processInfo.environment["VSURVEY_SCREENSHOTS"] == nil {
            for name in ["workspace-home", "workspace-table", "workspace-survey", "workspace-phone", "workspace-conflict"] {
                let size = (try? FileManager.default.attributesOfItem(atPath: "\(shots)/\(name).png")[.size] as? Int) ?? 0
                #expect(size > 10_000, "a screenshot of \(name)")
            }
        }
    }
}
