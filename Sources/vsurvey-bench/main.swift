import Foundation
import SurveyCore
import SurveyFixtures

// Validates generated village-branch surveys and prints the time per survey.
// Build in release mode: `swift run -c release vsurvey-bench [--count N]`;
// `vsurvey-bench store` measures the device store instead.

let arguments = CommandLine.arguments
var count = 100_000
if let index = arguments.firstIndex(of: "--count"), index + 1 < arguments.count, let value = Int(arguments[index + 1]), value > 0 {
    count = value
}

// `vsurvey-bench server [--count N] [--batch N] [--connections N]`: ingest
// over loopback into a running vsurvey-server (default 20,000 surveys).
if arguments.count > 1, arguments[1] == "server" {
    func option(_ name: String, _ fallback: Int) -> Int {
        arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? Int(arguments[$0 + 1]) : nil } ?? fallback
    }
    try ServerBenchmark.run(
        count: option("--count", 20_000), batchSize: option("--batch", 100), connections: option("--connections", 4),
        keep: arguments.firstIndex(of: "--keep").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil },
        serverLog: arguments.firstIndex(of: "--server-log").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil })
    exit(0)
}

// `vsurvey-bench sync [--count N]`: a device's finalized surveys synced to a
// local server (default 10,000).
if arguments.count > 1, arguments[1] == "sync" {
    try SyncBenchmark.run(count: arguments.contains("--count") ? count : 10_000)
    exit(0)
}

// `vsurvey-bench checks [--count N] [--rounds R]`: ingest with and without
// previous() and warnings, into a database holding last year's surveys
// (default 40,000), R rounds of each (default 3), alternating.
if arguments.count > 1, arguments[1] == "checks" {
    let rounds = arguments.firstIndex(of: "--rounds").flatMap { $0 + 1 < arguments.count ? Int(arguments[$0 + 1]) : nil } ?? 3
    try await ChecksBenchmark.run(count: arguments.contains("--count") ? count : 40_000, rounds: max(1, rounds))
    exit(0)
}

// `vsurvey-bench xlsform [--questions N] [--rounds R]`: importing a large XLSForm.
if arguments.count > 1, arguments[1] == "xlsform" {
    func option(_ name: String, _ fallback: Int) -> Int {
        arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? Int(arguments[$0 + 1]) : nil } ?? fallback
    }
    try XLSFormBenchmark.run(questions: option("--questions", 2_000), rounds: max(1, option("--rounds", 5)))
    exit(0)
}

// `vsurvey-bench report [--villages N]`: seeded data, then county and national reports.
if arguments.count > 1, arguments[1] == "report" {
    let villages = arguments.firstIndex(of: "--villages").flatMap { $0 + 1 < arguments.count ? Int(arguments[$0 + 1]) : nil } ?? 490_000
    let existing = arguments.firstIndex(of: "--db").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    try await ReportBenchmark.run(villages: villages, existing: existing)
    exit(0)
}

// `vsurvey-bench export [--db PATH] [--villages N]`: raw exports of national data over HTTP.
if arguments.count > 1, arguments[1] == "export" {
    let villages = arguments.firstIndex(of: "--villages").flatMap { $0 + 1 < arguments.count ? Int(arguments[$0 + 1]) : nil } ?? 490_000
    let existing = arguments.firstIndex(of: "--db").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    try await ExportBenchmark.run(villages: villages, existing: existing)
    exit(0)
}

// `vsurvey-bench postgres [--url URL] [--count N]`: server processes on one
// PostgreSQL database (default: the server of scripts/postgres.sh, 20,000 surveys per run).
if arguments.count > 1, arguments[1] == "postgres" {
    let url =
        arguments.firstIndex(of: "--url").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        ?? ProcessInfo.processInfo.environment["VSURVEY_TEST_POSTGRES"] ?? "postgres://vsurvey@127.0.0.1:55432/postgres"
    try await PostgresBenchmark.run(url: url, count: arguments.contains("--count") ? count : 20_000)
    exit(0)
}

// `vsurvey-bench ingest [--count N]`: the server's ingest without HTTP.
if arguments.count > 1, arguments[1] == "ingest" {
    try await ServerBenchmark.ingestInProcess(count: arguments.contains("--count") ? count : 20_000)
    exit(0)
}

// `vsurvey-bench store [--count N]`: the device store (default 10,000 surveys).
if arguments.count > 1, arguments[1] == "store" {
    let keep = arguments.firstIndex(of: "--keep").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    try StoreBenchmark.run(count: arguments.contains("--count") ? count : 10_000, keep: keep)
    exit(0)
}

func peakMemoryMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return .nan }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kib = line.split(separator: " ").compactMap { Double($0) }.first ?? .nan
        return kib / 1024
    }
    return .nan
}

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

/// `--only-validate` skips the other measurements, for profiling.
let onlyValidate = arguments.contains("--only-validate")

let form = try FormLoader.load(contentsOf: Fixtures.formsDirectory.appendingPathComponent("village-branch.yaml"))
let today = Fixtures.sampleToday
let clock = ContinuousClock()

// Loading the form (parse YAML, check, bind, plan), averaged.
let formData = try Data(contentsOf: Fixtures.formsDirectory.appendingPathComponent("village-branch.yaml"))
let loadRuns = onlyValidate ? 0 : 50
let loadTime = clock.measure {
    for _ in 0..<loadRuns { _ = try? FormLoader.load(data: formData, file: "village-branch.yaml") }
}

print("vsurvey-bench: validating \(count) generated village-branch surveys (\(form.fields.count) fields) on one thread")
// Each survey is generated, then validated at once, as the server validates
// a survey right after reading it; only the validation is timed.
var generator = VillageBranchGenerator(seed: 2026, invalidShare: 0.05)
var invalid = 0
var issues = 0
var answersKept = 0
var validateTime = Duration.zero
var texts: [String] = []
let textCount = onlyValidate ? 0 : min(count, 20_000)
// Per-batch figures: a virtual machine's neighbours cause bursts of delay,
// so the median batch is reported beside the overall mean.
let batchSize = max(1, min(10_000, count / 10))
var batchTime = Duration.zero
var batchFigures: [Double] = []
for number in 0..<count {
    let survey = generator.next()
    if texts.count < textCount { texts.append(JSONValue.object(survey).serialized()) }
    let start = clock.now
    let result = form.validate(survey, today: today)
    let elapsed = clock.now - start
    validateTime += elapsed
    batchTime += elapsed
    if (number + 1) % batchSize == 0 {
        batchFigures.append(microseconds(batchTime) / Double(batchSize))
        batchTime = .zero
    }
    if !result.isValid { invalid += 1 }
    issues += result.issues.count
    answersKept += result.answers.count
}

var parsed = 0
let parseAndValidateTime = clock.measure {
    for text in texts {
        guard case .object(let object) = try? JSONParser().parse(text) else { continue }
        parsed += form.validate(object, today: today).answers.count
    }
}

let perSurvey = microseconds(validateTime) / Double(count)
batchFigures.sort()
let medianBatch = batchFigures.isEmpty ? perSurvey : batchFigures[batchFigures.count / 2]
let bestBatch = batchFigures.first ?? perSurvey
let perParsed = microseconds(parseAndValidateTime) / Double(texts.count)
let averageBytes = texts.reduce(0) { $0 + $1.utf8.count } / max(texts.count, 1)
if !onlyValidate {
    print(String(format: "form load (YAML, checks, plan):   %8.2f ms per load", microseconds(loadTime) / Double(loadRuns) / 1000))
}
print(
    String(
        format: "validate:                          %8.2f µs per survey  (%.2f s for %d; %d invalid, %d issues)", perSurvey, microseconds(validateTime) / 1e6,
        count, invalid, issues))
if !onlyValidate {
    print(String(format: "parse JSON + validate:             %8.2f µs per survey  (%d surveys of ~%d bytes)", perParsed, texts.count, averageBytes))
}
print(String(format: "  per batch of %d: median %.2f µs, best %.2f µs, worst %.2f µs", batchSize, medianBatch, bestBatch, batchFigures.last ?? perSurvey))
print(String(format: "throughput:                        %8.0f surveys per second per core", 1e6 / perSurvey))
print(String(format: "peak memory (VmHWM):               %8.1f MiB", peakMemoryMiB()))
print(medianBatch <= 50 ? "target met: median batch at most 50 µs per survey" : "TARGET MISSED: median batch above 50 µs per survey")
