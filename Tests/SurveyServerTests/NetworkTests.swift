import Foundation
import SurveyCore
import SurveyFixtures
import SurveyHTTP
import SurveyServer
import SurveyStore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The client over HTTPS and over a bad link, against the built server
/// behind `Tests/Tools/netproxy.py`.
@Suite("sync over HTTPS and over a slow, lossy link", .serialized)
struct NetworkTests {
    @Test("HTTPS with a self-signed certificate: refused without the CA, accepted with it, refused with a wrong pinned key")
    func selfSignedHTTPS() async throws {
        let serverDirectory = try scratch()
        let token = try await createToken("collector", in: serverDirectory)
        let server = try await ServerProcess.start(directory: serverDirectory)
        defer { server.stop() }
        let tls = try await TLSMaterial.make(in: serverDirectory)
        let other = try await TLSMaterial.make(in: serverDirectory, name: "other")
        let proxy = try await NetProxy.start(upstream: server.port, arguments: ["--cert", tls.certificate.path, "--key", tls.key.path])
        defer { _ = proxy.process.isRunning ? proxy.process.terminate() : () }
        let url = "https://127.0.0.1:\(proxy.port)/api/v1/handshake"

        // One process, one sequence: a failure must leave the next request unharmed.
        let outcomes = try await offPool { () -> [Result<Int, HTTPClientError>] in
            func status(_ options: HTTPClientOptions) -> Result<Int, HTTPClientError> {
                Result { () throws(HTTPClientError) -> Int in try HTTPClient(options: options).send(HTTPRequest(url: url)).status }
            }
            var withCA = HTTPClientOptions()
            withCA.caFile = tls.certificate.path
            var pinned = withCA
            pinned.pinnedPublicKey = tls.pin
            var wrongPin = withCA
            wrongPin.pinnedPublicKey = other.pin
            var otherCA = HTTPClientOptions()
            otherCA.caFile = other.certificate.path
            return [status(HTTPClientOptions()), status(withCA), status(pinned), status(wrongPin), status(otherCA), status(withCA)]
        }
        func kind(_ result: Result<Int, HTTPClientError>) -> HTTPClientError.Kind? {
            if case .failure(let error) = result { error.kind } else { nil }
        }
        #expect(kind(outcomes[0]) == .tls, "without the CA: \(outcomes[0])")
        #expect((try? outcomes[1].get()) == 200, "with the CA: \(outcomes[1])")
        #expect((try? outcomes[2].get()) == 200, "with the CA and the right pin: \(outcomes[2])")
        #expect(kind(outcomes[3]) == .tls, "wrong pin: \(outcomes[3])")
        if case .failure(let error) = outcomes[3] { #expect(error.message.text(.en).contains("pinned key")) }
        #expect(kind(outcomes[4]) == .tls, "another CA: \(outcomes[4])")
        #expect((try? outcomes[5].get()) == 200, "with the CA again: \(outcomes[5])")

        // The same through vsurvey login and sync.
        var device = try Device(seed: 90)
        let survey = try device.finalize(village: 4)
        let server443 = "https://127.0.0.1:\(proxy.port)"
        let untrusted = try await runClient(["login", "--server", server443, "--token", token], dataDirectory: device.directory)
        // A token on the command line works, with a warning that others can see it.
        #expect(untrusted.stderr.contains("can be seen by other users in the process list"), "\(untrusted.stderr)")
        #expect(untrusted.status == 1)
        #expect(untrusted.stderr.contains("certificate is not trusted"), "\(untrusted.stderr)")
        let wrong = try await runClient(
            ["login", "--server", server443, "--token", token, "--ca-file", tls.certificate.path, "--pin", other.pin], dataDirectory: device.directory)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("does not match the pinned key"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: device.directory.appendingPathComponent("sync.json").path))
        let good = try await runClient(
            ["login", "--server", server443, "--token", token, "--ca-file", tls.certificate.path, "--pin", tls.pin], dataDirectory: device.directory)
        #expect(good.status == 0, "\(good.stderr)")
        let synced = try await device.sync()
        #expect(synced.status == 0, "\(synced.stdout)\(synced.stderr)")
        #expect(try device.store.find(survey.instanceID).status == .sent)
    }

    @Test("a slow link that cuts requests, loses replies and refuses connections: every survey arrives exactly once, in bounded time")
    func lossyLink() async throws {
        let serverDirectory = try scratch()
        let token = try await createToken("collector", in: serverDirectory)
        // Small batches, so that there are many exchanges to break.
        let server = try await ServerProcess.start(directory: serverDirectory, arguments: ["--max-batch", "8"])
        defer { server.stop() }
        let proxy = try await NetProxy.start(
            upstream: server.port,
            arguments: ["--seed", "7", "--cut", "0.15", "--lose", "0.15", "--refuse", "0.1", "--delay", "0.02", "--rate", "200000"])
        var device = try Device(seed: 91)
        var surveys: [StoredSurvey] = []
        for village in 0..<120 { surveys.append(try device.finalize(village: village)) }
        // Some are edited: their revisions must arrive in order.
        for index in stride(from: 0, to: 120, by: 10) {
            var answers = surveys[index].answerObject
            answers["members_away"] = .integer(1)
            surveys[index] = try device.store.edit(
                surveys[index], answers: LiveServer.form.validate(answers, today: CivilDate.today()).answers, finalize: true)
        }
        // `sync --watch` retries at once when a failure clears; with a
        // bad link, failures and successes alternate until all is sent.
        let process = Process()
        process.executableURL = try clientBinary()
        process.arguments = ["sync", "--watch", "--every", "1s", "--data-dir", device.directory.path, "--lang", "en"]
        process.environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "VSURVEY_SERVER": "http://127.0.0.1:\(proxy.port)", "VSURVEY_TOKEN": token]
        process.currentDirectoryURL = Fixtures.root
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        let started = Date()
        try process.run()
        var pending = Int.max
        while pending > 0 && Date().timeIntervalSince(started) < 120 {
            try await Task.sleep(for: .milliseconds(200))
            pending = try device.store.pendingCount().count
        }
        kill(process.processIdentifier, SIGTERM)
        let log = try await offPool {
            let text = String(decoding: PipeReader.readAll(out.fileHandleForReading), as: UTF8.self)
            process.waitUntilExit()
            return text
        }
        #expect(process.terminationStatus == 0, "\(log)")
        let runs = log.split(separator: "\n").filter { $0.contains("still pending") }.count
        let elapsed = Date().timeIntervalSince(started)
        let faults = try await proxy.stop()
        #expect(pending == 0, "still pending after \(runs) syncs: \(log)")
        #expect(elapsed < 120, "took \(elapsed) s")
        // The link really was bad: each kind of fault happened.
        #expect((faults["cut"] ?? 0) > 0 && (faults["lose"] ?? 0) > 0 && (faults["refuse"] ?? 0) > 0, "\(faults)")

        let storage = try SQLiteServerStorage(path: serverDirectory.appendingPathComponent("server.sqlite").path)
        let counts = try await storage.counts()
        #expect(counts.current == 120 && counts.held == 0)
        #expect(counts.revisions == 120 + 12, "each revision stored once")
        for survey in surveys {
            let stored = try #require(try await storage.survey(survey.instanceID))
            #expect(stored.latest.revision == survey.revision)
            #expect(try JSONParser().parse(stored.latest.answers) == .object(survey.answerObject))
        }
        #expect(try device.store.statusCounts()[.sent] == 120)
        print("lossy link: \(runs) syncs, \(String(format: "%.1f", elapsed)) s, faults \(faults)")
    }
}
