import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `vsurvey-server` binary.
func serverBinary() throws -> URL { try Binaries.url("vsurvey-server") }

/// Runs a `vsurvey-server` command to its end.
func runServerCommand(_ arguments: [String], in directory: URL) async throws -> CommandRun {
    try await offPool { try runServerCommandBlocking(arguments, in: directory) }
}

func runServerCommandBlocking(_ arguments: [String], in directory: URL) throws -> CommandRun {
    try CommandRun.run(try serverBinary(), arguments, in: directory)
}

/// `vsurvey-server serve` as its own process, with its log lines collected.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private(set) var port = 0
    private let lock = NSLock()
    private var logLines: [String] = []

    /// Starts the server and waits (off the concurrency threads) for its port.
    static func start(
        directory: URL, db: String = "server.sqlite", forms: URL = Fixtures.formsDirectory, arguments: [String] = []
    ) async throws -> ServerProcess {
        try await offPool { try ServerProcess(directory: directory, db: db, forms: forms, arguments: arguments) }
    }

    private init(directory: URL, db: String, forms: URL, arguments: [String]) throws {
        process.executableURL = try serverBinary()
        process.arguments = ["serve", "--db", db, "--forms", forms.path, "--port", "0"] + arguments
        process.currentDirectoryURL = directory
        process.environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "VSURVEY_DB_WAIT": "90"]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let firstLine = String(decoding: Self.readLine(out.fileHandleForReading), as: UTF8.self)
        guard let port = firstLine.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "no port in '\(firstLine)'"])
        }
        self.port = port
        let handle = err.fileHandleForReading
        Thread {
            while true {
                let line = Self.readLine(handle)
                if line.isEmpty { return }
                self.lock.withLock { self.logLines.append(String(decoding: line, as: UTF8.self)) }
            }
        }.start()
    }

    /// One line, read a byte at a time with `read(2)` (retrying on EINTR) so
    /// that nothing after it is taken from the pipe; empty at end of file.
    static func readLine(_ handle: FileHandle) -> [UInt8] {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(handle.fileDescriptor, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { return line }
            if byte == 10 { return line.isEmpty ? [32] : line }
            line.append(byte)
        }
    }

    var log: [String] { lock.withLock { logLines } }

    /// Waits until a log line contains `text`.
    func waitForLog(_ text: String, timeout: Double = 180) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(where: { $0.contains(text) }) { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return false
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// SIGTERM and a short wait, for `defer` blocks.
    func stop() {
        signal(SIGTERM)
        process.waitUntilExit()
    }

    func wait() async -> Int32 {
        let process = self.process
        return
            (try? await offPool {
                process.waitUntilExit()
                return process.terminationStatus
            }) ?? -1
    }
}

func scratch() throws -> URL { try scratchDirectory("server-proc") }

/// The `--db` of a process test: an SQLite file in its directory, or a
/// fresh PostgreSQL database.
func processDatabase(_ database: TestDatabase) async throws -> String {
    switch database {
    case .sqlite: return "server.sqlite"
    case .postgres:
        return try await TestDatabase.withNewPostgresDatabase { $0 }
    }
}

/// Opens what a process test's server wrote.
func openStorage(_ db: String, in directory: URL) async throws -> any ServerStorage {
    db.hasPrefix("postgres://")
        ? try await TestDatabase.openPostgres(db, connections: 1) : try SQLiteServerStorage(path: directory.appendingPathComponent(db).path)
}

func createToken(_ role: String, in directory: URL, unit: String = "130102000000", db: String = "server.sqlite") async throws -> String {
    // A token is made on a database in use, with a registry: import the sample county's first.
    if !db.hasPrefix("postgres://"), !FileManager.default.fileExists(atPath: directory.appendingPathComponent(db).path) {
        let imported = try await runServerCommand(
            ["units", "import", Fixtures.formsDirectory.appendingPathComponent("units/sample-county.csv").path, "--db", db], in: directory)
        guard imported.status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: imported.stderr]) }
    }
    let arguments = ["token", "create", "--db", db, "--name", "\(role)-\(UUID().uuidString.prefix(8))", "--role", role, "--unit", unit, "--lang", "en"]
    var run = try await runServerCommand(arguments, in: directory)
    if run.status != 0, run.stderr.contains("has no unit registry yet") {
        // A new PostgreSQL database: the registry first, as serve would import it.
        _ = try await runServerCommand(
            ["units", "import", Fixtures.formsDirectory.appendingPathComponent("units/sample-county.csv").path, "--db", db], in: directory)
        run = try await runServerCommand(arguments, in: directory)
    }
    guard run.status == 0, let secret = run.stdout.split(separator: "\n").last.map(String.init), secret.hasPrefix(TokenSecret.prefix) else {
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: run.stderr])
    }
    return secret
}

@Suite("vsurvey-server as a process", .serialized)
struct ProcessTests {
    @Test("a token sent in a query string never reaches the server's log")
    func secretsStayOutOfTheLog() async throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServerProcess.start(directory: directory)
        defer { server.stop() }
        let secret = "vst_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        _ = try await HTTPTestClient.send(port: server.port, "GET", "/api/v1/units?token=\(secret)&lang=en")
        #expect(await server.waitForLog("token=REDACTED&lang=en", timeout: 10), "\(server.log)")
        #expect(!server.log.contains { $0.contains(secret) })
    }

    @Test("SIGKILL during a large batch leaves it wholly stored or wholly absent; a resend completes it", arguments: TestDatabase.all)
    func killDuringBatch(database: TestDatabase) async throws {
        let directory = try scratch()
        let db = try await processDatabase(database)
        try await withCleanup({
            try? FileManager.default.removeItem(at: directory)
            if database == .postgres { await TestDatabase.dropDatabase(at: db) }
        }) {
            // The registry: the forms directory's, imported at the first start.
            let first = try await ServerProcess.start(directory: directory, db: db)
            first.signal(SIGTERM)
            _ = await first.wait()
            let token = try await createToken("admin", in: directory, db: db)
            var maker = SurveyMaker(seed: 40)
            // Two surveys per village and period make some of them held, so the
            // batch writes conflicts as well as surveys.
            let surveys = (0..<2000).map { maker.survey(village: $0, period: String(2000 + $0 / 250)) }
            let body = Gzip.compress(Array(batch(surveys).utf8))
            let headers = [("Authorization", "Bearer \(token)"), ("Content-Encoding", "gzip")]
            for round in 0..<2 {
                let server = try await ServerProcess.start(directory: directory, db: db, arguments: ["--max-batch", "5000", "--log-level", "debug"])
                let port = server.port
                let sending = Task.detached { try? await HTTPTestClient.send(port: port, "POST", "/api/v1/surveys", headers: headers, body: body) }
                #expect(await server.waitForLog("batch checked; writing"), "round \(round): the batch never reached the store")
                server.signal(SIGKILL)
                _ = await server.wait()
                _ = await sending.value
                let storage = try await openStorage(db, in: directory)
                let stored = try await storage.counts().revisions
                (storage as? PostgresServerStorage)?.close()
                #expect(stored == 0 || stored == surveys.count, "round \(round): \(stored) of \(surveys.count) surveys stored")
            }
            let server = try await ServerProcess.start(directory: directory, db: db, arguments: ["--max-batch", "5000"])
            let reply = try await HTTPTestClient.send(port: server.port, "POST", "/api/v1/surveys", headers: headers, body: body)
            #expect(reply.status == 200)
            let summary = try reply.json()["summary"]
            let accepted = ["created", "held", "duplicate"].compactMap { summary?[$0]?.int }.reduce(0, +)
            #expect(accepted == surveys.count)
            server.signal(SIGTERM)
            #expect(await server.wait() == 0)
            let storage = try await openStorage(db, in: directory)
            #expect(try await storage.counts().revisions == surveys.count)
            (storage as? PostgresServerStorage)?.close()
        }
    }

    @Test("SIGTERM lets the request in flight finish, then the server exits cleanly", arguments: TestDatabase.all)
    func gracefulShutdown(database: TestDatabase) async throws {
        let directory = try scratch()
        let db = try await processDatabase(database)
        try await withCleanup({
            try? FileManager.default.removeItem(at: directory)
            if database == .postgres { await TestDatabase.dropDatabase(at: db) }
        }) {
            let token = try await createToken("collector", in: directory, db: db)
            let server = try await ServerProcess.start(directory: directory, db: db, arguments: ["--max-batch", "5000", "--log-level", "debug"])
            var maker = SurveyMaker(seed: 41)
            let surveys = (0..<2000).map { maker.survey(village: $0, period: String(2000 + $0 / 250)) }
            let body = Array(batch(surveys).utf8)
            let port = server.port
            let sending = Task.detached {
                try await HTTPTestClient.send(port: port, "POST", "/api/v1/surveys", headers: [("Authorization", "Bearer \(token)")], body: body)
            }
            #expect(await server.waitForLog("batch checked; writing"))
            server.signal(SIGTERM)
            let reply = try await sending.value
            #expect(reply.status == 200)
            #expect(try reply.json().at("summary", "total")?.int == surveys.count)
            #expect(await server.wait() == 0)
            #expect(server.log.contains { $0.contains("stopped") })
            #expect((try? HTTPConnection(port: port)) == nil, "the port still accepts connections")
        }
    }

    @Test("token create, list and revoke; the secret is printed once and stored hashed in an owner-only file")
    func tokenCommands() async throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        // No database yet (or a mistyped path): refused, and nothing made.
        let mistyped = try await runServerCommand(
            ["token", "create", "--db", "server.sqlite", "--name", "east", "--role", "collector", "--unit", "130102001000", "--lang", "en"],
            in: directory)
        #expect(mistyped.status != 0 && mistyped.stderr.contains("there is no database") && mistyped.stderr.contains("mistyped"), "\(mistyped.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("server.sqlite").path))
        let imported = try await runServerCommand(
            ["units", "import", Fixtures.formsDirectory.appendingPathComponent("units/sample-county.csv").path, "--db", "server.sqlite"], in: directory)
        #expect(imported.status == 0)
        // A unit that is not in the registry is refused.
        let unknown = try await runServerCommand(
            ["token", "create", "--db", "server.sqlite", "--name", "east", "--role", "collector", "--unit", "130102999000", "--lang", "en"],
            in: directory)
        #expect(unknown.status != 0 && unknown.stderr.contains("130102999000 is not in the registry"), "\(unknown.stderr)")
        let created = try await runServerCommand(
            ["token", "create", "--db", "server.sqlite", "--name", "east", "--role", "collector", "--unit", "130102001000", "--lang", "en"],
            in: directory)
        #expect(created.status == 0)
        let secret = try #require(created.stdout.split(separator: "\n").last.map(String.init))
        #expect(secret.hasPrefix("vst_") && secret.count > 40)
        let path = directory.appendingPathComponent("server.sqlite").path
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o077 } == 0)
        #expect(!(try String(contentsOfFile: path, encoding: .isoLatin1)).contains(secret))

        let duplicate = try await runServerCommand(
            ["token", "create", "--db", "server.sqlite", "--name", "east", "--role", "viewer", "--unit", "130102001000", "--lang", "en"], in: directory)
        #expect(duplicate.status != 0)
        #expect(duplicate.stderr.contains("already exists"))
        let badRole = try await runServerCommand(
            ["token", "create", "--db", "server.sqlite", "--name", "x", "--role", "boss", "--unit", "130102001000"], in: directory)
        #expect(badRole.status != 0 && badRole.stderr.contains("--role"))

        let listed = try await runServerCommand(["token", "list", "--db", "server.sqlite", "--lang", "en"], in: directory)
        #expect(listed.stdout.contains("east") && listed.stdout.contains("active") && !listed.stdout.contains(secret))
        let server = try await ServerProcess.start(directory: directory)
        let before = try await HTTPTestClient.send(port: server.port, "GET", "/api/v1/units", headers: [("Authorization", "Bearer \(secret)")])
        #expect(before.status == 200)
        let revoked = try await runServerCommand(["token", "revoke", "east", "--db", "server.sqlite", "--lang", "en"], in: directory)
        #expect(revoked.status == 0 && revoked.stdout.contains("revoked"))
        let after = try await HTTPTestClient.send(port: server.port, "GET", "/api/v1/units", headers: [("Authorization", "Bearer \(secret)")])
        #expect(after.status == 401)
        server.signal(SIGTERM)
        _ = await server.wait()
        #expect(try await runServerCommand(["token", "list", "--db", "server.sqlite", "--lang", "en"], in: directory).stdout.contains("revoked"))
        #expect(try await runServerCommand(["token", "revoke", "nobody", "--db", "server.sqlite"], in: directory).status != 0)
    }

    @Test("units import reports every bad row by line and changes nothing; a good file replaces the registry")
    func unitsImport() async throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = Fixtures.formsDirectory.appendingPathComponent("units/sample-county.csv").path
        let imported = try await runServerCommand(["units", "import", good, "--db", "server.sqlite", "--lang", "en"], in: directory)
        #expect(imported.status == 0)
        #expect(imported.stdout.contains("imported \(LiveServer.registry.units.count) units"))
        let bad = directory.appendingPathComponent("bad.csv")
        try "code,name,level,parent\n130102000000,某县,county,\n13010200100X,坏,township,130102000000\n130102001000,乡,village,130102000000\n".write(
            to: bad, atomically: true, encoding: .utf8)
        let refused = try await runServerCommand(["units", "import", bad.path, "--db", "server.sqlite", "--lang", "en"], in: directory)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("bad.csv:3"))
        #expect(refused.stderr.contains("nothing was imported"))
        let storage = try SQLiteServerStorage(path: directory.appendingPathComponent("server.sqlite").path)
        #expect(try await storage.units().count == LiveServer.registry.units.count)
        let missing = try await runServerCommand(["units", "import", "nope.csv", "--db", "server.sqlite"], in: directory)
        #expect(missing.status != 0)
    }

    @Test("forms list shows each form version with its hash; a database that is not SQLite is refused untouched")
    func formsAndBadDatabase() async throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let listed = try await runServerCommand(["forms", "list", "--forms", Fixtures.formsDirectory.path, "--lang", "en"], in: directory)
        #expect(listed.status == 0)
        for published in PublishedForm.all(in: LiveServer.catalog) {
            #expect(listed.stdout.contains("\(published.form.id)@\(published.form.version)"))
            #expect(listed.stdout.contains(String(published.hash.prefix(16))))
        }
        let notADatabase = directory.appendingPathComponent("server.sqlite")
        try "name,value\n".write(to: notADatabase, atomically: true, encoding: .utf8)
        let refused = try await runServerCommand(["token", "list", "--db", "server.sqlite", "--lang", "en"], in: directory)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("not an SQLite database"))
        #expect(try String(contentsOf: notADatabase, encoding: .utf8) == "name,value\n")
    }
}
