import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer

#if canImport(Glibc)
    import Glibc
#endif

/// `vsurvey-bench postgres --url postgres://…`: release `vsurvey-server`
/// processes on one fresh PostgreSQL database. Ingest over loopback by one
/// process, then by two together (each a new period, so every survey is
/// created), then with two again while one is killed with SIGKILL a third
/// of the way through: its clients go on with the survivor, resending what
/// had no answer.
enum PostgresBenchmark {
    struct Sent {
        var stored = 0
        var failedRequests = 0
        var seconds = 0.0
        var rate: Double { Double(stored) / seconds }
    }

    static func run(url: String, count: Int) async throws {
        let name = "vsb_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let database = try await PostgresServerStorage.createDatabase(named: String(name), at: url)
        defer {
            let done = DispatchSemaphore(value: 0)
            Task {
                try? await PostgresServerStorage.dropDatabase(named: String(name), at: url)
                done.signal()
            }
            done.wait()
        }
        let bench = try BenchServer(name: "postgres", villages: count, keep: nil, database: database)
        defer { bench.remove() }
        print("vsurvey-bench postgres: \(count) village-branch surveys per run in batches of 100 over 4 connections, release vsurvey-server on \(name)")
        let form = try Fixtures.form("village-branch")
        var generator = VillageBranchGenerator(seed: 81)
        func batches(period: String) -> [[UInt8]] {
            stride(from: 0, to: count, by: 100).map { start in
                let surveys: [JSONValue] = (start..<min(count, start + 100)).map { number in
                    WireSurvey(
                        instanceID: UUID().uuidString.lowercased(), revision: 1, formID: form.id, formVersion: form.version,
                        unit: bench.villages[number], period: period, answers: generator.next()
                    ).json
                }
                return Gzip.compress(JSONValue.object(["surveys": .array(surveys)]).serializedBytes())
            }
        }

        let one = try bench.start(maxBatch: 500, extra: ["--connections", "8"])
        let single = send(batches(period: "2026"), ports: [one.port], token: bench.token)
        print(String(format: "one process:   %.0f surveys per second (%d stored, %d failed requests)", single.rate, single.stored, single.failedRequests))

        let two = try bench.start(maxBatch: 500, extra: ["--connections", "8"])
        let both = send(batches(period: "2025"), ports: [one.port, two.port], token: bench.token)
        let ratio = both.rate / single.rate
        print(
            String(
                format: "two processes: %.0f surveys per second together, %.0f%% of one (target at least 90%%; %d failed requests)", both.rate,
                ratio * 100, both.failedRequests))

        let killed = send(batches(period: "2024"), ports: [one.port, two.port], token: bench.token) { batch in
            if batch == count / 300 {
                kill(one.process.processIdentifier, SIGKILL)
                print("               killed process \(one.process.processIdentifier) with SIGKILL after \(batch) batches")
            }
        }
        two.process.terminate()
        two.process.waitUntilExit()
        one.process.waitUntilExit()
        let storage = try await PostgresServerStorage(url: database, connections: 2)
        let counts = try await storage.counts()
        storage.close()
        print(
            String(
                format: "one killed:    %.0f surveys per second; %d requests failed with the process and were sent again to the other",
                killed.rate, killed.failedRequests))
        print("stored:        \(counts.current) current surveys, \(counts.revisions) revisions (expected \(3 * count) of each, none twice)")
        let met = ratio >= 0.9 && counts.current == 3 * count && counts.revisions == 3 * count && killed.stored == count
        print(met ? "targets met" : "TARGET MISSED")
    }

    /// Sends every batch once over four connections spread over `ports`; a
    /// request that fails (its server gone) is sent again to another port,
    /// where the server answers `duplicate` for what the first had stored.
    /// `before` runs as each batch is taken, with its number.
    static func send(_ batches: [[UInt8]], ports: [Int], token: String, before: @escaping @Sendable (Int) -> Void = { _ in }) -> Sent {
        let clock = ContinuousClock()
        let next = Counter()
        let stored = Counter()
        let failures = Counter()
        let dead = ports.map { _ in Counter() }  // above 0: that port stopped answering
        let done = DispatchGroup()
        let start = clock.now
        for connection in 0..<4 {
            done.enter()
            Thread {
                defer { done.leave() }
                var home = connection % ports.count
                var link = try? HTTPConnection(port: ports[home])
                while true {
                    let number = next.add(1) - 1
                    if number >= batches.count { return }
                    before(number)
                    while true {
                        let reply = try? link?.send(
                            "POST", "/api/v1/surveys", headers: [("Authorization", "Bearer \(token)"), ("Content-Encoding", "gzip")],
                            body: batches[number])
                        if let reply, reply.status == 200, let json = try? reply.json() {
                            for outcome in ["created", "duplicate"] {
                                if case .integer(let n)? = json["summary"]?[outcome] { stored.add(n) }
                            }
                            break
                        }
                        failures.add(1)
                        dead[home].add(1)
                        guard let other = ports.indices.first(where: { dead[$0].value == 0 }) else { return }
                        home = other
                        link = try? HTTPConnection(port: ports[home])
                    }
                }
            }.start()
        }
        done.wait()
        let elapsed = clock.now - start
        return Sent(
            stored: stored.value, failedRequests: failures.value,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
