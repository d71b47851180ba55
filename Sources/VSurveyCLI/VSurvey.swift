import ArgumentParser

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
            ReportCommand.self, FormCommand.self, ExprCommand.self, BackupCommand.self,
        ]
    )

    public init() {}
}
