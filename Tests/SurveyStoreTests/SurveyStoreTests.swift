import Foundation
import GRDB
import SurveyCore
import SurveyFixtures
import SurveyStore
import Testing

/// A store in a new temporary directory.
func temporaryStore() throws -> (SurveyStore, URL) {
    let directory = try scratchDirectory("store")
    return (try SurveyStore(directory: directory), directory)
}

func survey(unit: String = "130102001203", period: String = "2026", form: String = "village-branch", answers: JSONObject = JSONObject()) -> StoredSurvey {
    StoredSurvey(formID: form, formVersion: "2026.1", unitCode: unit, period: period, answers: answers)
}

@Suite("The device's survey database")
struct SurveyStoreTests {
    @Test func createsFindsAndSavesDrafts() throws {
        let (store, _) = try temporaryStore()
        let created = try store.create(survey())
        #expect(created.id != nil)
        #expect(created.status == .draft)
        #expect(created.revision == 1)
        let found = try store.find(created.shortID)
        #expect(found.instanceID == created.instanceID)
        #expect(try store.find(String(created.instanceID.prefix(5)).uppercased()).id == created.id)

        var answers = JSONObject()
        answers["members_total"] = 42
        try store.saveDraft(created.id!, answers: answers, position: "members_women")
        let saved = try store.find(created.shortID)
        #expect(saved.answerObject["members_total"] == 42)
        #expect(saved.position == "members_women")
        #expect(saved.updatedAt >= created.updatedAt)
    }

    @Test func oneSurveyPerFormUnitAndPeriod() throws {
        let (store, _) = try temporaryStore()
        try store.create(survey())
        #expect(throws: StoreError.self) { try store.create(survey()) }
        try store.create(survey(period: "2025"))
        try store.create(survey(unit: "130102001204"))
        try store.create(survey(form: "other"))
        #expect(try store.list().count == 4)
    }

    @Test func unknownAndAmbiguousIDs() throws {
        let (store, _) = try temporaryStore()
        for unit in 201...240 { try store.create(survey(unit: "130102001\(unit)")) }
        do {
            _ = try store.find("ffffffff")
            Issue.record("found a survey that does not exist")
        } catch let error as StoreError {
            #expect(error.kind == .notFound)
        }
        #expect(throws: StoreError.self) { try store.find("ab") }
        #expect(throws: StoreError.self) { try store.find("zzzz") }
        #expect(Set(try store.list().map(\.instanceID)).count == 40)

        var first = survey(unit: "130102002201")
        first.instanceID = "abcd0000-0000-4000-8000-000000000001"
        var second = survey(unit: "130102002202")
        second.instanceID = "abcd1111-0000-4000-8000-000000000002"
        try store.create(first)
        try store.create(second)
        do {
            _ = try store.find("abcd")
            Issue.record("an ambiguous id was accepted")
        } catch let error as StoreError {
            #expect(error.kind == .ambiguous)
            #expect(error.message.text(.en).contains("abcd0000, abcd1111"))
        }
        #expect(try store.find("abcd1").unitCode == "130102002202")
    }

    @Test func finalizeOnlyDraftsAndEditMakesARevision() throws {
        let (store, _) = try temporaryStore()
        let created = try store.create(survey())
        try store.finalize(created.id!, answers: ["members_total": 10])
        #expect(throws: StoreError.self) { try store.finalize(created.id!, answers: JSONObject()) }
        #expect(throws: StoreError.self) { try store.saveDraft(created.id!, answers: JSONObject(), position: nil) }
        let finalized = try store.find(created.shortID)
        #expect(finalized.status == .finalized)
        #expect(finalized.finalizedAt != nil)

        let revision = try store.edit(finalized)
        #expect(revision.revision == 2)
        #expect(revision.replacesRevision == 1)
        #expect(revision.status == .draft)
        #expect(revision.instanceID == finalized.instanceID)
        #expect(revision.answerObject["members_total"] == 10)
        #expect(try store.find(created.shortID).revision == 2)
        #expect(try store.revisions(of: created.instanceID).map(\.status) == [.finalized, .draft])
        // Editing a draft edits it in place.
        #expect(try store.edit(revision).id == revision.id)
        // The older revision cannot be edited again.
        #expect(throws: StoreError.self) { try store.edit(finalized) }

        // Discarding the new draft brings back the finalized revision; that one stays.
        try store.discard(revision)
        #expect(try store.find(created.shortID).status == .finalized)
        #expect(throws: StoreError.self) { try store.discard(finalized) }
    }

    @Test func listFilters() throws {
        let (store, _) = try temporaryStore()
        let a = try store.create(survey(unit: "130102001203"))
        try store.create(survey(unit: "130102002201"))
        try store.create(survey(unit: "130102001204", period: "2025"))
        try store.create(survey(unit: "130102001001", form: "community-branch"))
        try store.finalize(a.id!, answers: JSONObject())
        #expect(try store.list(SurveyFilter(statuses: [.finalized])).map(\.unitCode) == ["130102001203"])
        #expect(try store.list(SurveyFilter(formID: "community-branch")).count == 1)
        #expect(try Set(store.list(SurveyFilter(unit: UnitCode("130102001000"))).map(\.unitCode)) == ["130102001203", "130102001204", "130102001001"])
        #expect(try store.list(SurveyFilter(unit: UnitCode("130102000000"))).count == 4)
        #expect(try store.list(SurveyFilter(period: "2025")).map(\.unitCode) == ["130102001204"])
        #expect(try store.list(SurveyFilter(statuses: [.draft], formID: "village-branch", unit: UnitCode("130102002000"))).count == 1)
        #expect(try store.list(answers: false).allSatisfy { $0.answers.isEmpty })
    }

    @Test func notADatabaseIsRefusedAndLeftUntouched() throws {
        let directory = try scratchDirectory("store")
        let path = directory.appendingPathComponent(SurveyStore.fileName)
        let garbage = Data("these are field notes, not a database\n".utf8)
        try garbage.write(to: path)
        do {
            _ = try SurveyStore(directory: directory)
            Issue.record("opened a file that is not a database")
        } catch let error as StoreError {
            #expect(error.kind == .notADatabase)
            #expect(error.message.text(.en).contains("left untouched"))
        }
        #expect(try Data(contentsOf: path) == garbage)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [SurveyStore.fileName])
    }

    @Test("a database emptied or removed in a data directory that was used is refused, not made anew; a new directory starts afresh")
    func lostDatabaseIsRefused() throws {
        let (store, directory) = try temporaryStore()
        try store.create(survey())
        let path = directory.appendingPathComponent(SurveyStore.fileName).path
        try Data("{}".utf8).write(to: directory.appendingPathComponent("sync.json"))
        for emptied in [true, false] {
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            if emptied {
                try Data().write(to: URL(fileURLWithPath: path))
            } else {
                try FileManager.default.removeItem(atPath: path)
            }
            do {
                _ = try SurveyStore(directory: directory)
                Issue.record("a lost database was made anew")
            } catch let error as StoreError {
                #expect(error.kind == .notADatabase)
                #expect(error.message.text(.en).contains(emptied ? "is empty although this data directory has been used" : "is missing"))
                #expect(error.message.text(.en).contains("sync.json") && error.message.text(.en).contains("Restore"))
            }
            // Nothing was made in its place.
            #expect(emptied ? (try Data(contentsOf: URL(fileURLWithPath: path))).isEmpty : !FileManager.default.fileExists(atPath: path))
        }
        // A directory that was never used starts afresh, an empty file included.
        let fresh = try scratchDirectory("store")
        try Data().write(to: fresh.appendingPathComponent(SurveyStore.fileName))
        #expect(try SurveyStore(directory: fresh).list(SurveyFilter()).isEmpty)
    }

    @Test func damagedDatabaseIsRefused() throws {
        let (store, directory) = try temporaryStore()
        try store.create(survey())
        let path = directory.appendingPathComponent(SurveyStore.fileName)
        // Keep SQLite's header, destroy the rest of the first page.
        var bytes = try Data(contentsOf: path)
        for index in 16..<min(bytes.count, 4096) { bytes[index] = 0xAB }
        let damaged = directory.appendingPathComponent("copy")
        try FileManager.default.createDirectory(at: damaged, withIntermediateDirectories: true)
        try bytes.write(to: damaged.appendingPathComponent(SurveyStore.fileName))
        #expect(throws: StoreError.self) { try SurveyStore(directory: damaged).list() }
        #expect(try Data(contentsOf: damaged.appendingPathComponent(SurveyStore.fileName)) == bytes)
    }

    @Test func databaseFromAnOlderMigrationIsUpgraded() throws {
        let directory = try scratchDirectory("store")
        let path = directory.appendingPathComponent(SurveyStore.fileName).path
        do {
            let queue = try DatabaseQueue(path: path)
            try SurveyStore.migrator.migrate(queue, upTo: "v1 surveys")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO survey (instance_id, revision, form_id, form_version, unit_code, period, status, answers, created_at, updated_at)
                        VALUES ('0123abcd-0000-4000-8000-000000000000', 1, 'village-branch', '2026.1', '130102001203', '2026', 'finalized', '{"members_total":7}', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000')
                        """)
            }
            #expect(try queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM grdb_migrations") } == 1)
        }
        let store = try SurveyStore(path: path)
        let upgraded = try store.find("0123abcd")
        #expect(upgraded.status == .finalized)
        #expect(upgraded.syncAttempts == 0)
        #expect(upgraded.answerObject["members_total"] == 7)
        #expect(
            try store.database.read { try SurveyStore.migrator.completedMigrations($0) } == [
                "v1 surveys", "v2 sync bookkeeping", "v3 change count", "v4 sync schedule", "v5 reviews", "v6 baselines and confirmations",
            ])
        #expect(upgraded.nextAttemptAt == nil)
    }

    @Test func commitsReachTheDisk() throws {
        let (store, _) = try temporaryStore()
        // FULL is 2: every commit is synced before it returns, so a power cut loses nothing saved.
        #expect(try store.database.write { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
    }

    @Test func aSaveFromAnOlderCopyIsRefused() throws {
        let (store, _) = try temporaryStore()
        let created = try store.create(survey())
        let id = try #require(created.id)
        // Two windows opened the same draft.
        let first = try store.find(created.shortID)
        let second = try store.find(created.shortID)
        let change = try store.saveDraft(id, answers: ["members_total": 40], position: "a", expectedChange: first.changeCount)
        #expect(change == first.changeCount + 1)
        do {
            try store.saveDraft(id, answers: ["members_total": 12], position: "b", expectedChange: second.changeCount)
            Issue.record("an older copy overwrote newer answers")
        } catch let error as StoreError {
            #expect(error.kind == .conflict)
            #expect(error.message.text(.en).contains("changed in another window"))
        }
        #expect(try store.find(created.shortID).answerObject["members_total"] == 40)
        #expect(throws: StoreError.self) { try store.finalize(id, answers: JSONObject(), expectedChange: second.changeCount) }
        try store.finalize(id, answers: ["members_total": 40], expectedChange: change)
        do {
            try store.saveDraft(id, answers: JSONObject(), position: nil, expectedChange: change + 1)
            Issue.record("a finalized survey changed in place")
        } catch let error as StoreError {
            #expect(error.kind == .notAllowed)
            #expect(error.message.text(.en).contains("no longer a draft"))
        }
    }

    @Test func editWithAnswersIsOneStep() throws {
        let (store, _) = try temporaryStore()
        let created = try store.create(survey())
        try store.finalize(created.id!, answers: ["members_total": 1])
        let revised = try store.edit(try store.find(created.shortID), answers: ["members_total": 2], finalize: true)
        #expect(revised.revision == 2)
        #expect(revised.status == .finalized)
        let stored = try store.find(created.shortID)
        #expect(stored.status == .finalized)
        #expect(stored.answerObject["members_total"] == 2)
        #expect(try store.revisions(of: created.instanceID).map(\.status) == [.finalized, .finalized])
    }

    @Test func loosePermissionsAreTightened() throws {
        let (_, directory) = try temporaryStore()
        let path = directory.appendingPathComponent(SurveyStore.fileName).path
        chmod(path, 0o644)
        chmod(directory.path, 0o755)
        _ = try SurveyStore(directory: directory)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int == 0o700)
    }

    @Test func filesAreOwnerOnly() throws {
        let (_, directory) = try temporaryStore()
        let directoryMode = try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int
        let fileMode = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(SurveyStore.fileName).path)[.posixPermissions] as? Int
        #expect(directoryMode == 0o700)
        #expect(fileMode == 0o600)
    }

    @Test func dataDirectoryFollowsTheEnvironment() {
        #expect(SurveyStore.dataDirectory(explicit: "/x", environment: ["VSURVEY_HOME": "/y"]).path == "/x")
        #expect(SurveyStore.dataDirectory(explicit: nil, environment: ["VSURVEY_HOME": "/y", "XDG_DATA_HOME": "/z"]).path == "/y")
        #expect(SurveyStore.dataDirectory(explicit: nil, environment: ["XDG_DATA_HOME": "/z"]).path == "/z/vsurvey")
        #expect(SurveyStore.dataDirectory(explicit: nil, environment: ["HOME": "/home/a"]).path == "/home/a/.local/share/vsurvey")
    }

    @Test func concurrentWritersFromTwoConnections() async throws {
        let (store, directory) = try temporaryStore()
        _ = store
        let path = directory.appendingPathComponent(SurveyStore.fileName).path
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    let own = try SurveyStore(path: path)
                    for number in 0..<100 {
                        try own.create(survey(unit: "1301020\(writer + 1)0\(String(format: "%03d", number + 201))"))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try store.list().count == 200)
    }
}
