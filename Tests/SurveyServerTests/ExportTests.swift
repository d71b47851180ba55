import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer
import Testing

/// Reads a ZIP of CSV files with Python's own zipfile and csv modules, as
/// a program on the county's side would: each file's name, whether it
/// starts with a byte-order mark, and its rows.
func readCSVZip(_ path: String) throws -> JSONValue {
    let script = """
        import csv, io, json, sys, zipfile
        archive = zipfile.ZipFile(sys.argv[1])
        files = []
        for name in archive.namelist():
            data = archive.read(name).decode("utf-8")
            rows = list(csv.reader(io.StringIO(data.lstrip("\\ufeff")))) if name.endswith(".csv") else []
            files.append({"name": name, "bom": data.startswith("\\ufeff"), "rows": rows})
        json.dump({"files": files}, sys.stdout, ensure_ascii=False)
        """
    let run = try CommandRun.run(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", script, path], in: Fixtures.root)
    guard run.status == 0 else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: run.stderr]) }
    return try JSONParser().parse(run.stdout)
}

@Suite("Raw exports")
struct ExportTests {
    @Test(
        "jsonl, a ZIP of CSV files and an xlsx workbook of a form's current surveys within scope: every survey once at its current revision, repeats joined by instance_id, names beside codes, the review state; filters, refusals and the audit log",
        arguments: TestDatabase.all)
    func exports(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector, name: "贺庄采集")
            let viewer = try await server.token(.viewer)
            let admin = try await server.token(.admin)
            let township = try await server.token(.reviewer, unit: Townships.home.rawValue)
            var maker = SurveyMaker(seed: 61)
            let homeVillages = LiveServer.villages.indices.filter { LiveServer.villages[$0].ancestor(at: .township) == Townships.home }
            let surveys = homeVillages.prefix(4).map { maker.survey(village: $0) } + [maker.survey(village: Townships.elsewhere)]
            #expect(try await server.post(surveys, token: collector).json.outcomes == Array(repeating: "created", count: 5))
            var edited = surveys[1]
            edited.revision = 2
            edited.replaces = 1
            edited.answers["secretary_pay"] = .integer(48_888)
            #expect(try await server.post([edited], token: collector).json.outcomes == ["updated"])
            #expect(try await server.review(surveys[0].instanceID, "approve", revision: 1, token: township).status == 200)
            let members = surveys.map { $0.instanceID == edited.instanceID ? edited : $0 }.reduce(0) {
                $0 + ($1.answers["committee_members"]?.arrayValue?.count ?? 0)
            }

            // JSON Lines: a survey a line, its answers as kept.
            let lines = try await server.send("GET", "/api/v1/exports/village-branch?period=2026&format=jsonl", token: viewer)
            #expect(lines.status == 200)
            #expect(lines.header("Content-Type")?.hasPrefix("application/x-ndjson") == true)
            #expect(lines.header("Content-Disposition")?.contains("village-branch-130102000000-2026.jsonl") == true)
            let objects = try lines.text.split(separator: "\n").map { try JSONParser().parse(String($0)) }
            #expect(objects.count == 5)
            #expect(Set(objects.compactMap { $0["instance_id"]?.stringValue }) == Set(surveys.map(\.instanceID)))
            let second = try #require(objects.first { $0["instance_id"]?.stringValue == edited.instanceID })
            #expect(second["revision"]?.int == 2 && second.at("answers", "secretary_pay")?.int == 48_888)
            #expect(second["sent_by"]?.stringValue == "贺庄采集")
            #expect(second["township_name"]?.stringValue == LiveServer.registry.unit(Townships.home)?.name)
            #expect(objects.first { $0["instance_id"]?.stringValue == surveys[0].instanceID }?.at("review", "state")?.stringValue == "approved")

            // Filters and scope.
            let approved = try await server.send("GET", "/api/v1/exports/village-branch?format=jsonl&review=approved", token: viewer)
            #expect(approved.text.split(separator: "\n").count == 1)
            let narrow = try await server.token(.viewer, unit: Townships.other.rawValue)
            #expect(try await server.send("GET", "/api/v1/exports/village-branch?format=jsonl", token: narrow).text.split(separator: "\n").count == 1)
            #expect(try await server.send("GET", "/api/v1/exports/village-branch?scope=\(Townships.home.rawValue)", token: narrow).status == 403)
            #expect(try await server.send("GET", "/api/v1/exports/village-branch", token: collector).status == 403)
            #expect(try await server.send("GET", "/api/v1/exports/village-branch").status == 401)
            #expect(try await server.send("GET", "/api/v1/exports/no-such-form", token: viewer).status == 404)
            for bad in ["format=pdf", "values=words", "review=maybe", "scope=12"] {
                #expect(try await server.send("GET", "/api/v1/exports/village-branch?\(bad)", token: viewer).status == 400, "\(bad)")
            }

            // A ZIP of CSV files, names and codes, as a program reads it.
            let directory = try scratch()
            let zipped = try await server.send("GET", "/api/v1/exports/village-branch?period=2026&format=csv&values=codes", token: viewer)
            #expect(zipped.status == 200 && zipped.header("Content-Type") == "application/zip")
            let zipPath = directory.appendingPathComponent("export.zip").path
            try Data(zipped.body).write(to: URL(fileURLWithPath: zipPath))
            let files = try readCSVZip(zipPath)["files"]?.arrayValue ?? []
            #expect(files.compactMap { $0["name"]?.stringValue } == ["README.txt", "village-branch.csv", "committee_members.csv"])
            let main = files[1]["rows"]?.arrayValue?.map { $0.arrayValue?.compactMap(\.stringValue) ?? [] } ?? []
            #expect(files[1]["bom"] == .bool(true) && files[2]["bom"] == .bool(true))
            #expect(
                Array(main.first?.prefix(11) ?? []) == [
                    "instance_id", "revision", "version", "unit", "unit_name", "township", "township_name", "period", "received_at", "sent_by", "review",
                ])
            #expect(main.first?.contains("members_total") == true && main.count == 6)
            let header = main[0]
            let row = try #require(main.first { $0.first == surveys[0].instanceID })
            #expect(row[header.firstIndex(of: "review")!] == "approved@township")
            #expect(row[header.firstIndex(of: "branch_type")!] == surveys[0].answers["branch_type"]?.stringValue)
            #expect(row[header.firstIndex(of: "unit")!] == surveys[0].unit)
            let repeatRows = files[2]["rows"]?.arrayValue ?? []
            #expect(repeatRows.count == members + 1)
            #expect(repeatRows.dropFirst().allSatisfy { row in surveys.map(\.instanceID).contains(row.arrayValue?.first?.stringValue ?? "") })

            // The workbook, as a spreadsheet reader opens it: labels in Chinese, codes as text.
            if SpreadsheetReader.wanted {
                let workbook = try await server.send(
                    "GET", "/api/v1/exports/village-branch?period=2026", token: viewer, headers: [("Accept-Language", "zh-CN")])
                #expect(workbook.header("Content-Type") == ExportFormat.xlsx.contentType)
                let path = directory.appendingPathComponent("export.xlsx").path
                try Data(workbook.body).write(to: URL(fileURLWithPath: path))
                let sheets = try SpreadsheetReader.read(path)["sheets"]?.arrayValue ?? []
                #expect(sheets.compactMap { $0["title"]?.stringValue } == ["村党组织建设情况调查", "其他“两委”成员"])
                #expect(sheets.allSatisfy { $0["freeze"]?.stringValue == "A2" && $0["header_bold"] == .bool(true) })
                let rows = sheets[0]["rows"]?.arrayValue?.map { $0.arrayValue ?? [] } ?? []
                #expect(rows.count == 6)
                let names = rows[0].compactMap { $0["value"]?.stringValue }
                #expect(names.prefix(5) == ["调查编号", "修订", "表单版本", "单位代码", "单位名称"])
                let first = try #require(rows.first { $0.first?["value"]?.stringValue == surveys[0].instanceID })
                #expect(first[3]["value"]?.stringValue == surveys[0].unit && first[3]["type"]?.stringValue == "str")
                #expect(first[10]["value"]?.stringValue == "乡镇已审核")
                let total = try #require(names.firstIndex(of: LiveServer.form.field(named: "members_total")!.label!.zh))
                #expect(first[total]["type"]?.stringValue == "int" && first[total]["value"]?.int == surveys[0].answers["members_total"]?.int)
                let type = try #require(names.firstIndex(of: LiveServer.form.field(named: "branch_type")!.label!.zh))
                let branch = surveys[0].answers["branch_type"]?.stringValue ?? ""
                #expect(first[type]["value"]?.stringValue == LiveServer.form.field(named: "branch_type")!.choices?.label(of: branch)?.zh)
                #expect((sheets[1]["rows"]?.arrayValue?.count ?? 0) == members + 1)
            }

            let audit = try await server.send("GET", "/api/v1/audit?action=survey.export", token: admin).json()["entries"]?.arrayValue ?? []
            // Each export made is recorded (three JSON Lines, the ZIP, the workbook if read); the refused ones are not.
            #expect(audit.count == (SpreadsheetReader.wanted ? 5 : 4))
            #expect(audit.contains { $0.at("details", "format")?.stringValue == "csv" && $0.at("details", "values")?.stringValue == "codes" })
        }
    }

    @Test("vsurvey-server export writes the same export to an owner-only file, and says how many surveys it holds")
    func fromTheCommandLine() async throws {
        let directory = try scratch()
        let collector = try await createToken("collector", in: directory)
        let server = try await ServerProcess.start(directory: directory)
        var maker = SurveyMaker(seed: 62)
        let reply = try await call(
            server, "POST", "/api/v1/surveys", token: collector, body: try JSONParser().parse(batch((0..<3).map { maker.survey(village: $0) })))
        #expect(try reply.json().outcomes == ["created", "created", "created"])
        server.stop()
        let output = directory.appendingPathComponent("导出.zip").path
        let run = try await runServerCommand(
            [
                "export", "village-branch", "--format", "csv", "--values", "codes", "-o", output, "--db", "server.sqlite", "--forms",
                Fixtures.formsDirectory.path, "--lang", "en",
            ],
            in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("exported 3 surveys to \(output)"))
        let mode = try FileManager.default.attributesOfItem(atPath: output)[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o077 } == 0)
        let files = try readCSVZip(output)["files"]?.arrayValue ?? []
        #expect(files[1]["rows"]?.arrayValue?.count == 4)
        let bad = try await runServerCommand(["export", "village-branch", "--format", "pdf", "-o", output, "--db", "server.sqlite"], in: directory)
        #expect(bad.status != 0 && bad.stderr.contains("--format"))
    }
}
