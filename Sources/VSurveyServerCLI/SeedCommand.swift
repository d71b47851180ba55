import ArgumentParser
import Foundation
import SurveyCore
import SurveyServer

/// `vsurvey-server seed`: a made-up registry and surveys, for demonstrations
/// and benchmarks.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "生成演示数据:单位名录和村党组织调查 / Generate demonstration data: a registry and village surveys",
        discussion: """
            用生成的名录(省、市、县、乡镇、村,约 300 村一县)替换单位名录,并为每个村存入一份 village-branch 调查,
            经过与接口相同的检查和入库。数据是虚构的,但各项之间相互关联:较穷的县党员更老、学历更低、集体经济更弱、经费更紧。
            默认先存上一年(用表单最早的版本),再由各村上一年的调查生成本年:大多数答案不变,人数、收入、经费等按常见幅度变化,偶有换书记;
            并在约 0.5% 的村(--anomalies)埋入可疑数字(党员减半或多打一个零、收入猛增、经营性收入归零、书记出生年份改变、办公经费猛增),供检验警示和离群值筛查。
            加 --one-year 只存 --period 这一年;加 --keep-registry 则保留已有名录,为其中的村再存调查。
            Replaces the unit registry with a generated one (provinces, cities, counties of about 300 villages, townships, villages) and stores one village-branch survey per village, through the same checks and ingest as the API. The data is made up, but its figures hang together: poorer counties have older members, fewer graduates, weaker collective economies and tighter funding. By default the year before is stored first (with the form's oldest version), then each village's survey of the period is made from its own of the year before: most answers stay, counts, incomes and funding move as they do in a year, now and then a new secretary; in about 0.5% of villages (--anomalies) a doubtful figure is planted (half the members gone or a zero too many, income jumping, operating income gone, the secretary's year of birth changed, office funding jumping), to try the warnings and the outlier screening on. With --one-year only the period is stored; with --keep-registry the stored registry is kept and surveys are added for its villages.
            """)

    @OptionGroup var options: ServerOptions
    @OptionGroup var formsOption: FormsOption
    @Option(help: ArgumentHelp("村的数量(默认 300)/ Number of villages (default 300)", valueName: "n"))
    var villages: Int?
    @Flag(
        help: ArgumentHelp(
            "保留数据库里的单位名录,只为其中的村再存一年的调查 / Keep the stored registry and add another year of surveys for its villages"))
    var keepRegistry = false
    @Option(help: ArgumentHelp("年度报告期 / Annual period", valueName: "period"))
    var period = "2026"
    @Option(help: ArgumentHelp("随机种子,同一种子生成同样的数据 / Random seed; the same seed gives the same data", valueName: "n"))
    var seed: UInt64 = 1
    @Option(help: ArgumentHelp("已报送的村所占比例,其余算作未报送 / Share of villages that have reported; the rest have not", valueName: "share"))
    var reporting = 0.96
    @Flag(name: .customLong("one-year"), help: "只存 --period 这一年,不存上一年 / Store only the period, not the year before")
    var oneYear = false
    @Option(help: ArgumentHelp("埋入可疑数字的村所占比例(默认 0.005)/ Share of villages given a doubtful figure (default 0.005)", valueName: "share"))
    var anomalies = 0.005

    func validate() throws {
        if let villages, !(1...2_000_000).contains(villages) {
            throw ValidationError("--villages 应在 1 到 2,000,000 之间 / --villages must be between 1 and 2,000,000")
        }
        if keepRegistry, villages != nil {
            throw ValidationError("--keep-registry 沿用已有的村,不能再给 --villages / --keep-registry keeps the stored villages; leave out --villages")
        }
        guard Period(period)?.type == .annual else { throw ValidationError("--period 应为年份,如 2026 / --period must be a year, e.g. 2026") }
        guard anomalies >= 0, anomalies <= 1 else {
            throw ValidationError("--anomalies 应为 0 到 1 之间的比例 / --anomalies must be a share from 0 to 1")
        }
        guard reporting > 0, reporting <= 1 else {
            throw ValidationError("--reporting 应为大于 0、不超过 1 的比例,如 0.96 / --reporting must be a share above 0 and at most 1, e.g. 0.96")
        }
    }

    func run() async throws {
        let catalog = try formsOption.catalog(options)
        let storage = try await options.openStorage()
        let service = SurveyService(storage: storage, catalog: catalog)
        let terminal = isatty(STDERR_FILENO) != 0
        let summary: SeedSummary
        do {
            summary = try await service.seed(
                villages: keepRegistry ? nil : villages ?? 300, period: period, seed: seed, reporting: reporting, previousYear: !oneYear,
                anomalies: anomalies
            ) { done, total in
                guard terminal else { return }
                FileHandle.standardError.write(Data("\r\(done)/\(total)".utf8))
            }
        } catch let error as ServiceError {
            throw options.fail(error.message)
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        let rate = Double(summary.stored + summary.previousStored) / max(summary.ingestSeconds, 0.001)
        if !oneYear, let previous = Period(period)?.previous {
            options.say(L("已存入上一年 \(summary.previousStored) 份调查(\(previous))", "\(summary.previousStored) surveys stored for the year before (\(previous))"))
        }
        options.say(
            L(
                "单位名录:\(summary.units) 个单位;已存入 \(summary.stored) 份调查(\(period)),\(summary.refused) 份未通过;入库 \(String(format: "%.1f", summary.ingestSeconds)) 秒,每秒 \(Int(rate)) 份",
                "registry: \(summary.units) units; \(summary.stored) surveys stored for \(period), \(summary.refused) refused; ingest \(String(format: "%.1f", summary.ingestSeconds)) s, \(Int(rate)) per second"
            ))
        if !summary.planted.isEmpty {
            let kinds = Dictionary(grouping: summary.planted.values, by: \.rawValue).mapValues(\.count).sorted { $0.key < $1.key }
            let list = kinds.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            options.say(L("埋入可疑数字的村:\(summary.planted.count) 个(\(list))", "villages given a doubtful figure: \(summary.planted.count) (\(list))"))
        }
        if summary.refused > 0 { throw ExitCode.failure }
    }
}
