import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveyServer

#if canImport(Glibc)
    import Glibc
#endif

/// `vsurvey-bench export [--db PATH] [--villages N]`: the raw exports of a
/// national database (seeded with N villages, 490,000 by default, unless
/// `--db` names one already made, such as `vsurvey-bench report`'s or
/// `vsurvey-server seed`'s), streamed over loopback from the
/// `vsurvey-server` binary built beside this one, as xlsx, as a ZIP of CSV
/// files and as JSON Lines: surveys per second, the time to the first
/// byte, and the server's peak memory.
enum ExportBenchmark {
    static func run(villages: Int, existing: String?) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-bench-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = existing ?? directory.appendingPathComponent("server.sqlite").path
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vsurvey-server").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("vsurvey-bench export: build vsurvey-server first (swift build -c release)")
            exit(1)
        }
        let secret = TokenSecret.generate()
        let surveys: Int
        do {
            let storage = try SQLiteServerStorage(path: path)
            let service = SurveyService(storage: storage, catalog: Fixtures.catalog())
            if existing == nil {
                print("vsurvey-bench export: seeding \(villages) villages with one village-branch survey each for 2026…")
                let seeded = try await service.seed(villages: villages, period: "2026", seed: 7, concurrency: 4)
                print(String(format: "seeding: %d surveys in %.1f s", seeded.stored, seeded.ingestSeconds))
            }
            surveys = try await service.report(formID: "village-branch", scope: UnitCode("000000000000")!, period: "2026").total.reported
            // The whole country: a token whose unit is above every unit of the registry.
            _ = try await storage.createToken(
                name: "bench-export-\(UUID().uuidString.prefix(8))", role: .admin, unit: UnitCode("000000000000")!, hash: TokenSecret.hash(secret))
        }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binary)
        server.arguments = ["serve", "--db", path, "--forms", Fixtures.formsDirectory.path, "--port", "0", "--log-level", "warning"]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        guard let port = ServerBenchmark.readLine(out.fileHandleForReading).split(separator: ":").last.flatMap({ Int($0) }) else {
            print("vsurvey-bench export: the server did not start")
            exit(1)
        }
        let pid = server.processIdentifier
        let atRest = ServerBenchmark.residentMiB(pid).current
        print(String(format: "vsurvey-bench export: %@ served by vsurvey-server (pid %d, %.1f MiB at rest) on port %d", path, pid, atRest, port))
        var met = true
        for format in ["xlsx", "csv", "jsonl"] {
            let url = "http://127.0.0.1:\(port)/api/v1/exports/village-branch?period=2026&format=\(format)"
            let figures = try ServerBenchmark.command(
                "/usr/bin/curl",
                [
                    "-s", "-o", "/dev/null", "-H", "Authorization: Bearer \(secret)", "-w", "%{http_code} %{size_download} %{time_starttransfer} %{time_total}",
                    url,
                ])
            let parts = figures.split(separator: " ").map(String.init)
            guard parts.count == 4, parts[0] == "200", let bytes = Double(parts[1]), let first = Double(parts[2]), let total = Double(parts[3]) else {
                print("vsurvey-bench export: \(format) failed: \(figures)")
                exit(1)
            }
            let memory = ServerBenchmark.residentMiB(pid)
            let rate = Double(surveys) / total
            print(
                String(
                    format: "%@: %d surveys, %.1f MB in %.1f s: %.0f surveys/s; first byte after %.3f s; server peak %.1f MiB (VmHWM)",
                    format.padding(toLength: 5, withPad: " ", startingAt: 0),
                    surveys, bytes / 1e6, total, rate, first, memory.peak))
            met = met && rate >= 20_000 && first < 1 && memory.peak * 1.048576 < 250
        }
        print("targets (at least 20,000 surveys/s, first byte under 1 s, peak under 250 MB): \(met ? "met" : "NOT met")")
    }
}
