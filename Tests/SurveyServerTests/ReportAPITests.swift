import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveyServer
import Testing

@Suite("Reports from the server's report tables", .serialized)
struct ReportAPITests {
    /// The reference evaluator's report over what the server should hold as current.
    static func expected(_ surveys: [WireSurvey], scope: String, period: String = "2026") throws -> Report {
        let form = LiveServer.form
        let kept = surveys.map { survey in
            ReportSurvey(
                unit: survey.unit, period: survey.period, form: form, answers: form.validate(survey.answers, today: CivilDate.today()).answers,
                reportedAt: nil)
        }
        let code = try #require(UnitCode(scope))
        let length = Report.groupLength(scope: code, form: form)
        let reference = ReferenceEvaluator(form: form)
        let data = reference.data(kept, scopePrefix: code.prefix, period: period, groupLength: length, dueBefore: nil, watchLimit: 50)
        let previous = Report.previous(period).map {
            reference.data(kept, scopePrefix: code.prefix, period: $0, groupLength: length, dueBefore: nil, watchLimit: 50)
        }
        return Report(form: form, registry: LiveServer.registry, scope: code, period: period, data: data, previous: previous, missingLimit: 50)
    }

    @Test("the county report equals the reference over the current surveys; held surveys count only once resolved; a township viewer sees only its township")
    func countyReport() async throws {
        let server = try await LiveServer.start()
        defer { Task { await server.stop() } }
        let collector = try await server.token(.collector)
        let viewer = try await server.token(.viewer)
        var maker = SurveyMaker(seed: 500)
        var current = (0..<120).map { maker.survey(village: $0) }
        current += (0..<40).map { maker.survey(village: $0, period: "2025") }
        let stored = try await server.post(current, token: collector)
        #expect(stored.json.at("summary", "created")?.int == 160)

        var reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: viewer)
        #expect(reply.status == 200)
        var json = try reply.json()
        #expect(json == (try Self.expected(current, scope: "130102000000").json(.en)), "the server's report differs from the reference")
        #expect(json.at("total", "reported")?.int == 120)
        #expect(json["previous_period"]?.stringValue == "2025")
        #expect(json.at("missing", "count")?.int == LiveServer.villages.count - 120)

        // A second survey for a village is held: the report does not change.
        let rival = maker.survey(village: 5)
        let held = try await server.post([rival], token: collector)
        #expect(held.json.at("results", 0, "outcome")?.stringValue == "held")
        reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: viewer)
        #expect(try reply.json() == json)
        // The county keeps the rival: the report follows.
        let conflict = try #require(held.json.at("results", 0, "conflict_id")?.int)
        let admin = try await server.token(.admin)
        let resolved = try await server.send(
            "POST", "/api/v1/conflicts/\(conflict)/resolve", token: admin, body: Array(#"{"keep": "\#(rival.instanceID)"}"#.utf8))
        #expect(resolved.status == 200)
        current = current.filter { !($0.unit == rival.unit && $0.period == "2026") } + [rival]
        reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: viewer)
        json = try reply.json()
        #expect(json == (try Self.expected(current, scope: "130102000000").json(.en)))

        // An edit that moves a survey to another village moves its row.
        var moved = current[7]
        moved.revision = 2
        moved.replaces = 1
        moved.unit = LiveServer.villages[200].rawValue
        #expect(try await server.post([moved], token: collector).json.at("results", 0, "outcome")?.stringValue == "updated")
        current[7] = moved
        reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: viewer)
        #expect(try reply.json() == (try Self.expected(current, scope: "130102000000").json(.en)))

        // CSV, with a byte-order mark, one line per township and the total.
        let csv = try await server.send("GET", "/api/v1/reports/village-branch?period=2026&format=csv", token: viewer)
        #expect(csv.status == 200)
        #expect(csv.header("Content-Type")?.hasPrefix("text/csv") == true)
        #expect(Array(csv.body.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let lines = String(decoding: csv.body, as: UTF8.self).split(separator: "\r\n")
        #expect(lines.count == 1 + LiveServer.registry.units(under: UnitCode("130102000000")!, level: .township).count + 1)

        // A township's viewer: its own township by default, not the county.
        let township = "130102003000"
        let local = try await server.token(.viewer, unit: township)
        reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026", token: local)
        #expect(reply.status == 200)
        #expect(try reply.json() == (try Self.expected(current, scope: township).json(.en)))
        #expect(try reply.json()["group_level"]?.stringValue == "village")
        #expect(try await server.send("GET", "/api/v1/reports/village-branch?scope=130102000000", token: local).status == 403)
        #expect(try await server.send("GET", "/api/v1/reports/village-branch", token: collector).status == 403)
    }
}
