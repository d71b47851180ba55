import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore

/// `vsurvey`: the field worker's command-line client.
public struct VSurvey: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "vsurvey",
        abstract: "村党组织建设调查 · 现场填报工具 / VillageSurvey field client",
        discussion: """
            表单从 ./forms 读取,也可用 --forms 或环境变量 VSURVEY_FORMS 指定目录。
            界面默认中文;--lang en 或英文 locale 时显示英文。
            Forms are read from ./forms and from the directory named by --forms or VSURVEY_FORMS.
            Messages are in Chinese unless --lang en is given or the locale is English.
            """,
        version: "0.1.0",
        subcommands: [
            FillCommand.self, ResumeCommand.self, EditCommand.self, FinalizeCommand.self, DiscardCommand.self,
            ListCommand.self, ShowCommand.self, ExportCommand.self, LoginCommand.self, LogoutCommand.self, SyncCommand.self, StatusCommand.self,
            ReportCommand.self, FormCommand.self, ExprCommand.self, BackupCommand.self, BaselineCommand.self,
        ]
    )

    public init() {}
}

extension VSurvey {
    /// `vsurvey` as the executable runs it: like `main()`, but argument
    /// errors and usage are said in the user's language (`--lang`, else
    /// the locale) through `CommandLineText`.
    public static func mainLocalized(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            exit(withError: nil)
        } catch {
            exitLocalized(error, arguments: arguments)
        }
    }

    static func exitLocalized(_ error: any Error, arguments: [String]) -> Never {
        let code = exitCode(for: error)
        // Help, the version, and our own exit codes (the message is already out): as ArgumentParser does them.
        if code == .success || error is ExitCode { exit(withError: error) }
        let environment = ProcessInfo.processInfo.environment
        var text = fullMessage(for: error)
        if let error = error as? StoreError {
            let language = CommandLineText.language(of: arguments, environment: environment)
            text = (language == .zh ? "错误:" : "Error: ") + error.message.text(language)
        }
        FileHandle.standardError.write(Data((CommandLineText.errorMessage(text, arguments: arguments, environment: environment) + "\n").utf8))
        Foundation.exit(code.rawValue)
    }
}
