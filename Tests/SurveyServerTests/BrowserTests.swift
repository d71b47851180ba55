import Foundation
import SurveyCore
import SurveyFixtures
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
