import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SurveyCore
import SurveyFixtures
import SurveySQL
import Testing

@testable import SurveyServer

/// The databases the server's suites run on: SQLite always, PostgreSQL
/// when `VSURVEY_TEST_POSTGRES` names a server (`.ci/run` starts one with
/// `scripts/postgres.sh`; `VSURVEY_TEST_REQUIRE_POSTGRES=1` makes its
/// absence a failure rather than a smaller run).
enum TestDatabase: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static let postgresURL = ProcessInfo.processInfo.environment["VSURVEY_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    static let all: [TestDatabase] = [.sqlite] + (postgresURL == nil ? [] : [.postgres])

    var testDescription: String { rawValue }

    /// A fresh, empty store: a new SQLite file in `directory`, or a new
    /// PostgreSQL database (dropped by `drop`).
    func makeStorage(in directory: URL) async throws -> any ServerStorage {
        switch self {
        case .sqlite:
            return try SQLiteServerStorage(path: directory.appendingPathComponent("server.sqlite").path)
        case .postgres:
            // A few at a time, with time to spare: a new database is a copy of
            // the template through the WAL, and the whole suite makes dozens
            // while every other suite runs.
            return try await Self.withNewPostgresDatabase { url in try await Self.openPostgres(url, connections: 4) }
        }
    }

    static let creating = Gate(4)

    /// Makes a fresh PostgreSQL database and runs `body` with its address,
    /// a few at a time: a new database is a copy of the template through
    /// the WAL, and the whole suite makes dozens while every other suite
    /// runs, so what `body` opens is opened before the next one is made.
    static func withNewPostgresDatabase<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        await creating.enter()
        do {
            let name = "vst_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            let value = try await body(PostgresServerStorage.createDatabase(named: String(name), at: postgresURL!))
            await creating.leave()
            return value
        } catch {
            await creating.leave()
            throw error
        }
    }

    /// Opens a test's PostgreSQL database, with time to spare for a
    /// machine busy with the rest of the suite.
    static func openPostgres(_ url: String, connections: Int) async throws -> PostgresServerStorage {
        try await PostgresServerStorage(url: url, connections: connections, openTimeout: .seconds(90))
    }

    /// Drops a PostgreSQL store's database.
    static func drop(_ storage: any ServerStorage) async {
        guard let storage = storage as? PostgresServerStorage else { return }
        storage.close()
        await dropDatabase(at: storage.location)
    }

    /// Drops a test database by its address.
    static func dropDatabase(at location: String) async {
        let name = String(location.split(separator: "/").last ?? "")
        guard name.hasPrefix("vst_"), let url = postgresURL else { return }
        try? await PostgresServerStorage.dropDatabase(named: name, at: url)
    }
}

/// A real server on a loopback port, in this process, over a fresh
/// database; stopped with `stop()`.
final class LiveServer: Sendable {
    let directory: URL
    let storage: any ServerStorage
    let database: TestDatabase
    let service: SurveyService
    let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    static let catalog = Fixtures.catalog()
    static let county = UnitCode("130102000000")!
    static let registry = catalog.registry!
    static let villages = registry.units(under: county, level: .village).map(\.code)
    static let form = catalog.form("village-branch")!

    private init(
        directory: URL, storage: any ServerStorage, database: TestDatabase, service: SurveyService, port: Int, task: Task<Void, any Error>,
        group: ServiceGroup
    ) {
        self.group = group
        self.database = database
        self.directory = directory
        self.storage = storage
        self.service = service
        self.port = port
        self.task = task
    }

    static func start(_ database: TestDatabase = .sqlite, limits: ServerLimits = ServerLimits(), catalog: FormCatalog = LiveServer.catalog) async throws
        -> LiveServer
    {
        let directory = try scratchDirectory("server-test")
        let storage = try await database.makeStorage(in: directory)
        var logger = Logger(label: "test-server")
        logger.logLevel = .warning
        // What `vsurvey-server serve` does at start: the forms directory's
        // registry imported, the report tables made, the registry read.
        let service = try await SurveyService.start(storage: storage, catalog: catalog, limits: limits, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = ServerApplication.application(service: service, host: "127.0.0.1", port: 0, logger: logger) { port in
            continuation.yield(port)
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return LiveServer(directory: directory, storage: storage, database: database, service: service, port: port, task: task, group: group)
    }

    /// Runs `body` with a server started for it, and stops the server
    /// (awaited) whether `body` returns or throws.
    static func with<T>(
        _ database: TestDatabase = .sqlite, limits: ServerLimits = ServerLimits(), catalog: FormCatalog = LiveServer.catalog,
        _ body: (LiveServer) async throws -> T
    ) async throws -> T {
        let server = try await start(database, limits: limits, catalog: catalog)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Stops as SIGTERM would: requests in flight finish first.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
        await TestDatabase.drop(storage)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Every stored token row as text, to check what is kept of a secret.
    func tokenRows() async throws -> String {
        try await storage.sql.read { session in
            try session.all("SELECT * FROM token").map { row in row.values.map { "\($0)" }.joined(separator: " ") }.joined(separator: "\n")
        }
    }

    /// Creates a token and returns its secret.
    func token(_ role: Role, unit: String = "130102000000", name: String = UUID().uuidString) async throws -> String {
        let secret = TokenSecret.generate()
        _ = try await storage.createToken(name: name, role: role, unit: UnitCode(unit)!, hash: TokenSecret.hash(secret))
        return secret
    }

    func send(
        _ method: String, _ path: String, token: String? = nil, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) async throws -> HTTPReply {
        var all = headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        if !all.contains(where: { $0.0 == "Accept-Language" }) { all.append(("Accept-Language", "en")) }
        return try await HTTPTestClient.send(port: port, method, path, headers: all, body: body)
    }

    /// Posts a batch and returns the reply's JSON.
    func post(_ surveys: [WireSurvey], token: String) async throws -> (status: Int, json: JSONValue) {
        let reply = try await send("POST", "/api/v1/surveys", token: token, body: Array(batch(surveys).utf8))
        return (reply.status, try reply.json())
    }
}

func batch(_ surveys: [WireSurvey]) -> String {
    JSONValue.object(["surveys": .array(surveys.map(\.json))]).serialized()
}

/// Generated, valid village-branch surveys for the sample county.
struct SurveyMaker {
    var generator: VillageBranchGenerator

    init(seed: UInt64) { generator = VillageBranchGenerator(seed: seed) }

    mutating func survey(village: Int, period: String = "2026", revision: Int = 1, id: String = UUID().uuidString.lowercased()) -> WireSurvey {
        WireSurvey(
            instanceID: id, revision: revision, replaces: revision > 1 ? revision - 1 : nil, formID: "village-branch",
            formVersion: LiveServer.form.version, unit: LiveServer.villages[village % LiveServer.villages.count].rawValue, period: period,
            answers: generator.next())
    }
}

extension JSONValue {
    /// `reply.at("results", 0, "outcome")`
    func at(_ path: Any...) -> JSONValue? {
        var value: JSONValue? = self
        for step in path {
            if let key = step as? String {
                value = value?[key]
            } else if let index = step as? Int, case .array(let array)? = value, index < array.count {
                value = array[index]
            } else {
                return nil
            }
        }
        return value
    }

    var outcomes: [String] { self["results"]?.arrayValue?.compactMap { $0["outcome"]?.stringValue } ?? [] }
    var int: Int? { if case .integer(let value) = self { return value } else { return nil } }
}

@Suite("Test databases")
struct TestDatabaseTests {
    @Test("where PostgreSQL is required (CI), the server's suites run on it as well as on SQLite")
    func postgresWhenRequired() {
        if ProcessInfo.processInfo.environment["VSURVEY_TEST_REQUIRE_POSTGRES"] == "1" {
            #expect(TestDatabase.all == [.sqlite, .postgres], "VSURVEY_TEST_POSTGRES is not set")
        }
    }
}

/// Runs `body`, then `cleanup`, awaited, whether `body` returned or threw:
/// a teardown that finishes before the test does.
func withCleanup<T>(_ cleanup: () async -> Void, _ body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        await cleanup()
        return result
    } catch {
        await cleanup()
        throw error
    }
}

/// At most `count` holders at once; the others wait their turn.
actor Gate {
    private var available: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = count }

    func enter() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func leave() {
        if waiting.isEmpty {
            available += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

extension HTTPReply {
    /// A report's JSON without its data-quality section, to compare with
    /// the reference evaluator's report (which has none): the section is
    /// tested on its own (`QualityReportTests`).
    func reportJSON() throws -> JSONValue {
        guard case .object(var object) = try json() else { return try json() }
        object["quality"] = nil
        return .object(object)
    }
}
