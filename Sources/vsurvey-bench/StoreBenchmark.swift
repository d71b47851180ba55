import Foundation
import SurveyCore
import SurveyFixtures
import SurveyStore

/// `vsurvey-bench store`: stores finalized surveys as `fill --answers
/// --finalize` does (check, then one transaction on disk), then times the
/// `vsurvey` binary listing them and starting for `--help`.
enum StoreBenchmark {
    /// With `keep`, the database is made there and left for inspection.
    static func run(count: Int, keep: String? = nil) throws {
        let clock = ContinuousClock()
        let form = try Fixtures.form("village-branch")
        let directory =
            keep.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-bench-\(UUID().uuidString)")
        defer { if keep == nil { try? FileManager.default.removeItem(at: directory) } }
        let store = try SurveyStore(directory: directory)
        var generator = VillageBranchGenerator(seed: 11)
        print("vsurvey-bench store: \(count) finalized village-branch surveys in \(directory.path)")

        var checkTime = Duration.zero
        var saveTime = Duration.zero
        var slowest = Duration.zero
        for number in 0..<count {
            let answers = generator.next()
            let start = clock.now
            let result = form.validate(answers, today: Fixtures.sampleToday)
            let checked = clock.now
            precondition(result.isValid, "the generator made an invalid survey: \(result.issues)")
            let township = number / 900 + 1
            let village = number % 900 + 100
            let unit = "130102" + pad(township, 3) + pad(village, 3)
            let record = StoredSurvey(formID: form.id, formVersion: form.version, unitCode: unit, period: "2026", answers: result.answers, status: .finalized)
            try store.create(record)
            let saved = clock.now
            checkTime += checked - start
            saveTime += saved - checked
            slowest = max(slowest, saved - checked)
        }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(SurveyStore.fileName).path)[.size] as? Int) ?? 0
        print(
            String(
                format: "check + save:      %7.3f ms per survey (check %.3f ms, save %.3f ms, slowest save %.1f ms)", ms(checkTime + saveTime) / Double(count),
                ms(checkTime) / Double(count), ms(saveTime) / Double(count), ms(slowest)))
        print(String(format: "database:          %7.1f MiB for %d surveys", Double(fileSize) / 1_048_576, count))

        let start = clock.now
        let listed = try store.list(answers: false).count
        print(String(format: "store.list:        %7.1f ms for %d surveys (in process)", ms(clock.now - start), listed))

        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vsurvey")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            print("vsurvey not found beside the benchmark (\(binary.path)); build it with `swift build -c release` to time list and --help")
            return
        }
        let list = try timeCommand(binary, ["list", "--data-dir", directory.path], runs: 5)
        print(String(format: "vsurvey list:      %7.1f ms median of 5 runs over %d surveys (target 300 ms)", list, count))
        let help = try timeCommand(binary, ["--help"], runs: 20)
        print(String(format: "vsurvey --help:    %7.1f ms median of 20 runs (target 50 ms)", help))
        let perSave = ms(saveTime) / Double(count)
        print(perSave < 2 && list < 300 && help < 50 ? "targets met" : "TARGET MISSED")
    }

    /// The median wall time of running a command, in milliseconds. Uses
    /// posix_spawn and waitpid: Foundation's Process polls for the exit and
    /// would add tens of milliseconds to each run.
    static func timeCommand(_ binary: URL, _ arguments: [String], runs: Int) throws -> Double {
        var times: [Double] = []
        let argv = ([binary.path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        _ = FileManager.default.changeCurrentDirectoryPath(Fixtures.root.path)
        for _ in 0..<runs {
            var pid: pid_t = 0
            let start = ContinuousClock.now
            guard posix_spawn(&pid, binary.path, &actions, nil, argv, environ) == 0 else {
                throw CocoaError(.executableLoad)
            }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            times.append(ms(ContinuousClock.now - start))
        }
        return times.sorted()[times.count / 2]
    }

    static func ms(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
