import ArgumentParser
import Foundation
import SurveyCore
import SurveyReport
import SurveySQL

/// `vsurvey form …`: look at, check and try out survey forms.
struct FormCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "form",
        abstract: "查看、检查表单 / List, show and check survey forms",
        subcommands: [List.self, Show.self, Check.self, Validate.self, Import.self, Export.self]
    )
}

extension FormCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "列出可用表单 / List the forms available")

        @OptionGroup var options: GlobalOptions

        func run() throws {
            let console = options.console()
            let catalog = try options.catalog(console)
            let rows = catalog.allForms.map { form in
                [
                    form.id, form.version, form.title.text(console.language), FormPresenter.periodName(form.periodType, console.language),
                    form.unitLevel.label.text(console.language),
                    String(form.fields.filter { $0.type.holdsValue && !$0.isComputed }.count),
                ]
            }
            let header =
                console.language == .zh
                ? ["表单", "版本", "标题", "周期", "填报单位", "题数"]
                : ["form", "version", "title", "period", "unit level", "questions"]
            console.table(header, rows)
            if !catalog.problems.isEmpty {
                let files = Set(catalog.problems.map(\.file)).sorted()
                console.error(
                    L(
                        "以下表单有错误,未载入(运行 vsurvey form check 查看):\(files.joined(separator: "、"))",
                        "these forms have errors and were not loaded (run vsurvey form check): \(files.joined(separator: ", "))"))
            }
            if !catalog.registryProblems.isEmpty {
                console.error(L("单位名录有错误(运行 vsurvey form check 查看)", "the unit registry has errors (run vsurvey form check)"))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "按人能读懂的方式显示表单的题目 / Show a form's questions as a person reads them")

        @OptionGroup var options: GlobalOptions

        @Argument(help: "表单 ID,可写 ID@版本 / Form id, optionally id@version")
        var form: String

        func run() throws {
            let console = options.console()
            let catalog = try options.catalog(console)
            let form = try options.form(self.form, in: catalog, console)
            FormPresenter(form: form, console: console).show()
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "检查表单文件,列出全部问题 / Check form files and list every problem",
            discussion:
                "不给文件时检查表单目录中的全部表单和单位名录。退出码:0 全部通过,1 有问题。\nWithout files, checks every form and the unit registry in the forms directory. Exit status 0 when all are sound, 1 otherwise."
        )

        @OptionGroup var options: GlobalOptions

        @Argument(help: ArgumentHelp("表单文件 / Form files", valueName: "file"))
        var files: [String] = []

        func run() throws {
            let console = options.console()
            var urls = files.map { URL(fileURLWithPath: $0) }
            var registryFiles: [URL] = []
            if urls.isEmpty {
                let catalog = try options.catalog(console)
                for directory in catalog.directories {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
                    urls += names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { directory.appendingPathComponent($0) }
                    let unitsDirectory = directory.appendingPathComponent("units")
                    let csvNames = (try? FileManager.default.contentsOfDirectory(atPath: unitsDirectory.path)) ?? []
                    registryFiles += csvNames.filter { $0.hasSuffix(".csv") }.sorted().map { unitsDirectory.appendingPathComponent($0) }
                }
            }
            var failed = 0
            for url in urls {
                let display = url.relativePath
                do {
                    let form = try FormLoader.load(contentsOf: url)
                    // Indicators must be computable in the server's SQL.
                    let problems = ReportSQL(form: form, schema: ReportSchema(formID: form.id, versions: [form]), dialect: .sqlite).problems()
                    guard problems.isEmpty else {
                        failed += 1
                        console.out(
                            console.red("✗") + " \(display): "
                                + console.text(
                                    L("\(problems.count) 个指标无法计算", "\(problems.count) indicator\(problems.count == 1 ? "" : "s") cannot be computed")))
                        for problem in problems {
                            let line = form.indicators.first { $0.name == problem.indicator }?.line ?? 1
                            console.out("  \(display):\(line): \(problem.indicator): " + problem.message.text(console.language))
                        }
                        continue
                    }
                    console.out(console.green("✓") + " \(display): \(form.id)@\(form.version) " + form.title.text(console.language))
                } catch let error as FormLoadError {
                    failed += 1
                    console.out(
                        console.red("✗") + " \(display): "
                            + console.text(L("\(error.issues.count) 个问题", "\(error.issues.count) problem\(error.issues.count == 1 ? "" : "s")")))
                    for issue in error.issues { console.out("  " + issue.rendered(console.language)) }
                }
            }
            var failedRegistries = 0
            for url in registryFiles {
                do {
                    let registry = try UnitRegistry.load(contentsOf: url)
                    let counts = UnitLevel.allCases.compactMap { level -> String? in
                        let count = registry.units.filter { $0.level == level }.count
                        guard count > 0 else { return nil }
                        return console.language == .zh
                            ? "\(level.label.zh) \(count) 个" : "\(count) \(count == 1 ? level.rawValue : level.plural)"
                    }
                    console.out(
                        console.green("✓") + " \(url.relativePath): " + console.text(L("单位名录,", "unit registry: "))
                            + counts.joined(separator: console.language == .zh ? "," : ", "))
                } catch let error as RegistryError {
                    failedRegistries += 1
                    console.out(
                        console.red("✗") + " \(url.relativePath): "
                            + console.text(
                                L("单位名录有 \(error.issues.count) 个问题", "the unit registry has \(error.issues.count) problem\(error.issues.count == 1 ? "" : "s")")
                            ))
                    for issue in error.issues { console.out("  " + issue.rendered(console.language)) }
                }
            }
            if failed > 0 || failedRegistries > 0 {
                var summary = L("\(failed) 个表单未通过检查(共 \(urls.count) 个)", "\(failed) of \(urls.count) forms failed the check")
                if failedRegistries > 0 {
                    summary.zh += ",\(failedRegistries) 个单位名录文件有错误"
                    summary.en! += "; \(failedRegistries) registry file\(failedRegistries == 1 ? " has" : "s have") errors"
                }
                console.out(summary)
                throw ExitCode.failure
            }
            console.out(L("全部 \(urls.count) 个表单通过检查", "\(urls.count == 1 ? "the form is" : "all \(urls.count) forms are") sound"))
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "按表单检查一份答案文件 / Check an answers file against a form",
            discussion:
                "答案文件为 JSON 或 YAML:可以是含 form、unit、period、answers 的完整调查,也可以只有答案。有错误时退出码为 1。\nThe file is JSON or YAML: a whole survey with form, unit, period and answers, or the answers alone. Exit status 1 when there is any error."
        )

        @OptionGroup var options: GlobalOptions

        @Argument(help: "表单 ID,可写 ID@版本 / Form id, optionally id@version")
        var form: String

        @Argument(help: ArgumentHelp("答案文件 / Answers file (.json, .yaml)", valueName: "answers"))
        var answers: String

        @Option(
            help: ArgumentHelp(
                "上期同一单位的调查(答案文件),供 previous() 和警示使用 / Last period's survey of the same unit (an answers file), for previous() and the warnings",
                valueName: "file"))
        var previous: String?

        @Flag(name: .long, help: "以 JSON 输出结果和整理后的答案 / Print the result and the cleaned answers as JSON")
        var json = false

        func run() throws {
            let console = options.console()
            let catalog = try options.catalog(console)
            let submission = try console.readSubmission(answers)
            // A file that names a version of the form is checked with that
            // version, unless the command line names one.
            var reference = self.form
            if !reference.contains("@"), let version = submission.formVersion, submission.formID == nil || submission.formID == reference,
                catalog.form(reference, version: version) != nil
            {
                reference += "@" + version
            }
            let form = try options.form(reference, in: catalog, console)
            let registry = try options.registry(catalog, console)
            let baseline = try previous.map { file in
                let last = try console.readSubmission(file)
                return form.baseline(last.answers, period: last.period ?? "", today: options.todayNumber)
            }
            let result = form.validate(submission.answers, today: options.todayNumber, previous: baseline)
            let issues = submission.envelopeIssues(for: form, registry: registry) + result.issues
            if json {
                func list(_ items: [ValidationIssue]) -> JSONValue {
                    .array(
                        items.map { issue in
                            ["path": .string(issue.path), "code": .string(issue.code.rawValue), "message": .string(issue.message.text(console.language))]
                        })
                }
                let object: JSONValue = [
                    "valid": .bool(issues.isEmpty),
                    "issues": list(issues),
                    "warnings": list(result.warnings),
                    "checks": .array(
                        result.firedWarnings.map { warning in
                            ["warning": .string(warning.name), "path": .string(warning.path), "message": .string(warning.message.text(console.language))]
                        }),
                    "answers": .object(result.answers),
                ]
                console.out(object.serialized(pretty: true))
            } else {
                report(issues, form: form, submission: submission, registry: registry, console: console)
                for warning in result.firedWarnings {
                    console.out("  " + console.yellow("⚠ ") + console.describe(warning, in: form))
                }
                for warning in result.warnings {
                    console.out(
                        "  "
                            + console.dim(
                                console.text(L("提示:", "note: ")) + warning.path + (console.language == .zh ? ":" : ": ")
                                    + warning.message.text(console.language)))
                }
            }
            if !issues.isEmpty { throw ExitCode.failure }
        }

        func report(_ issues: [ValidationIssue], form: Form, submission: Submission, registry: UnitRegistry?, console: Console) {
            if issues.isEmpty {
                var what = "\(form.title.text(console.language)) \(form.version)"
                if let unit = submission.unit {
                    what += ", \(unit)"
                    if let code = UnitCode(unit), let name = registry?.unit(code)?.name { what += " \(name)" }
                }
                if let period = submission.period { what += ", \(period)" }
                console.out(console.green("✓ ") + console.text(L("\(answers):通过检查(\(what))", "\(answers): valid (\(what))")))
                return
            }
            console.out(
                console.red("✗ ") + console.text(L("\(answers):\(issues.count) 个问题", "\(answers): \(issues.count) problem\(issues.count == 1 ? "" : "s")")))
            for issue in issues { console.out("  " + console.describe(issue, in: form)) }
        }
    }
}
