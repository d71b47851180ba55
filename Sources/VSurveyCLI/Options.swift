import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore

/// Options every command takes: language, where the forms are, and the
/// data directory (the survey database, the server settings and the forms
/// and units pulled from the server).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "界面语言 zh 或 en / Language of messages: zh or en.")
    var lang: String?

    @Option(name: .long, help: ArgumentHelp("表单目录 / Directory of forms (also VSURVEY_FORMS).", valueName: "dir"))
    var forms: String?

    @Option(name: .long, help: ArgumentHelp("把这一天当作今天,用于复核 / Treat this date (YYYY-MM-DD) as today, for reproducible checks", valueName: "date"))
    var today: String?

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp("数据目录 / Data directory (also VSURVEY_HOME; default $XDG_DATA_HOME/vsurvey or ~/.local/share/vsurvey)", valueName: "dir"))
    var dataDir: String?

    func validate() throws {
        if let forms, !FileManager.default.fileExists(atPath: forms) {
            throw ValidationError("表单目录不存在 / no such forms directory: \(forms)")
        }
        if let lang, Language(code: lang) == nil {
            throw ValidationError("--lang 应为 zh 或 en / --lang must be zh or en, not '\(lang)'")
        }
        if let today, CivilDate.parse(today) == nil {
            throw ValidationError("--today 应为 YYYY-MM-DD 格式的日期 / --today must be a date written YYYY-MM-DD")
        }
    }

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var language: Language { Language.resolve(explicit: lang, environment: environment) }

    /// The day `today()` means: `--today` for reproducible checks, else the clock.
    var todayNumber: Int { today.flatMap(CivilDate.parse) ?? CivilDate.today() }

    var dataDirectory: URL { SurveyStore.dataDirectory(explicit: dataDir, environment: environment) }

    /// Where `vsurvey sync` keeps the forms and units it pulls from the server.
    var pulledFormsDirectory: URL { dataDirectory.appendingPathComponent("forms") }

    /// Opens the survey database, or stops with a message saying what is
    /// wrong. Commands that only look pass `.readOnly`: they never migrate
    /// or write, and create nothing in a new data directory.
    func openStore(_ console: Console, access: SurveyStore.Access = .readWrite) throws -> SurveyStore {
        do {
            return try SurveyStore(directory: dataDirectory, access: access)
        } catch let error as StoreError {
            console.error(error.message)
            throw ExitCode.failure
        }
    }

    /// `./forms`, then the forms pulled from the server, then `--forms` or
    /// `VSURVEY_FORMS`; a later directory wins for the same form version.
    var formDirectories: [URL] {
        var directories = [URL(fileURLWithPath: "forms"), pulledFormsDirectory]
        if let explicit = forms ?? environment["VSURVEY_FORMS"], !explicit.isEmpty { directories.append(URL(fileURLWithPath: explicit)) }
        var seen = Set<String>()
        return directories.filter { seen.insert($0.standardizedFileURL.path).inserted && FileManager.default.fileExists(atPath: $0.path) }
    }

    func console() -> Console { Console(language: language, environment: environment) }

    /// Loads the catalog, or stops with a message when there are no forms.
    func catalog(_ console: Console) throws -> FormCatalog {
        let directories = formDirectories
        guard !directories.isEmpty else {
            console.error(
                L(
                    "找不到表单:当前目录下没有 forms/,也还没有从服务器同步表单;请用 --forms 或 VSURVEY_FORMS 指定,或运行 vsurvey sync",
                    "no forms: there is no ./forms here and none were pulled from the server yet; name a directory with --forms or VSURVEY_FORMS, or run vsurvey sync"
                ))
            throw ExitCode.failure
        }
        return FormCatalog(directories: directories)
    }

    /// The unit registry alone, for unit names in listings; nil without a
    /// forms directory or when the registry has errors (codes are shown alone).
    func registryIfAvailable() -> UnitRegistry? {
        let directories = formDirectories
        guard !directories.isEmpty else { return nil }
        let catalog = FormCatalog(directories: directories, forms: false)
        return catalog.registryProblems.isEmpty ? catalog.registry : nil
    }

    /// The unit registry, or a stop with every problem when it is broken:
    /// checking units against half a registry would mislead.
    func registry(_ catalog: FormCatalog, _ console: Console) throws -> UnitRegistry? {
        guard catalog.registryProblems.isEmpty else {
            console.error(L("单位名录有错误,无法核对单位代码:", "the unit registry has errors, so unit codes cannot be checked:"))
            for issue in catalog.registryProblems { console.error("  " + issue.rendered(console.language)) }
            throw ExitCode.failure
        }
        return catalog.registry
    }

    /// The form named on the command line, or a message listing what exists.
    func form(_ reference: String, in catalog: FormCatalog, _ console: Console) throws -> Form {
        if let form = catalog.form(reference) { return form }
        let known = catalog.allForms.map { "\($0.id)@\($0.version)" }.joined(separator: ", ")
        var message = L(
            "找不到表单 “\(reference)”。现有表单:\(known.isEmpty ? "无" : known)", "no form '\(reference)'. Forms available: \(known.isEmpty ? "none" : known)")
        if !catalog.problems.isEmpty {
            message.zh += "\n有表单无法载入,请运行 vsurvey form check 查看"
            message.en! += "\nsome forms could not be loaded; run vsurvey form check to see why"
        }
        console.error(message)
        throw ExitCode.failure
    }
}
