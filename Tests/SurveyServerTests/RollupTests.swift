import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveyServer
import Synchronization
import Testing

/// Reports above a county add up per-township rollup rows, which a refresh
/// keeps equal to the report table: these tests hold such reports equal to
/// the reference evaluator while surveys arrive, change, move and are
/// resolved, on both engines.
@Suite("Township rollups for reports above a county", .serialized)
struct RollupTests {
    static let country = "000000000000"
    static let city = "130100000000"

    /// The report of a scope as the API gives it, and the reference's for the surveys the server should hold as current.
    static func check(_ server: LiveServer, token: String, current: [WireSurvey], scope: String, _ step: String) async throws {
        let reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026&scope=\(scope)", token: token)
        #expect(reply.status == 200, "\(step)")
        #expect(try reply.reportJSON() == (try ReportAPITests.expected(current, scope: scope).json(.en)), "\(step): the \(scope) report differs from the reference")
    }

    /// Refreshes the rollups as a report would, two changed townships to a
    /// statement (so that several statements run), and checks that it
    /// computed `townships` of 2026 again and nothing whole. SQLite computes
    /// exactly those; PostgreSQL at least those, since it looks again at
    /// rows of every transaction younger than the oldest one running on the
    /// server (other tests' included) when it last refreshed.
    static func expectRefresh(_ server: LiveServer, _ townships: Set<String>, _ step: String) async throws {
        let done = try await refresh(server)
        #expect(done.fullPeriods.isEmpty, "\(step)")
        let recomputed = Set(done.townships["2026"] ?? [])
        if server.database == .sqlite {
            #expect(recomputed == townships && Set(done.townships.keys).isSubset(of: ["2026"]), "\(step): \(done)")
        } else {
            #expect(recomputed.isSuperset(of: townships), "\(step): \(done)")
        }
    }

    static func refresh(_ server: LiveServer) async throws -> RollupRefresh {
        let form = LiveServer.form
        let plan = ReportPlan(versions: [form])
        let rollup = try RollupSQL(ReportSQL(form: form, schema: plan.schema, dialect: server.service.reports.dialect))
        return try await server.service.reports.refreshRollups(
            rollup, periods: ["2026", "2025"].map { ($0, form.deadline(of: $0)) }, townshipsPerStatement: 2)
    }

    static func township(_ survey: WireSurvey) -> String { String(survey.unit.prefix(9)) }

    @Test(
        "national and city reports equal the reference as surveys arrive, are edited, move and are resolved; each refresh recomputes only the townships that changed",
        arguments: TestDatabase.all)
    func followsChanges(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let viewer = try await server.token(.viewer, unit: Self.country)
            let admin = try await server.token(.admin)
            var maker = SurveyMaker(seed: 900)
            var current = (0..<150).map { maker.survey(village: $0) } + (0..<60).map { maker.survey(village: $0, period: "2025") }
            #expect(try await server.post(current, token: collector).json.at("summary", "created")?.int == current.count)

            // The first report computes both periods whole; the next finds nothing to do.
            try await Self.check(server, token: viewer, current: current, scope: Self.country, "first")
            try await Self.check(server, token: viewer, current: current, scope: Self.city, "first")
            try await Self.expectRefresh(server, [], "after the first reports")

            // New surveys in three townships.
            let added = [160, 175, 240].map { maker.survey(village: $0) }
            #expect(Set(added.map(Self.township)).count == 3)
            #expect(try await server.post(added, token: collector).json.at("summary", "created")?.int == 3)
            current += added
            try await Self.expectRefresh(server, Set(added.map(Self.township)), "new surveys")
            try await Self.check(server, token: viewer, current: current, scope: Self.country, "new surveys")

            // An edit (new answers): one township, whose figures change.
            let edited = maker.survey(village: 3, revision: 2, id: current[3].instanceID)
            #expect(edited.answers != current[3].answers)
            #expect(try await server.post([edited], token: collector).json.at("results", 0, "outcome")?.stringValue == "updated")
            current[3] = edited
            try await Self.expectRefresh(server, [Self.township(edited)], "an edit")
            try await Self.check(server, token: viewer, current: current, scope: Self.country, "an edit")
            try await Self.expectRefresh(server, [], "after an edit")

            // A survey moved to a village of another township: both townships.
            var moved = current[7]
            moved.revision = 2
            moved.replaces = 1
            moved.unit = LiveServer.villages[230].rawValue
            #expect(Self.township(moved) != Self.township(current[7]))
            #expect(try await server.post([moved], token: collector).json.at("results", 0, "outcome")?.stringValue == "updated")
            let left = Self.township(current[7])
            current[7] = moved
            try await Self.expectRefresh(server, [Self.township(moved), left], "a move")
            try await Self.check(server, token: viewer, current: current, scope: Self.country, "a move")
            try await Self.check(server, token: viewer, current: current, scope: Self.city, "a move")

            // A held rival changes nothing until the county keeps it.
            let rival = maker.survey(village: 5)
            let held = try await server.post([rival], token: collector)
            #expect(held.json.at("results", 0, "outcome")?.stringValue == "held")
            try await Self.expectRefresh(server, [], "a held rival")
            let conflict = try #require(held.json.at("results", 0, "conflict_id")?.int)
            let resolved = try await server.send(
                "POST", "/api/v1/conflicts/\(conflict)/resolve", token: admin, body: Array(#"{"keep": "\#(rival.instanceID)"}"#.utf8))
            #expect(resolved.status == 200)
            current = current.filter { !($0.unit == rival.unit && $0.period == "2026") } + [rival]
            try await Self.expectRefresh(server, [Self.township(rival)], "a resolution")
            try await Self.check(server, token: viewer, current: current, scope: Self.country, "a resolution")

            // The previous period's figures (the change) follow too.
            let earlier = (100..<130).map { maker.survey(village: $0, period: "2025") }
            #expect(try await server.post(earlier, token: collector).json.at("summary", "created")?.int == earlier.count)
            current += earlier
            try await Self.check(server, token: viewer, current: current, scope: Self.country, "the year before")
        }
    }

    @Test(
        "reports asked again and again while four clients send surveys at once end equal to the reference, each no smaller than the one before",
        arguments: TestDatabase.all)
    func reportsDuringIngest(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let collector = try await server.token(.collector)
            let viewer = try await server.token(.viewer, unit: Self.country)
            var maker = SurveyMaker(seed: 901)
            // Every village once per year, in small batches, four senders at once.
            let surveys = ["2026", "2025"].flatMap { period in (0..<LiveServer.villages.count).map { maker.survey(village: $0, period: period) } }
            let batches = stride(from: 0, to: surveys.count, by: 5).map { Array(surveys[$0..<min(surveys.count, $0 + 5)]) }
            let done = Flag()
            let sending = Task {
                defer { done.set() }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for sender in 0..<4 {
                        group.addTask {
                            for batch in batches.enumerated().filter({ $0.offset % 4 == sender }).map(\.element) {
                                let reply = try await server.post(batch, token: collector)
                                #expect(reply.json.at("summary", "created")?.int == batch.count)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            var reports = 0
            var last = -1
            while true {
                // The last report is asked after every survey was stored.
                let sent = done.isSet
                let reply = try await server.send("GET", "/api/v1/reports/village-branch?period=2026&scope=\(Self.country)", token: viewer)
                #expect(reply.status == 200)
                let reported = try reply.json().at("total", "reported")?.int ?? -1
                #expect(reported >= last, "a report counted fewer surveys than the one before")
                last = reported
                reports += 1
                if sent { break }
            }
            try await sending.value
            #expect(reports > 1)
            try await Self.check(server, token: viewer, current: surveys, scope: Self.country, "after \(reports) reports during ingest")
            try await Self.check(server, token: viewer, current: surveys, scope: Self.city, "after \(reports) reports during ingest")
        }
    }
}

/// Set once, read from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
