import Foundation
import GRDB
import SurveyCore
import SurveyFixtures
import SurveyStore
import SurveySync

/// `vsurvey-bench sync`: a device database with finalized village-branch
/// surveys, synced by `SyncEngine` (the code `vsurvey sync` runs) to the
/// release `vsurvey-server` on loopback. Prints the time end to end and the
/// bytes on the wire per survey.
enum SyncBenchmark {
    static func run(count: Int) throws {
        let bench = try BenchServer(name: "sync", villages: count, keep: nil)
        defer { bench.remove() }
        let device = bench.directory.appendingPathComponent("device")
        let store = try SurveyStore(directory: device)
        let form = try Fixtures.form("village-branch")
        var generator = VillageBranchGenerator(seed: 90)
        print("vsurvey-bench sync: storing \(count) finalized village-branch surveys on a device…")
        try store.database.write { db in
            for number in 0..<count {
                let kept = form.validate(generator.next(), today: Fixtures.sampleToday).answers
                var survey = StoredSurvey(
                    formID: form.id, formVersion: form.version, unitCode: bench.villages[number], period: "2026", answers: kept, status: .finalized)
                try survey.insert(db)
            }
        }
        let server = try bench.start(maxBatch: 500)
        defer {
            server.process.terminate()
            server.process.waitUntilExit()
        }
        let engine = SyncEngine(store: store, settings: SyncSettings(server: "http://127.0.0.1:\(server.port)", token: bench.token), language: .en)
        let clock = ContinuousClock()
        var summary = SyncSummary()
        let elapsed = try clock.measure {
            do {
                summary = try engine.push()
            } catch {
                print("vsurvey-bench sync: \(error)")
                exit(1)
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sentCount = try store.statusCounts()[.sent] ?? 0
        print(
            String(
                format: "synced:        %d of %d surveys sent (%d pending, %d refused)", sentCount, count, summary.pending,
                summary.rejected + summary.mismatched))
        print(String(format: "end to end:    %.2f s (target under 5 s for 10,000), %.0f surveys per second", seconds, Double(count) / seconds))
        print(
            String(
                format: "on the wire:   %.0f bytes sent and %.0f received per survey, %.0f in all (target at most 1 KB)",
                Double(summary.bytesSent) / Double(count), Double(summary.bytesReceived) / Double(count),
                Double(summary.bytesSent + summary.bytesReceived) / Double(count)))
        let wirePerSurvey = Double(summary.bytesSent + summary.bytesReceived) / Double(count)
        let fastEnough = seconds < 5 * Double(count) / 10_000
        let met = sentCount == count && fastEnough && wirePerSurvey <= 1024
        print(met ? "targets met" : "TARGET MISSED")
    }
}
