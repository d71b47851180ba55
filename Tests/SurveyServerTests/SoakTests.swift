import Foundation
import SurveyCore
import SurveyFixtures
import SurveyHTTP
import SurveyReport
import SurveyServer
import SurveyStore
import SurveySync
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The soak and fault test: two `vsurvey-server` processes on one
/// PostgreSQL database of a private PostgreSQL server, and fifty devices,
/// each a real `vsurvey` database synced by `SyncEngine` (the code
/// `vsurvey sync` runs), creating and editing surveys for
/// `VSURVEY_SOAK_SECONDS` (40 by default; CI runs that short form). Meanwhile
/// one server is killed with SIGKILL and started again, PostgreSQL is
/// restarted, and then the other server is killed and started again. Some
/// villages get a rival survey from a second device on purpose.
///
/// At the end, every finalized revision must be on the server exactly once,
/// each survey at its latest revision with the device's answers; the held
/// conflicts must be exactly the rivals made; and the county report must
/// equal the reference evaluator's over the devices' own surveys.
@Suite("Soak: fifty devices, two servers, kills and a PostgreSQL restart", .enabled(if: TestDatabase.postgresURL != nil))
struct SoakTests {
    static let devices = 50
    static let periods = (2015...2026).map(String.init)
    static let seconds = ProcessInfo.processInfo.environment["VSURVEY_SOAK_SECONDS"].flatMap(Double.init) ?? 40

    @Test("every finalized survey on the server exactly once at its latest revision, the rivals held, the report equal to the reference")
    func soak() async throws {
        let directory = try scratch()
        let postgres = try await PrivatePostgres.start()
        defer {
            postgres.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        let database = try await PostgresServerStorage.createDatabase(named: "soak", at: postgres.url)
        let servers = ServerSet()
        // Fifty devices share one token here (in the field each has its
        // own), so the per-token limit of batches in flight is lifted.
        let serverArguments = ["--connections", "4", "--log-level", "warning", "--max-ingest-per-token", "1000"]
        // The first start migrates and imports the registry.
        try await servers.set(0, ServerProcess.start(directory: directory, db: database, arguments: serverArguments))
        try await servers.set(1, ServerProcess.start(directory: directory, db: database, arguments: serverArguments))
        defer { servers.stopAll() }
        let collector = try await createToken("collector", in: directory, db: database)
        let viewer = try await createToken("viewer", in: directory, db: database)

        // Slots are (village, period); each device owns every fiftieth one.
        // A rival is a slot that a second device fills too.
        let villages = LiveServer.villages.map(\.rawValue)
        let slotCount = villages.count * Self.periods.count
        let rivalCount = max(4, Int(Self.seconds / 4))
        let rivals: [(slot: Int, intruder: Int)] = (0..<rivalCount).map { number in
            let slot = (number * 7 % villages.count) * Self.periods.count + (number % 2 == 0 ? Self.periods.count - 1 : Self.periods.count - 2)
            return (slot, (slot % Self.devices + 1 + number % (Self.devices - 1)) % Self.devices)
        }
        let rivalSlots = Set(rivals.map(\.slot))
        let devices = try (0..<Self.devices).map { number in
            let owned = stride(from: number, to: slotCount, by: Self.devices).map { $0 }
            var random = SeededGenerator(seed: UInt64(1000 + number))
            // The owner fills its rival slots first, so that every rival
            // meets a survey on the server or on its way there.
            let order = owned.filter(rivalSlots.contains) + owned.filter { !rivalSlots.contains($0) }.shuffled(using: &random)
            return try SoakDevice(
                number: number, directory: directory.appendingPathComponent("device-\(number)"), slots: order,
                intrusions: rivals.filter { $0.intruder == number }.map(\.slot), rivalSlots: rivalSlots, villages: villages, token: collector)
        }

        // Devices work until the deadline while the faults happen.
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = Date().addingTimeInterval(Self.seconds)
        let working = Task.detached {
            try await offPool {
                let group = DispatchGroup()
                for device in devices {
                    group.enter()
                    Thread {
                        device.work(until: deadline, servers: servers)
                        group.leave()
                    }.start()
                }
                group.wait()
            }
        }
        var faults: [String] = []
        func pause(until share: Double) async throws {
            let at = started + .milliseconds(Int(Self.seconds * share * 1000))
            if clock.now < at { try await Task.sleep(until: at, clock: clock) }
        }
        for (share, fault) in [(0.25, "kill 0"), (0.5, "postgres"), (0.75, "kill 1")] {
            try await pause(until: share)
            if fault == "postgres" {
                try await postgres.restart()
                faults.append("PostgreSQL restarted")
            } else {
                let index = fault == "kill 0" ? 0 : 1
                let victim = try #require(servers.take(index))
                victim.signal(SIGKILL)
                _ = await victim.wait()
                try await Task.sleep(for: .seconds(1))
                try await servers.set(index, ServerProcess.start(directory: directory, db: database, arguments: serverArguments))
                faults.append("server \(index) killed with SIGKILL and started again")
            }
        }
        try await working.value

        // Then every device syncs until nothing is left to send.
        let settled = try await offPool {
            devices.allSatisfy { device in
                device.finishRivals()
                return device.syncUntilDone(servers: servers, within: 120)
            }
        }
        #expect(settled, "some devices could not send everything")
        let errors = devices.flatMap(\.errors)
        #expect(errors.isEmpty, "\(errors.prefix(5))")
        let duration = Double((clock.now - started).components.seconds)

        // The server's view.
        let storage = try await PostgresServerStorage(url: database, connections: 2)
        defer { storage.close() }
        let counts = try await storage.counts()
        let totals = devices.map(\.tally).reduce(SoakDevice.Tally()) { $0 + $1 }
        let local = try devices.flatMap { try $0.surveys() }
        let revisions = local.reduce(0) { $0 + $1.revisions.count }
        print(
            """
            soak: \(Self.devices) devices, 2 servers, \(Int(Self.seconds)) s of work, \(Int(duration)) s in all
            soak: \(totals.created) surveys created (\(totals.rivals) of them rivals), \(totals.edits) edits, \(revisions) revisions
            soak: \(totals.syncs) syncs, \(totals.failedSyncs) failed; \(totals.sent) revisions accepted, \(totals.duplicates) answered duplicate, \(totals.held) held
            soak: faults: \(faults.joined(separator: "; "))
            soak: server: \(counts.instances) surveys, \(counts.revisions) revisions, \(counts.current) current, \(counts.held) held, \(counts.openConflicts) open conflicts
            """)
        #expect(faults.count == 3)
        #expect(totals.failedSyncs > 0, "the faults never reached a device")
        #expect(counts.instances == local.count)
        #expect(counts.revisions == revisions, "revisions on the server differ from the devices'")
        #expect(counts.held == rivals.count && counts.openConflicts == rivals.count)
        #expect(counts.current == local.count - rivals.count)

        // Each survey at its latest revision, with the device's answers, and
        // every revision once.
        var wrong: [String] = []
        for survey in local {
            let stored = try await storage.revisions(of: survey.instanceID)
            if stored.map(\.revision) != survey.revisions.map(\.revision) {
                wrong.append("\(survey.instanceID): revisions \(stored.map(\.revision)) on the server, \(survey.revisions.map(\.revision)) on the device")
            } else if let last = stored.last,
                // What last year's survey contributes is the server's to work out: a device that
                // held no baseline when it finalized leaves it out (`Form.baselineDependent`).
                try Self.withoutBaseline(JSONParser().parse(last.answers)) != Self.withoutBaseline(JSONParser().parse(survey.latest.answers))
            {
                wrong.append("\(survey.instanceID): the server's answers differ from the device's")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) surveys differ, e.g. \(wrong.prefix(3))")

        // The conflicts are the rivals, each between the two devices' surveys;
        // the device holds the one the server holds.
        let conflicts = try await storage.conflicts(under: LiveServer.county, includeResolved: false)
        let expectedSlots = Set(rivals.map { Self.describe($0.slot, villages: villages) })
        #expect(Set(conflicts.map { "\($0.unit) \($0.period)" }) == expectedSlots)
        let heldOnDevices = Set(local.filter { $0.latest.status == .held }.map(\.instanceID))
        #expect(Set(conflicts.map(\.heldInstance)) == heldOnDevices, "the devices' held surveys are not the server's")
        let bySlot = Dictionary(grouping: local, by: { "\($0.latest.unitCode) \($0.latest.period)" })
        for conflict in conflicts {
            let pair = Set((bySlot["\(conflict.unit) \(conflict.period)"] ?? []).map(\.instanceID))
            #expect(pair == Set([conflict.heldInstance] + (conflict.currentInstance.map { [$0] } ?? [])))
        }
        #expect(local.allSatisfy { $0.latest.status == .sent || $0.latest.status == .held })

        // The county report from the server equals the reference over the
        // devices' own current surveys.
        let current = local.filter { $0.latest.status == .sent }.map { survey in
            WireSurvey(
                instanceID: survey.instanceID, revision: survey.latest.revision, formID: survey.latest.formID,
                formVersion: survey.latest.formVersion, unit: survey.latest.unitCode, period: survey.latest.period,
                answers: (try? JSONParser().parse(survey.latest.answers).objectValue) ?? [:])
        }
        let port = try #require(servers.port())
        let reply = try await HTTPTestClient.send(
            port: port, "GET", "/api/v1/reports/village-branch?period=2026", headers: [("Authorization", "Bearer \(viewer)"), ("Accept-Language", "en")])
        #expect(reply.status == 200)
        let expected = try ReportAPITests.expected(current, scope: LiveServer.county.rawValue).json(.en)
        let differences = Self.differences(try reply.reportJSON(), expected)
        #expect(differences.isEmpty, "the server's report differs from the reference: \(differences.prefix(5))")
        // Both servers, one of them started before the PostgreSQL restart,
        // still stop cleanly on SIGTERM.
        #expect(try await offPool { servers.stopAll() }, "a server did not exit cleanly within 30 s of SIGTERM")
    }

    /// Where two JSON values differ, as paths with both sides.
    static func withoutBaseline(_ answers: JSONValue) -> JSONValue {
        .object(LiveServer.form.withoutBaselineDependent(answers.objectValue ?? JSONObject()))
    }

    static func differences(_ a: JSONValue, _ b: JSONValue, at path: String = "") -> [String] {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            return Set(x.keys).union(y.keys).sorted().flatMap { key in
                differences(x[key] ?? .null, y[key] ?? .null, at: path + "." + key)
            }
        case (.array(let x), .array(let y)) where x.count == y.count:
            return zip(x, y).enumerated().flatMap { differences($1.0, $1.1, at: path + "[\($0)]") }
        default:
            return a == b ? [] : ["\(path): \(a.serialized()) against \(b.serialized())"]
        }
    }

    static func describe(_ slot: Int, villages: [String]) -> String {
        "\(villages[slot / periods.count]) \(periods[slot % periods.count])"
    }
}

/// The two server processes; a killed one is absent until started again.
final class ServerSet: @unchecked Sendable {
    private let lock = NSLock()
    private var servers: [ServerProcess?] = [nil, nil]

    func set(_ index: Int, _ server: ServerProcess) { lock.withLock { servers[index] = server } }

    /// Removes a server from the set, so that devices stop choosing it.
    func take(_ index: Int) -> ServerProcess? {
        lock.withLock {
            defer { servers[index] = nil }
            return servers[index]
        }
    }

    /// A running server's port, at random.
    func port() -> Int? { lock.withLock { servers.compactMap { $0?.port }.randomElement() } }

    /// SIGTERM to each server; true when all exited cleanly within
    /// `seconds`. One that did not is killed.
    @discardableResult
    func stopAll(within seconds: Double = 30) -> Bool {
        var clean = true
        for server in lock.withLock({ servers.compactMap { $0 } }) {
            server.signal(SIGTERM)
            let deadline = Date().addingTimeInterval(seconds)
            while server.process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if server.process.isRunning {
                server.signal(SIGKILL)
                server.process.waitUntilExit()
                clean = false
            } else {
                clean = clean && server.process.terminationStatus == 0
            }
        }
        lock.withLock { servers = [nil, nil] }
        return clean
    }
}

/// One field device: its own `vsurvey` database, the slots it fills in
/// order, and the rival surveys it will make.
final class SoakDevice: @unchecked Sendable {
    struct Tally: Sendable {
        var created = 0
        var rivals = 0
        var edits = 0
        var syncs = 0
        var failedSyncs = 0
        var sent = 0
        var duplicates = 0
        var held = 0

        static func + (a: Tally, b: Tally) -> Tally {
            Tally(
                created: a.created + b.created, rivals: a.rivals + b.rivals, edits: a.edits + b.edits, syncs: a.syncs + b.syncs,
                failedSyncs: a.failedSyncs + b.failedSyncs, sent: a.sent + b.sent, duplicates: a.duplicates + b.duplicates, held: a.held + b.held)
        }
    }

    struct Survey {
        var instanceID: String
        var revisions: [StoredSurvey]
        var latest: StoredSurvey { revisions.last! }
    }

    let number: Int
    let store: SurveyStore
    let token: String
    let villages: [String]
    let rivalSlots: Set<Int>
    private var slots: [Int]
    private var intrusions: [Int]
    private var editable: [String] = []
    private var latest: [String: StoredSurvey] = [:]
    private var random: SeededGenerator
    private var answers: VillageBranchGenerator
    private(set) var tally = Tally()
    /// What went wrong on this device's thread, for the test to report.
    private(set) var errors: [String] = []

    init(number: Int, directory: URL, slots: [Int], intrusions: [Int], rivalSlots: Set<Int>, villages: [String], token: String) throws {
        self.number = number
        store = try SurveyStore(directory: directory)
        self.slots = slots
        self.intrusions = intrusions
        self.rivalSlots = rivalSlots
        self.villages = villages
        self.token = token
        random = SeededGenerator(seed: UInt64(5000 + number))
        answers = VillageBranchGenerator(seed: UInt64(9000 + number))
    }

    /// Creates, edits and syncs, a few actions a second, until `deadline`.
    func work(until deadline: Date, servers: ServerSet) {
        let form = LiveServer.form
        var actions = 0
        while Date() < deadline {
            Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.6, using: &random))
            actions += 1
            let roll = Double.random(in: 0..<1, using: &random)
            do {
                if !intrusions.isEmpty, roll < 0.08 {
                    try create(intrusions.removeFirst(), form: form)
                    tally.rivals += 1
                } else if !slots.isEmpty, roll < 0.6 || editable.isEmpty {
                    let slot = slots.removeFirst()
                    let instance = try create(slot, form: form)
                    // Rivals are never edited: which of the two is held
                    // stays as the first arrival left it.
                    if !rivalSlots.contains(slot) { editable.append(instance) }
                } else if let instance = editable.randomElement(using: &random), let survey = latest[instance] {
                    let next = try store.edit(survey, answers: form.validate(answers.next(), today: Fixtures.sampleToday).answers, finalize: true)
                    latest[instance] = next
                    tally.edits += 1
                }
            } catch {
                errors.append("device \(number): \(error)")
                return
            }
            if actions % 3 == 0 { sync(servers: servers) }
        }
    }

    /// Makes the rival surveys the run had no time for, so that every
    /// rival planned exists.
    func finishRivals() {
        do {
            while let slot = slots.first, rivalSlots.contains(slot) { _ = try create(slots.removeFirst(), form: LiveServer.form) }
            while !intrusions.isEmpty {
                _ = try create(intrusions.removeFirst(), form: LiveServer.form)
                tally.rivals += 1
            }
        } catch {
            errors.append("device \(number): \(error)")
        }
    }

    private func create(_ slot: Int, form: Form) throws -> String {
        let village = villages[slot / SoakTests.periods.count]
        let period = SoakTests.periods[slot % SoakTests.periods.count]
        let kept = form.validate(answers.next(), today: Fixtures.sampleToday).answers
        let survey = try store.create(
            StoredSurvey(formID: form.id, formVersion: form.version, unitCode: village, period: period, answers: kept, status: .finalized))
        latest[survey.instanceID] = survey
        tally.created += 1
        return survey.instanceID
    }

    /// One sync to a server chosen at random, as `vsurvey sync` when the
    /// network comes back. False when it failed (a fault on the way).
    @discardableResult
    func sync(servers: ServerSet) -> Bool {
        tally.syncs += 1
        guard let port = servers.port() else {
            tally.failedSyncs += 1
            return false
        }
        var options = HTTPClientOptions()
        options.connectTimeout = .seconds(5)
        options.totalTimeout = .seconds(60)
        let engine = SyncEngine(store: store, settings: SyncSettings(server: "http://127.0.0.1:\(port)", token: token), language: .en, options: options)
        do {
            let summary = try engine.push(ignoringBackoff: true)
            tally.sent += summary.sent
            tally.duplicates += summary.duplicates
            tally.held += summary.held
            if summary.rejected + summary.mismatched > 0 { errors.append("device \(number): refused: \(summary)") }
            if summary.failure != nil { tally.failedSyncs += 1 }
            return summary.failure == nil
        } catch {
            tally.failedSyncs += 1
            return false
        }
    }

    /// Syncs until nothing is pending; false if still pending after `seconds`.
    func syncUntilDone(servers: ServerSet, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if sync(servers: servers), (try? store.pendingCount().count) == 0 { return true }
            Thread.sleep(forTimeInterval: 0.5)
        }
        return false
    }

    /// Every survey on this device with all its revisions.
    func surveys() throws -> [Survey] {
        try store.list().map { survey in Survey(instanceID: survey.instanceID, revisions: try store.revisions(of: survey.instanceID)) }
    }
}

/// A PostgreSQL server of the test's own (`scripts/postgres.sh` with a
/// private data directory and port), so that restarting it touches no
/// other test.
struct PrivatePostgres: Sendable {
    let directory: String
    let port: Int
    let url: String

    static func start() async throws -> PrivatePostgres {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-soak-pg-\(UUID().uuidString.prefix(8))").path
        let port = try freePort()
        let run = try await offPool { try Self.script("start", directory: directory, port: port) }
        guard run.status == 0, let url = run.stdout.split(separator: "\n").last.map(String.init) else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "scripts/postgres.sh start failed: \(run.stderr)"])
        }
        return PrivatePostgres(directory: directory, port: port, url: url)
    }

    /// A fast restart: every connection is closed under the servers.
    func restart() async throws {
        let (directory, port) = (directory, port)
        let run = try await offPool { try Self.script("restart", directory: directory, port: port) }
        if run.status != 0 { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "restart failed: \(run.stderr)"]) }
    }

    func stop() {
        _ = try? Self.script("stop", directory: directory, port: port)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `scripts/postgres.sh` with `posix_spawn`, its output in files
    /// and no descriptor of this process but those. (Through Foundation's
    /// `Process`, the PostgreSQL server the script starts would inherit
    /// the descriptor by which `Process` learns that its child ended, and
    /// waiting for the script would last as long as the server.)
    static func script(_ command: String, directory: String, port: Int) throws -> CommandRun {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-pg-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(atPath: output.path + ".out")
            try? FileManager.default.removeItem(atPath: output.path + ".err")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, output.path + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // glibc's posix_spawn_file_actions_addclosefrom_np, which the Glibc module does not export.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let closeFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "posix_spawn_file_actions_addclosefrom_np is missing"])
        }
        _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 3)
        let arguments = ["/bin/bash", Fixtures.root.appendingPathComponent("scripts/postgres.sh").path, command]
        let environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "VSURVEY_PG_DIR=\(directory)", "VSURVEY_PG_PORT=\(port)"]
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &argv, &envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let read = { (suffix: String) in (try? String(contentsOfFile: output.path + suffix, encoding: .utf8)) ?? "" }
        return CommandRun(status: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), stdout: read(".out"), stderr: read(".err"))
    }

    /// A loopback port nobody listens on now.
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no free port"]) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
