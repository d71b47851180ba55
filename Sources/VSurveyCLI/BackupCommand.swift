import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore

/// `vsurvey backup FILE`: a copy of the device's survey database.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "把本机的调查数据库备份到一个文件 / Copy this device's survey database to a file",
        discussion: """
            备份是完整的数据库副本(仅本人可读),可以在填报进行中制作。恢复时,把它复制为数据目录中的 vsurvey.sqlite。
            The backup is a whole copy of the database, readable by its owner only, and can be made while other commands run. To restore it, copy it as vsurvey.sqlite into the data directory.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("备份文件(不可已存在)/ The backup file (must not exist yet)", valueName: "file"))
    var file: String

    func run() throws {
        let console = options.console()
        // A missing or empty database (a mistyped --data-dir) has nothing to back up.
        let database = options.dataDirectory.appendingPathComponent(SurveyStore.fileName).path
        var info = stat()
        guard stat(database, &info) == 0, info.st_size > 0 else {
            console.error(
                L(
                    "\(database) 不存在或是空文件,没有可备份的调查;请检查 --data-dir 或 VSURVEY_HOME",
                    "\(database) is missing or empty: there are no surveys to back up; check --data-dir or VSURVEY_HOME"))
            throw ExitCode.failure
        }
        let store = try options.openStore(console, access: .readOnly)
        do {
            try store.backup(to: file)
            let count = try store.statusCounts().values.reduce(0, +)
            console.out(L("已备份 \(count) 份调查到 \(file)", "\(count) survey\(count == 1 ? "" : "s") backed up to \(file)"))
        } catch let error as StoreError {
            console.error(error.message)
            throw ExitCode.failure
        }
    }
}
