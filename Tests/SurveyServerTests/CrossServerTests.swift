import Foundation
import SurveyCore
import SurveyFixtures
import SurveyReport
import SurveySQL
import Synchronization
import Testing

@testable import SurveyServer

/// Two servers on one PostgreSQL database, each with its own connection
/// pool, as two processes would be: whatever they receive at the same
/// moment must end as one server would have left it.
@Suite("Two servers on one PostgreSQL database", .enabled(if: TestDatabase.postgresURL != nil))
struct CrossServerTests {
    static let admin = Principal(tokenID: 0, name: "test", role: .admin, unit: LiveServer.county)

    /// Two storages and services on one fresh database; the second is
    /// opened at the same moment as the first, so both run the migrations.
    static func twoServers() async throws -> (SurveyService, SurveyService, PostgresServerStorage, PostgresServerStorage) {
        let (a, b): (PostgresServerStorage, PostgresServerStorage)
        do {
            (a, b) = try await TestDatabase.withNewPostgresDatabase { url in
                async let first = TestDatabase.openPostgres(url, connections: 4)
                async let second = TestDatabase.openPostgres(url, connections: 4)
                return try await (first, second)
            }
        } catch {
            Issue.record("opening two servers at once: \(String(reflecting: error))")
            throw error
        }
        _ = try await a.replaceUnits(LiveServer.registry.units)
        return (SurveyService(storage: a, catalog: LiveServer.catalog), SurveyService(storage: b, catalog: LiveServer.catalog), a, b)
    }

    /// Runs `body` with two servers on one fresh database, then drops the
    /// database (awaited) whether `body` returned or threw.
    static func withTwoServers(
        _ body: (SurveyService, SurveyService, PostgresServerStorage, PostgresServerStorage) async throws -> Void
    ) async throws {
        let (one, two, a, b) = try await twoServers()
        try await withCleanup({
            b.close()
            await TestDatabase.drop(a)
        }) {
            try await body(one, two, a, b)
        }
    }

    static func send(_ survey: WireSurvey, to service: SurveyService) async throws -> String {
        let results = try await service.ingest(["surveys": .array([survey.json])], by: admin)
        return results[0].outcome.rawValue
    }

    @Test("migrations run once when two servers start together; each survey sent to both at once is stored once")
    func sameSurveyAtOnce() async throws {
        try await Self.withTwoServers { one, two, a, b in
            #expect(try await a.appliedMigrations() == ServerSchema.migrations(.postgres).map(\.id))
            var maker = SurveyMaker(seed: 900)
            let surveys = (0..<40).map { maker.survey(village: $0) }
            let outcomes = try await withThrowingTaskGroup(of: [String].self) { group in
                for survey in surveys {
                    group.addTask {
                        async let x = Self.send(survey, to: one)
                        async let y = Self.send(survey, to: two)
                        return try await [x, y].sorted()
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0 == ["created", "duplicate"] }, "\(outcomes.filter { $0 != ["created", "duplicate"] })")
            let counts = try await a.counts()
            #expect(counts.instances == 40 && counts.revisions == 40 && counts.current == 40 && counts.held == 0)
        }
    }

    @Test("two different surveys for one unit and period at once: one is current, the other held, every time")
    func rivalsAtOnce() async throws {
        try await Self.withTwoServers { one, two, a, b in
            var maker = SurveyMaker(seed: 901)
            let pairs = (0..<40).map { (maker.survey(village: $0), maker.survey(village: $0)) }
            let outcomes = try await withThrowingTaskGroup(of: [String].self) { group in
                for (first, second) in pairs {
                    group.addTask {
                        async let x = Self.send(first, to: one)
                        async let y = Self.send(second, to: two)
                        return try await [x, y].sorted()
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0 == ["created", "held"] }, "\(outcomes.filter { $0 != ["created", "held"] })")
            let counts = try await a.counts()
            #expect(counts.current == 40 && counts.held == 40 && counts.openConflicts == 40)
            #expect(try await a.conflicts(under: LiveServer.county, includeResolved: false).count == 40)
        }
    }

    @Test("revisions 2 and 3 of a survey at once on two servers: revision 3 is kept, whichever arrives first")
    func revisionsAtOnce() async throws {
        try await Self.withTwoServers { one, two, a, b in
            var maker = SurveyMaker(seed: 902)
            let firsts = (0..<30).map { maker.survey(village: $0) }
            for survey in firsts { #expect(try await Self.send(survey, to: one) == "created") }
            let outcomes = try await withThrowingTaskGroup(of: [String].self) { group in
                for first in firsts {
                    var second = first
                    second.revision = 2
                    second.replaces = 1
                    second.answers["members_away"] = .integer(1)
                    var third = second
                    third.revision = 3
                    third.replaces = 2
                    third.answers["members_away"] = .integer(2)
                    // Half the time the later revision sets off first.
                    let laterFirst = first.instanceID.hasSuffix("0") || first.instanceID.utf8.last! % 2 == 0
                    group.addTask { [second, third] in
                        if laterFirst {
                            async let y = Self.send(third, to: two)
                            async let x = Self.send(second, to: one)
                            return try await [x, y].sorted()
                        }
                        async let x = Self.send(second, to: one)
                        async let y = Self.send(third, to: two)
                        return try await [x, y].sorted()
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0 == ["updated", "updated"] || $0 == ["stale", "updated"] }, "\(outcomes)")
            for first in firsts {
                #expect(try await b.survey(first.instanceID)?.latest.revision == 3)
            }
            #expect(try await a.counts().current == 30)
        }
    }

    @Test("an earlier revision still in flight waits for a later one that is being stored, then is stale: never stored over it")
    func laterRevisionHoldsTheRow() async throws {
        try await Self.withTwoServers { one, _, a, b in
            var maker = SurveyMaker(seed: 903)
            let survey = maker.survey(village: 0)
            #expect(try await Self.send(survey, to: one) == "created")
            func candidate(_ revision: Int) -> IngestCandidate {
                var wire = survey
                wire.revision = revision
                wire.replaces = revision - 1
                return IngestCandidate(survey: wire, unit: UnitCode(wire.unit)!, contentHash: "hash-\(revision)", storedAnswers: "{}")
            }
            let (third, second) = (candidate(3), candidate(2))
            let applied = DispatchSemaphore(value: 0)
            let go = DispatchSemaphore(value: 0)
            let admin = Self.admin
            // Server A stores revision 3 and holds its transaction open...
            async let later = a.sql.write { session in
                let outcome = try SurveyRules.apply(third, by: admin, now: 1, hook: { _, _ in }, session: session)
                applied.signal()
                go.wait()
                return outcome
            }
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Thread {
                    applied.wait()
                    done.resume()
                }.start()
            }
            // ...while server B receives revision 2.
            async let earlier = b.sql.write { session in try SurveyRules.apply(second, by: admin, now: 2, hook: { _, _ in }, session: session) }
            try await Task.sleep(for: .milliseconds(300))
            go.signal()
            let (laterOutcome, earlierOutcome) = try await (later, earlier)
            #expect(laterOutcome.outcome == .updated)
            #expect(earlierOutcome.outcome == .stale)
            #expect(try await b.survey(survey.instanceID)?.latest.revision == 3)
        }
    }
}

@Suite("Copying a county's SQLite file onto PostgreSQL", .enabled(if: TestDatabase.postgresURL != nil))
struct CopyTests {
    @Test("every table arrives with its ids and checksums equal, the reports are the same on both sides, and the copy goes on taking surveys")
    func sqliteToPostgres() async throws {
        try await LiveServer.with(.sqlite) { server in
            let collector = try await server.token(.collector)
            var maker = SurveyMaker(seed: 950)
            var surveys = (0..<80).map { maker.survey(village: $0) } + (0..<30).map { maker.survey(village: $0, period: "2025") }
            surveys.append(maker.survey(village: 3))  // a rival: held
            #expect(try await server.post(surveys, token: collector).json.at("summary", "held")?.int == 1)
            var edited = surveys[0]
            edited.revision = 2
            edited.replaces = 1
            edited.answers["members_away"] = .integer(3)
            #expect(try await server.post([edited], token: collector).json.at("summary", "updated")?.int == 1)
            // Review decisions, their audit entries and a person go too.
            let township = try await server.token(.reviewer, unit: Townships.home.rawValue)
            #expect(try await server.review(surveys[1].instanceID, "return", revision: 1, comment: "请核实", token: township).status == 200)
            _ = try await server.service.createPerson(
                name: "县文书", role: .viewer, unit: LiveServer.county, password: "a-long-password", by: .console(user: "test"))

            let destination = try await TestDatabase.postgres.makeStorage(in: server.directory)
            try await withCleanup({ await TestDatabase.drop(destination) }) {
                let steps = Mutex<Set<String>>([])
                let summary = try await StorageCopy.copy(from: server.storage, to: destination, catalog: LiveServer.catalog) { step, _ in
                    steps.withLock { _ = $0.insert(step) }
                }
                #expect(summary.matches, "\(summary.tables.filter { !$0.matches }.map(\.name))")
                // Every long step says how far it has come: the copy, both checksums and the report tables.
                #expect(
                    steps.withLock { $0 }.isSuperset(
                        of: ["submission", "submission checksum (source)", "submission checksum (destination)", "report_village_branch"]))
                #expect(summary.tables.first { $0.name == "submission" }?.rows == surveys.count + 1)
                for table in ["review", "review_event", "person"] { #expect(summary.tables.first { $0.name == table }?.rows == 1, "\(table)") }
                #expect((summary.tables.first { $0.name == "audit" }?.rows ?? 0) >= 2)
                #expect(try await destination.person(named: "县文书").map { PasswordHash.verify("a-long-password", against: $0.password) } == true)
                #expect(summary.reportRows == 110)
                #expect(try await destination.counts() == server.storage.counts())
                #expect(try await destination.registryRevision() == server.storage.registryRevision())

                let copied = SurveyService(storage: destination, catalog: LiveServer.catalog)
                for period in ["2026", "2025"] {
                    for scope in [LiveServer.county, UnitCode("000000000000")!] {
                        let here = try await server.service.report(formID: "village-branch", scope: scope, period: period)
                        let there = try await copied.report(formID: "village-branch", scope: scope, period: period)
                        #expect(here.json(.en) == there.json(.en), "\(period) \(scope)")
                    }
                }
                #expect(try await destination.survey(edited.instanceID)?.latest.revision == 2)
                #expect(try await destination.conflicts(under: LiveServer.county, includeResolved: false).count == 1)
                // New rows take ids after the copied ones.
                _ = try await destination.createToken(name: "after-copy", role: .viewer, unit: LiveServer.county, hash: "h")
                let admin = Principal(tokenID: 0, name: "test", role: .admin, unit: LiveServer.county)
                let fresh = maker.survey(village: 200)
                #expect(try await copied.ingest(["surveys": .array([fresh.json])], by: admin)[0].outcome == .created)

                // A second copy into a database that holds data is refused.
                await #expect(throws: StorageCopy.Failure.self) {
                    try await StorageCopy.copy(from: server.storage, to: destination, catalog: LiveServer.catalog)
                }
            }
        }
    }
}
