import ArgumentParser
import Foundation
import SurveyCore
import SurveyServer

/// `vsurvey-server`: the county's central endpoint.
public struct VSurveyServer: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "vsurvey-server",
        abstract: "村党组织建设调查 · 中心服务器 / VillageSurvey central server",
        discussion: """
            serve 接收并复核各村上报的调查;token 管理访问令牌;units 导入单位名录;forms 列出表单;surveys 浏览和阅读调查;conflicts 处理冲突;audit 查看审计日志。
            数据库默认是当前目录下的 vsurvey-server.sqlite(或 --db、VSURVEY_SERVER_DB);
            --db postgres://用户:密码@主机:端口/库名 则用 PostgreSQL,可多个服务器进程共用。
            serve receives and re-checks surveys; token manages access tokens; units imports the unit registry; forms lists the forms; surveys browses and reads surveys; conflicts settles conflicts; audit prints the audit log. The database is ./vsurvey-server.sqlite unless --db or VSURVEY_SERVER_DB names another; --db postgres://user:password@host:port/database uses PostgreSQL, which several server processes can share.
            """,
        version: ServerApplication.serverVersion,
        subcommands: [
            ServeCommand.self, TokenCommand.self, UserCommand.self, UnitsCommand.self, FormsCommand.self, SurveysCommand.self, ConflictsCommand.self,
            AuditCommand.self, ExportCommand.self,
            SeedCommand.self, MigrateCommand.self, CopyCommand.self,
        ]
    )

    public init() {}
}

/// Options of every server command.
struct ServerOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "数据库文件或 postgres:// 地址 / Database file, or a postgres:// address (also VSURVEY_SERVER_DB).", valueName: "path|url"))
    var db: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "PostgreSQL 连接池的连接数 / Connections in the PostgreSQL pool (also VSURVEY_DB_CONNECTIONS; default 8).", valueName: "n"))
    var connections: Int?

    @Option(name: .long, help: "界面语言 zh 或 en / Language of messages: zh or en.")
    var lang: String?

    func validate() throws {
        if let lang, Language(code: lang) == nil {
            throw ValidationError("--lang 应为 zh 或 en / --lang must be zh or en, not '\(lang)'")
        }
        if let connections, !(1...500).contains(connections) {
            throw ValidationError("--connections 应在 1 到 500 之间 / --connections must be between 1 and 500")
        }
    }

    var environment: [String: String] { ProcessInfo.processInfo.environment }
    var language: Language { Language.resolve(explicit: lang, environment: environment) }
    var databasePath: String { db ?? environment["VSURVEY_SERVER_DB"] ?? "vsurvey-server.sqlite" }

    func say(_ message: LocalizedText) { print(message.text(language)) }

    func fail(_ message: LocalizedText) -> ExitCode {
        FileHandle.standardError.write(Data(((language == .zh ? "错误:" : "error: ") + message.text(language) + "\n").utf8))
        return ExitCode.failure
    }

    var isPostgres: Bool { databasePath.hasPrefix("postgres://") || databasePath.hasPrefix("postgresql://") }

    /// The SQLite file, or the PostgreSQL database with its schema brought
    /// up to date.
    /// Opens the database. Commands that only make sense on a database in
    /// use (tokens, copy's source) pass `creating: false`, so that a
    /// mistyped `--db` is an error rather than a new, empty database.
    func openStorage(creating: Bool = true) async throws -> any ServerStorage {
        if !creating, !isPostgres, !FileManager.default.fileExists(atPath: databasePath) {
            throw fail(
                L(
                    "数据库 \(databasePath) 不存在(路径有误?);新数据库由 vsurvey-server units import 或 serve 建立",
                    "there is no database \(databasePath) (a mistyped path?); a new one is made by vsurvey-server units import or serve"))
        }
        do {
            if isPostgres {
                let pool = connections ?? environment["VSURVEY_DB_CONNECTIONS"].flatMap(Int.init) ?? 8
                let wait = environment["VSURVEY_DB_WAIT"].flatMap(Int.init).map { min(max($0, 1), 3600) } ?? 15
                return try await PostgresServerStorage(url: databasePath, connections: pool, openTimeout: .seconds(wait))
            }
            return try SQLiteServerStorage(path: databasePath)
        } catch let error as StorageError {
            throw fail(error.message)
        }
    }
}

/// The forms directory option, shared by `serve` and `forms list`.
struct FormsOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("表单目录 / Directory of forms (also VSURVEY_FORMS).", valueName: "dir"))
    var forms: String?

    var directory: URL { URL(fileURLWithPath: forms ?? ProcessInfo.processInfo.environment["VSURVEY_FORMS"] ?? "forms") }

    func catalog(_ options: ServerOptions) throws -> FormCatalog {
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw options.fail(L("表单目录不存在:\(directory.relativePath)(用 --forms 指定)", "no forms directory \(directory.relativePath) (name one with --forms)"))
        }
        return FormCatalog(directories: [directory])
    }
}

extension VSurveyServer {
    /// `vsurvey-server` as the executable runs it: like `main()`, but
    /// argument errors and usage are said in the user's language through
    /// `CommandLineText`.
    public static func mainLocalized(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
            exit(withError: nil)
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { exit(withError: error) }
            let text = CommandLineText.errorMessage(fullMessage(for: error), arguments: arguments, environment: ProcessInfo.processInfo.environment)
            FileHandle.standardError.write(Data((text + "\n").utf8))
            Foundation.exit(code.rawValue)
        }
    }
}
