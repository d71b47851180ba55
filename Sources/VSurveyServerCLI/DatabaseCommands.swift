import ArgumentParser
import Foundation
import SurveyCore
import SurveyServer
import Synchronization

/// `vsurvey-server migrate`: brings a database's schema up to date.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "把数据库结构更新到当前版本 / Bring the database's schema up to date.",
        discussion: """
            serve 启动时也会这样做;多个服务器同时启动时,PostgreSQL 上的迁移只做一次(咨询锁)。
            serve does the same at start; on PostgreSQL, migrations run once even when several servers start together (an advisory lock).
            """)

    @OptionGroup var options: ServerOptions

    func run() async throws {
        let storage = try await options.openStorage()
        let applied: [String]
        if let postgres = storage as? PostgresServerStorage {
            applied = try await postgres.appliedMigrations()
        } else if let sqlite = storage as? SQLiteServerStorage {
            applied = try await sqlite.appliedMigrations()
        } else {
            applied = []
        }
        options.say(
            L(
                "数据库 \(storage.location) 的结构已是最新:\(applied.joined(separator: "、"))",
                "the schema of \(storage.location) is up to date: \(applied.joined(separator: ", "))"))
    }
}

/// `vsurvey-server copy`: moves a server's data to another database.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "把服务器数据复制到另一个数据库 / Copy a server's data into another database.",
        discussion: """
            例如把一个县的 SQLite 文件并入省里的 PostgreSQL:目标必须是空库(不能有名录、令牌或调查)。令牌、名录、全部调查及其修订、冲突原样复制(编号不变),
            然后重建报表表,并逐表比较行数和 SHA-256 校验和;不一致时退出码为 1。
            For example, a county's SQLite file onto the province's PostgreSQL server. The destination must be empty (no registry, tokens or surveys). Tokens, the registry, every survey with all its revisions, and the conflicts are copied as they are (ids kept); the report tables are then built, and each table's row count and SHA-256 checksum are compared. The exit status is 1 if any differs.
            """)

    @Option(help: ArgumentHelp("来源:sqlite:文件 或 postgres://… / Source: sqlite:PATH or postgres://…", valueName: "store"))
    var from: String

    @Option(help: ArgumentHelp("目标:postgres://… 或 sqlite:文件 / Destination: postgres://… or sqlite:PATH", valueName: "store"))
    var to: String

    @Option(name: .long, help: "界面语言 zh 或 en / Language of messages: zh or en.")
    var lang: String?

    @OptionGroup var formsOption: FormsOption

    func validate() throws {
        for store in [from, to] where !(store.hasPrefix("sqlite:") || store.hasPrefix("postgres://") || store.hasPrefix("postgresql://")) {
            throw ValidationError(
                "“\(store)” 应为 sqlite:路径 或 postgres://用户:密码@主机:端口/库名 / '\(store)' must be sqlite:PATH or postgres://user:password@host:port/database")
        }
        if from == to { throw ValidationError("--from 和 --to 是同一个数据库 / --from and --to name the same database") }
    }

    func options(_ store: String) throws -> ServerOptions {
        let path = store.hasPrefix("sqlite:") ? String(store.dropFirst("sqlite:".count)) : store
        return try ServerOptions.parse(["--db", path] + (lang.map { ["--lang", $0] } ?? []))
    }

    func run() async throws {
        let say = try options(from)
        if from.hasPrefix("sqlite:"), !FileManager.default.fileExists(atPath: String(from.dropFirst("sqlite:".count))) {
            throw say.fail(L("来源文件不存在:\(from)", "the source file does not exist: \(from)"))
        }
        let catalog = try formsOption.catalog(say)
        let source = try await say.openStorage(creating: false)
        let destination = try await options(to).openStorage()
        let terminal = isatty(STDERR_FILENO) != 0
        let started = ContinuousClock.now
        let summary: CopySummary
        do {
            // On a terminal a line that counts; in a log a line every 100,000 rows of each step.
            let last = Mutex("")
            summary = try await StorageCopy.copy(from: source, to: destination, catalog: catalog) { step, rows in
                if terminal {
                    guard rows % 10_000 < 1_000 || rows < 2_000 else { return }
                    // A new step on a line of its own, after the last count of the one before.
                    let newLine = last.withLock { previous in
                        defer { previous = step }
                        return !previous.isEmpty && previous != step
                    }
                    FileHandle.standardError.write(Data("\(newLine ? "\n" : "\r")\(step): \(rows)   ".utf8))
                } else if rows % 100_000 < 1_000 {
                    FileHandle.standardError.write(Data("\(step): \(rows)\n".utf8))
                }
            }
        } catch let error as StorageCopy.Failure {
            throw say.fail(L("无法复制:\(error.message.zh)", "cannot copy: \(error.message.text(.en))"))
        } catch let error as StorageError {
            throw say.fail(error.message)
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        let seconds = Double((ContinuousClock.now - started).components.seconds)
        say.say(L("\(source.location) → \(destination.location)", "\(source.location) → \(destination.location)"))
        for table in summary.tables {
            say.say(
                L(
                    "  \(table.name):\(table.rows) 行,校验和\(table.matches ? "一致" : "不一致!")(\(table.destinationChecksum.prefix(16))…)",
                    "  \(table.name): \(table.rows) rows, checksum \(table.matches ? "equal" : "DIFFERENT") (\(table.destinationChecksum.prefix(16))…)"))
        }
        say.say(
            L(
                "报表行:\(summary.reportRows);用时 \(Int(seconds)) 秒。\(summary.matches ? "两边一致。" : "两边不一致!")",
                "report rows: \(summary.reportRows); \(Int(seconds)) s. \(summary.matches ? "Both sides are equal." : "The sides DIFFER.")"))
        if !summary.matches { throw ExitCode.failure }
    }
}
