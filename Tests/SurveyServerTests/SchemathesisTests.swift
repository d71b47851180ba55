import Foundation
import SurveyFixtures
import Testing

/// schemathesis (from PyPI), when `VSURVEY_SCHEMATHESIS` names its
/// executable (`.ci/run` installs it in a virtual environment and sets it;
/// `VSURVEY_TEST_REQUIRE_SCHEMATHESIS=1` makes its absence a failure).
enum Schemathesis {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }
    static var executable: String? { environment["VSURVEY_SCHEMATHESIS"].flatMap { $0.isEmpty ? nil : $0 } }
    static var wanted: Bool { executable != nil || environment["VSURVEY_TEST_REQUIRE_SCHEMATHESIS"] == "1" }
    /// Examples per operation and the seed: bounded and reproducible; set
    /// `VSURVEY_SCHEMATHESIS_SEED` to explore further.
    static var examples: String { environment["VSURVEY_SCHEMATHESIS_EXAMPLES"] ?? "30" }
    static var seed: String { environment["VSURVEY_SCHEMATHESIS_SEED"] ?? "1" }
}

@Suite("schemathesis against the running server", .serialized, .enabled(if: Schemathesis.wanted))
struct SchemathesisTests {
    @Test(
        "with an admin, a viewer and a collector token and every check: no 5xx, no response that breaks the document, no undocumented status",
        arguments: ["admin", "viewer", "collector"])
    func everyCheck(role: String) async throws {
        let executable = try #require(Schemathesis.executable, "VSURVEY_TEST_REQUIRE_SCHEMATHESIS=1 but VSURVEY_SCHEMATHESIS is not set")
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let token = try await createToken(role, in: directory)
        let server = try await ServerProcess.start(directory: directory, arguments: ["--log-level", "warning"])
        defer { server.stop() }
        // One worker: CPython 3.11 can fail compiling hypothesis' code in
        // several threads at once ("AST constructor recursion depth mismatch").
        let run = try await offPool {
            try CommandRun.run(
                URL(fileURLWithPath: executable),
                [
                    "run", "http://127.0.0.1:\(server.port)/api/v1/openapi.json", "--checks", "all", "-H", "Authorization: Bearer \(token)",
                    "--max-examples", Schemathesis.examples, "--seed", Schemathesis.seed, "--workers", "1", "--no-color",
                ],
                in: directory, environment: ["HOME": directory.path])
        }
        #expect(run.status == 0, "schemathesis found problems as \(role):\n\(run.stdout.suffix(6000))\(run.stderr.suffix(2000))")
        #expect(run.stdout.contains("generated"), "\(run.stdout.suffix(2000))")
        #expect(server.log.allSatisfy { !$0.contains("request failed") }, "the server logged an internal error")
    }
}
