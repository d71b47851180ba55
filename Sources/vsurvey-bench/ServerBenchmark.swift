import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer

#if canImport(Glibc)
    import Glibc
#endif

/// `vsurvey-bench server`: starts the `vsurvey-server` binary built beside
/// this one on a fresh database with a generated registry, sends generated
/// village-branch surveys in gzip batches over loopback from several
/// connections, and prints surveys stored per second and the server's peak
/// memory.
enum ServerBenchmark {
    /// With `serverLog`, the server logs at debug level (each batch's read,
    /// check and write times) into that file.
    static func run(count: Int, batchSize: Int, connections: Int, keep: String?, serverLog: String? = nil) throws {
        let clock = ContinuousClock()
        let bench = try BenchServer(name: "server", villages: count, keep: keep)
        defer { bench.remove() }
        let villages = bench.villages
        let token = bench.token

        // The batches, made and compressed before the clock starts.
        let form = try Fixtures.form("village-branch")
        var generator = VillageBranchGenerator(seed: 77)
        var batches: [[UInt8]] = []
        var plainBytes = 0
        var index = 0
        while index < count {
            let size = min(batchSize, count - index)
            let surveys: [JSONValue] = (index..<(index + size)).map { number in
                WireSurvey(
                    instanceID: UUID().uuidString.lowercased(), revision: 1, formID: form.id, formVersion: form.version, unit: villages[number],
                    period: "2026", answers: generator.next()
                ).json
            }
            let text = Array(JSONValue.object(["surveys": .array(surveys)]).serialized().utf8)
            plainBytes += text.count
            batches.append(Gzip.compress(text))
            index += size
        }
        let wireBytes = batches.reduce(0) { $0 + $1.count }
        let toSend = batches

        let server = try bench.start(maxBatch: max(batchSize, 500), log: serverLog)
        defer {
            server.process.terminate()
            server.process.waitUntilExit()
        }
        let port = server.port
        let baseline = residentMiB(server.process.processIdentifier).current
        let serverCPUBefore = cpuSeconds("/proc/\(server.process.processIdentifier)/stat")
        let serverSplitBefore = cpuSplit("/proc/\(server.process.processIdentifier)/stat")
        let ownCPUBefore = cpuSeconds("/proc/self/stat")
        print(
            "vsurvey-bench server: \(count) village-branch surveys in batches of \(batchSize) over \(connections) connections to vsurvey-server (pid \(server.process.processIdentifier)), \(villages.count) villages registered"
        )

        // Send: each connection takes the next batch until none are left.
        let next = Counter()
        let failures = Counter()
        let created = Counter()
        let latencies = Latencies()
        let done = DispatchGroup()
        let start = clock.now
        for _ in 0..<connections {
            done.enter()
            Thread {
                defer { done.leave() }
                guard let connection = try? HTTPConnection(port: port) else {
                    failures.add(1)
                    return
                }
                while true {
                    let number = next.add(1) - 1
                    if number >= toSend.count { return }
                    let sent = clock.now
                    let reply = try? connection.send(
                        "POST", "/api/v1/surveys", headers: [("Authorization", "Bearer \(token)"), ("Content-Encoding", "gzip")], body: toSend[number])
                    latencies.add(clock.now - sent)
                    guard let reply, reply.status == 200, let json = try? reply.json() else {
                        failures.add(1)
                        continue
                    }
                    if case .integer(let stored)? = json["summary"]?["created"] { created.add(stored) }
                }
            }.start()
        }
        done.wait()
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let memory = residentMiB(server.process.processIdentifier)
        let serverCPU = cpuSeconds("/proc/\(server.process.processIdentifier)/stat") - serverCPUBefore
        let serverSplit = cpuSplit("/proc/\(server.process.processIdentifier)/stat")
        let serverSystem = serverSplit.system - serverSplitBefore.system
        let ownCPU = cpuSeconds("/proc/self/stat") - ownCPUBefore
        let rate = Double(count) / seconds
        let sorted = latencies.sorted()
        func ms(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }
        print(String(format: "stored:        %d of %d created, %d failed requests", created.value, count, failures.value))
        print(String(format: "elapsed:       %.2f s", seconds))
        print(String(format: "ingest rate:   %.0f surveys per second (target 5,000; %.0f× ODK Central's published ~41/s)", rate, rate / 41))
        print(
            String(
                format: "batch latency: median %.1f ms, p95 %.1f ms, worst %.1f ms", ms(sorted[sorted.count / 2]), ms(sorted[sorted.count * 95 / 100]),
                ms(sorted.last!)))
        print(
            String(
                format: "on the wire:   %.0f bytes per survey gzip (%.0f plain JSON)", Double(wireBytes) / Double(count), Double(plainBytes) / Double(count)))
        print(
            String(
                format: "CPU:           server %.0f µs per survey (%.0f of it in the kernel; %.2f of 2 cores busy), this client %.0f µs per survey",
                serverCPU / Double(count) * 1e6, serverSystem / Double(count) * 1e6, serverCPU / seconds, ownCPU / Double(count) * 1e6))
        print(String(format: "server memory: peak %.1f MiB (VmHWM), %.1f MiB at rest before sending; target under 150 MB", memory.peak, baseline))
        let health = healthUnderLoad(port: port, token: token)
        print(
            String(
                format:
                    "/health while four 6 MB batches of escapes are checked: median %.1f ms, p95 %.1f ms of %d (target median under 100 ms); %d heavy batches read",
                ms(health.latencies[health.latencies.count / 2]), ms(health.latencies[health.latencies.count * 95 / 100]), health.latencies.count,
                health.heavy))
        let met =
            rate >= 5000 && memory.peak * 1.048576 < 150 && created.value == count && failures.value == 0
            && ms(health.latencies[health.latencies.count / 2]) < 100
        print(met ? "targets met" : "TARGET MISSED")
    }

    /// The ingest path without HTTP: decode, check and store batches of 100
    /// with `SurveyService`, printing the process's memory as it goes.
    static func ingestInProcess(count: Int) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-bench-ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let storage = try SQLiteServerStorage(path: directory.appendingPathComponent("server.sqlite").path)
        var units = [OrgUnit(code: UnitCode("130102000000")!, name: "县", level: .county, parent: nil)]
        var villages: [String] = []
        for township in 1...((count + 399) / 400) {
            let townshipCode = UnitCode("130102" + pad(township, 3) + "000")!
            units.append(OrgUnit(code: townshipCode, name: "镇", level: .township, parent: UnitCode("130102000000")!))
            for village in 1...400 {
                let code = UnitCode("130102" + pad(township, 3) + pad(village + 199, 3))!
                units.append(OrgUnit(code: code, name: "村", level: .village, parent: townshipCode))
                villages.append(code.rawValue)
            }
        }
        _ = try await storage.replaceUnits(units)
        let service = SurveyService(storage: storage, catalog: Fixtures.catalog())
        let principal = Principal(tokenID: 1, name: "bench", role: .admin, unit: UnitCode("130102000000")!)
        let form = try Fixtures.form("village-branch")
        var generator = VillageBranchGenerator(seed: 78)
        var bodies: [[UInt8]] = []
        var index = 0
        while index < count {
            let size = min(100, count - index)
            let surveys: [JSONValue] = (index..<(index + size)).map { number in
                WireSurvey(
                    instanceID: UUID().uuidString.lowercased(), revision: 1, formID: form.id, formVersion: form.version, unit: villages[number],
                    period: "2026", answers: generator.next()
                ).json
            }
            bodies.append(Gzip.compress(JSONValue.object(["surveys": .array(surveys)]).serializedBytes()))
            index += size
        }
        let clock = ContinuousClock()
        let start = clock.now
        let next = Counter()
        let all = bodies
        // Four batches at a time, as four devices would send them.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while true {
                        let number = next.add(1) - 1
                        if number >= all.count { return }
                        let document = try service.decodeBody(all[number], gzip: true)
                        let results = try await service.ingest(document, by: principal)
                        precondition(results.allSatisfy { $0.outcome == .created })
                        if (number + 1) % 100 == 0 {
                            let memory = residentMiB(getpid())
                            print(String(format: "%7d surveys: RSS %.1f MiB, peak %.1f MiB", (number + 1) * 100, memory.current, memory.peak))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = clock.now - start
        print("\(count) surveys in \(elapsed)")
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    static func command(_ binary: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            print("vsurvey-bench server: vsurvey-server \(arguments.prefix(2).joined(separator: " ")) failed")
            exit(1)
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func readLine(_ handle: FileHandle) -> String {
        var line: [UInt8] = []
        while let byte = try? handle.read(upToCount: 1), let first = byte.first, first != 10 { line.append(first) }
        return String(decoding: line, as: UTF8.self)
    }

    /// User plus system CPU time of a process, from /proc/PID/stat.
    static func cpuSeconds(_ path: String) -> Double {
        let (user, system) = cpuSplit(path)
        return user + system
    }

    /// User and system CPU seconds of a process.
    static func cpuSplit(_ path: String) -> (user: Double, system: Double) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let close = text.lastIndex(of: ")") else { return (.nan, .nan) }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return (.nan, .nan) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user / ticks, system / ticks)
    }

    /// VmRSS and VmHWM of a process, in MiB.
    static func residentMiB(_ pid: Int32) -> (current: Double, peak: Double) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (.nan, .nan) }
        func field(_ name: String) -> Double {
            for line in status.split(separator: "\n") where line.hasPrefix(name) {
                return (line.split(separator: " ").compactMap { Double($0) }.first ?? .nan) / 1024
            }
            return .nan
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }
}

/// A fresh `vsurvey-server` database for a benchmark: a generated county
/// with one village per survey, a collector token, and the release binary
/// built beside `vsurvey-bench`.
struct BenchServer {
    let directory: URL
    let binary: String
    let database: String
    let villages: [String]
    let token: String
    let keep: Bool

    init(name: String, villages count: Int, keep: String?, database url: String? = nil) throws {
        directory =
            keep.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-bench-\(name)-\(UUID().uuidString)")
        self.keep = keep != nil
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vsurvey-server").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("vsurvey-bench \(name): build vsurvey-server first (swift build -c release)")
            exit(1)
        }
        database = url ?? directory.appendingPathComponent("server.sqlite").path
        let townships = (count + 399) / 400
        var csv = "code,name,level,parent\n130102000000,基准县,county,\n"
        var villages: [String] = []
        for township in 1...max(1, townships) {
            let townshipCode = "130102" + ServerBenchmark.pad(township, 3) + "000"
            csv += "\(townshipCode),第\(township)镇,township,130102000000\n"
            for village in 1...400 {
                let code = "130102" + ServerBenchmark.pad(township, 3) + ServerBenchmark.pad(village + 199, 3)
                csv += "\(code),\(township)-\(village)村,village,\(townshipCode)\n"
                villages.append(code)
            }
        }
        self.villages = villages
        let registry = directory.appendingPathComponent("registry.csv")
        try csv.write(to: registry, atomically: true, encoding: .utf8)
        _ = try ServerBenchmark.command(binary, ["units", "import", registry.path, "--db", database, "--lang", "en"])
        token =
            try ServerBenchmark.command(binary, ["token", "create", "--db", database, "--name", "bench", "--role", "collector", "--unit", "130102000000"])
            .split(separator: "\n").last.map(String.init) ?? ""
    }

    /// Starts the server on a free port; with `log`, at debug level into that file.
    /// Every connection of a benchmark sends with the one token, as no
    /// device would, so the per-token limit of batches in flight is lifted.
    func start(maxBatch: Int, log: String? = nil, extra: [String] = []) throws -> (process: Process, port: Int) {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binary)
        server.arguments =
            ["serve", "--db", database, "--forms", Fixtures.formsDirectory.path, "--port", "0", "--max-batch", "\(maxBatch)", "--max-ingest-per-token", "1000"]
            + extra
        let out = Pipe()
        server.standardOutput = out
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            server.arguments! += ["--log-level", "debug"]
        }
        server.standardError = FileHandle(forWritingAtPath: log ?? "/dev/null")
        try server.run()
        let firstLine = ServerBenchmark.readLine(out.fileHandleForReading)
        guard let port = firstLine.split(separator: ":").last.flatMap({ Int($0) }) else {
            print("vsurvey-bench: the server did not start: \(firstLine)")
            exit(1)
        }
        return (server, port)
    }

    func remove() {
        if !keep { try? FileManager.default.removeItem(at: directory) }
    }
}

extension ServerBenchmark {
    /// `/health`'s latency, asked every 20 ms over one connection, while
    /// four other connections keep posting 6 MB bodies full of `\u00e9`
    /// escapes (read whole, then refused for their unknown key): what a
    /// hostile or unlucky client costs everyone else.
    static func healthUnderLoad(port: Int, token: String) -> (latencies: [Duration], heavy: Int) {
        let clock = ContinuousClock()
        let heavy = Array(("{\"surveys\": [], \"note\": \"" + String(repeating: "\\u00e9", count: 1_000_000) + "\"}").utf8)
        let stop = Counter()
        let read = Counter()
        let senders = DispatchGroup()
        for _ in 0..<4 {
            senders.enter()
            Thread {
                defer { senders.leave() }
                guard let connection = try? HTTPConnection(port: port) else { return }
                while stop.value == 0 {
                    if (try? connection.send("POST", "/api/v1/surveys", headers: [("Authorization", "Bearer \(token)")], body: heavy))?.status == 400 {
                        read.add(1)
                    }
                }
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.5)
        let latencies = Latencies()
        if let connection = try? HTTPConnection(port: port) {
            for _ in 0..<100 {
                let sent = clock.now
                _ = try? connection.send("GET", "/health")
                latencies.add(clock.now - sent)
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        stop.add(1)
        senders.wait()
        return (latencies.sorted(), read.value)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    @discardableResult func add(_ amount: Int) -> Int {
        lock.withLock {
            count += amount
            return count
        }
    }
    var value: Int { lock.withLock { count } }
}

final class Latencies: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Duration] = []
    func add(_ value: Duration) { lock.withLock { values.append(value) } }
    func sorted() -> [Duration] { lock.withLock { values.sorted() } }
}
