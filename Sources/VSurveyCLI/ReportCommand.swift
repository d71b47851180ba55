import ArgumentParser
import Foundation
import SurveyCore
import SurveyHTTP
import SurveyReport
import SurveyStore
import SurveySync

/// `vsurvey report FORM`: the form's indicators for a scope and period,
/// from this device's surveys (offline) or, with `--remote`, from the server.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "汇总指标、报送情况和重点关注名单 / Indicators, completeness and watch lists",
        discussion: """
            默认用本机数据库中已定稿(含已上报)的调查,离线可用,例如乡镇干部查看本乡镇各村;
            --remote 从服务器取县里汇总的报告(需要 vsurvey login,查看者令牌)。
            输出:终端表格(默认)、--format csv(UTF-8 带 BOM,可用表格软件打开)或 --format json。
            By default the report is made from this device's finalized (and sent) surveys, offline; --remote asks the server for the county's report (vsurvey login with a viewer token). Output: a terminal table (default), --format csv (UTF-8 with a BOM, for spreadsheets) or --format json.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("表单 ID / Form id", valueName: "form"))
    var form: String
    @Option(help: ArgumentHelp("范围单位代码(县、乡镇);默认为名录的最上级 / Scope unit code; default: the registry's top unit", valueName: "code"))
    var unit: String?
    @Option(help: ArgumentHelp("报告期;默认为当前 / Period; default: the current one", valueName: "period"))
    var period: String?
    @Option(help: ArgumentHelp("table、csv 或 json / table, csv or json", valueName: "format"))
    var format = "table"
    @Option(help: ArgumentHelp("写入文件而不是屏幕 / Write to a file instead of the screen", valueName: "file"))
    var output: String?
    @Option(help: ArgumentHelp("每个名单最多列出的单位数 / At most this many units per list", valueName: "n"))
    var limit = 50
    @Flag(help: "从服务器取报告 / Get the report from the server")
    var remote = false
    @Option(
        help: ArgumentHelp(
            "CSV 表头:labels(题目文字,百分比写作 94.12)或 names(指标名,比率写作 0.9412)/ CSV headers: labels (percentages as 94.12) or names (ratios as 0.9412)",
            valueName: "labels|names"))
    var headers: ExportCommand.Headers = .labels
    @Option(help: ArgumentHelp("另写一份含图表的网页报告 / Also write the report as a web page with charts", valueName: "file"))
    var html: String?

    func validate() throws {
        guard ["table", "csv", "json"].contains(format) else { throw ValidationError("--format 应为 table、csv 或 json / --format must be table, csv or json") }
        if let unit, UnitCode(unit) == nil { throw ValidationError("单位代码应为 12 位数字 / the unit code must be 12 digits") }
        if let period, Period(period) == nil { throw ValidationError("“\(period)” 不是报告期 / '\(period)' is not a period") }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit 应在 1 到 10000 之间 / --limit must be between 1 and 10000") }
    }

    func run() throws {
        let console = options.console()
        let (text, htmlPage) = remote ? try remoteReport(console) : try localReport(console)
        if let html, let page = htmlPage {
            do {
                try OwnerOnlyFile.write(page, to: html)
            } catch {
                console.error(L("无法写入 \(html):\(error.localizedDescription)", "cannot write \(html): \(error.localizedDescription)"))
                throw ExitCode.failure
            }
            // On standard error, so that the report itself can be piped.
            FileHandle.standardError.write(Data((console.text(L("网页报告已写入 \(html)", "web page written to \(html)")) + "\n").utf8))
        }
        if let output {
            do {
                try OwnerOnlyFile.write(text, to: output)
            } catch {
                console.error(L("无法写入 \(output):\(error.localizedDescription)", "cannot write \(output): \(error.localizedDescription)"))
                throw ExitCode.failure
            }
            console.out(L("报告已写入 \(output)", "report written to \(output)"))
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    func scope(_ registry: UnitRegistry?, _ console: Console) throws -> UnitCode {
        if let unit, let code = UnitCode(unit) {
            // A code the registry does not know would make a report of nothing, titled with the code.
            if let registry, registry.unit(code) == nil {
                console.error(
                    L(
                        "单位 \(unit) 不在单位名录中;请检查代码(vsurvey report 的范围应为县或乡镇)",
                        "unit \(unit) is not in the unit registry; check the code (a report's scope is a county or township)"))
                throw ExitCode.failure
            }
            return code
        }
        if let roots = registry?.roots, roots.count == 1 { return roots[0].code }
        console.error(L("请用 --unit 指定范围(县或乡镇的单位代码)", "name the scope with --unit (a county or township code)"))
        throw ExitCode.failure
    }

    /// The report as asked, and the web page when `--html` asks for one.
    func localReport(_ console: Console) throws -> (String, String?) {
        let catalog = try options.catalog(console)
        let registry = try options.registry(catalog, console)
        guard let versions = catalog.forms[form], let latest = versions.last else {
            _ = try options.form(form, in: catalog, console)
            throw ExitCode.failure
        }
        let scope = try scope(registry, console)
        let period = period ?? Period.containing(day: options.todayNumber, type: latest.periodType).description
        let store = try options.openStore(console, access: .readOnly)
        let stored = try storeStep(console) {
            try store.list(SurveyFilter(statuses: [.finalized, .sent, .held, .mismatch], formID: form, unit: scope))
        }
        let surveys = stored.compactMap { survey -> ReportSurvey? in
            guard let version = versions.first(where: { $0.version == survey.formVersion }) else { return nil }
            return ReportSurvey(
                unit: survey.unitCode, period: survey.period, form: version, answers: survey.answerObject,
                reportedAt: survey.finalizedAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) })
        }
        let length = Report.groupLength(scope: scope, form: latest)
        let reference = ReferenceEvaluator(form: latest)
        let due = latest.deadline(of: period)
        let data = reference.data(surveys, scopePrefix: scope.prefix, period: period, groupLength: length, dueBefore: due, watchLimit: limit)
        let previous = Period(period)?.previous.map {
            reference.data(surveys, scopePrefix: scope.prefix, period: $0.description, groupLength: length, dueBefore: nil, watchLimit: limit)
        }
        let report = Report(form: latest, registry: registry, scope: scope, period: period, data: data, previous: previous, missingLimit: limit)
        if !surveys.contains(where: { $0.period == period }) {
            // On standard error, so that the report itself can still be piped.
            FileHandle.standardError.write(
                Data(
                    (console.yellow(
                        console.text(
                            L(
                                "注意:本机没有 \(console.unitName(scope.rawValue, registry)) \(period) 的已定稿调查,下面的报告全是“未报送”。要看服务器上县里汇总的报告,请加 --remote(需先 vsurvey login)。",
                                "Note: this device has no finalized surveys for \(console.unitName(scope.rawValue, registry)) in \(period), so every unit below is 'not reported'. For the county's report from the server, add --remote (after vsurvey login)."
                            ))) + "\n").utf8))
        }
        let page = html == nil ? nil : report.html(console.language, generated: SyncCommand.clock())
        switch format {
        case "csv": return (report.csv(console.language, headers: headers == .labels ? .labels : .names), page)
        case "json": return (report.json(console.language).serialized(pretty: true) + "\n", page)
        default: return (report.text(console.language, width: console.width), page)
        }
    }

    func remoteReport(_ console: Console) throws -> (String, String?) {
        guard let settings = try SyncConfig.load(options.dataDirectory, environment: options.environment) else {
            console.error(L("还没有服务器设置:先运行 vsurvey login", "no server yet: run vsurvey login first"))
            throw ExitCode.failure
        }
        var query = ["format=\(format == "csv" ? "csv" : "json")", "limit=\(limit)", "headers=\(headers.rawValue)"]
        if let unit { query.append("scope=\(unit)") }
        if let period { query.append("period=\(period)") }
        let client = HTTPClient(options: settings.clientOptions())
        let request = HTTPRequest(
            url: settings.server + "/api/v1/reports/\(form)?" + query.joined(separator: "&"), headers: settings.headers(language: console.language))
        let response: HTTPResponse
        do {
            response = try client.send(request)
        } catch {
            console.error(error.message)
            throw ExitCode(2)
        }
        let body = String(decoding: response.body, as: UTF8.self)
        var htmlPage: String?
        if html != nil, response.status == 200 {
            var pageQuery = query.filter { !$0.hasPrefix("format=") }
            pageQuery.append("lang=\(console.language == .en ? "en" : "zh")")
            let page = HTTPRequest(
                url: settings.server + "/reports/\(form)?" + pageQuery.joined(separator: "&"), headers: settings.headers(language: console.language))
            if let reply = try? client.send(page), reply.status == 200 { htmlPage = String(decoding: reply.body, as: UTF8.self) }
        }
        guard response.status == 200 else {
            let message = SyncEngine.errorMessage(response) ?? "HTTP \(response.status)"
            console.error(L("服务器拒绝:\(message)", "the server refused: \(message)"))
            throw ExitCode.failure
        }
        switch format {
        case "csv": return (body, htmlPage)
        case "json": return ((try? JSONParser().parse(response.body).serialized(pretty: true)).map { $0 + "\n" } ?? body, htmlPage)
        default:
            return (try Self.decoded(response.body, catalog: options.catalog(console), console: console).text(console.language, width: console.width), htmlPage)
        }
    }

    /// The server's JSON report read as a `Report` of the device's copy of
    /// its form version, to be shown as a report made here would be.
    static func decoded(_ body: [UInt8], catalog: FormCatalog, console: Console) throws -> Report {
        do {
            let json: JSONValue
            do {
                json = try JSONParser().parse(body)
            } catch {
                throw WireError(L("服务器的报告不是有效的 JSON:\(error.message.zh)", "the server's report is not valid JSON: \(error.message.text(.en))"))
            }
            let id = json.string(at: "form", "id") ?? ""
            let version = json.string(at: "form", "version") ?? ""
            guard let form = catalog.form(id, version: version) else {
                throw WireError(
                    L(
                        "本机没有表单 \(id) 的版本 \(version);先运行 vsurvey sync 取得它",
                        "this device does not have version \(version) of form \(id); run vsurvey sync to get it"))
            }
            return try Report(json: json, form: form)
        } catch let error as WireError {
            console.error(error.message)
            throw ExitCode.failure
        }
    }
}
