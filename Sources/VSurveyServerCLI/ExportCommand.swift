import ArgumentParser
import Foundation
import SurveyCore
import SurveyServer

/// `vsurvey-server export`: a form's raw data, as the API's export makes it.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "导出一个表单的原始数据 / Export a form's raw data: xlsx, a ZIP of CSV files, or JSON Lines.",
        discussion: """
            xlsx:调查一张表、每个重复组一张表(以调查编号关联),单位代码为文本,另有单位和乡镇名称列;csv:每个表一个 CSV 文件(UTF-8 带 BOM),打包为 ZIP;jsonl:每行一份调查。表单的所有版本合为一套列。边生成边写入文件,内存不随调查数增长。
            xlsx: a sheet for the surveys and one per repeat (joined by the survey id), unit codes as text, unit and township names beside them; csv: one CSV file per table (UTF-8 with a byte order mark) in a ZIP; jsonl: a survey per line. Every version of the form shares one set of columns. Written as it is made: memory does not grow with the surveys.
            """)

    @OptionGroup var options: ServerOptions
    @OptionGroup var forms: FormsOption
    @OptionGroup var acting: ActingOptions
    @Argument(help: "表单编号 / The form id.") var form: String
    @Option(help: "报告期,如 2026(默认全部)/ Period, such as 2026 (default: all).") var period: String?
    @Option(help: ArgumentHelp("范围:12 位单位代码 / Scope: a 12-digit unit code.", valueName: "code")) var scope: String?
    @Option(help: "格式 / Format: xlsx (default), csv or jsonl.") var format: String = "xlsx"
    @Option(help: "选项和表头写文字还是代码 / Headers and choices as labels (default) or codes.") var values: String = "labels"
    @Option(help: "只导出这种审核状态 / Only surveys in this review state.") var review: String?
    @Option(name: [.short, .long], help: ArgumentHelp("输出文件 / Output file.", valueName: "file")) var output: String

    func validate() throws {
        guard ExportFormat(rawValue: format) != nil else { throw ValidationError("--format 应为 xlsx、csv 或 jsonl / --format must be xlsx, csv or jsonl") }
        guard values == "labels" || values == "codes" else { throw ValidationError("--values 应为 labels 或 codes / --values must be labels or codes") }
        if let scope, UnitCode(scope) == nil { throw ValidationError("--scope 应为 12 位单位代码 / --scope must be a 12-digit unit code") }
        if let review, ReviewState(rawValue: review) == nil {
            throw ValidationError("--review 应为 pending、approved、accepted 或 returned / --review must be pending, approved, accepted or returned")
        }
    }

    func run() async throws {
        let context = try await CommandContext.open(options, forms, acting)
        try await context.run {
            let request = ExportRequest(
                formID: form, period: period, scope: scope.flatMap(UnitCode.init) ?? context.principal.unit, review: review.flatMap(ReviewState.init),
                format: ExportFormat(rawValue: format)!, labels: values == "labels", language: context.language)
            let (progress, directory) = try await context.service.startExport(request, for: context.principal, address: "cli")
            defer {
                progress.cancel()
                try? FileManager.default.removeItem(at: directory)
            }
            let url = URL(fileURLWithPath: output)
            // Survey data: owner-only, and never half a file under the final name.
            let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
            guard FileManager.default.createFile(atPath: partial.path, contents: nil, attributes: [.posixPermissions: 0o600]),
                let handle = try? FileHandle(forWritingTo: partial)
            else {
                throw options.fail(L("无法写入 \(output)", "cannot write \(output)"))
            }
            let terminal = isatty(STDERR_FILENO) == 1
            var written = 0
            do {
                try await progress.copy { data in
                    handle.write(data)
                    written += data.count
                    if terminal { FileHandle.standardError.write(Data("\r\(written / 1_048_576) MB".utf8)) }
                }
                try handle.close()
            } catch {
                try? handle.close()
                try? FileManager.default.removeItem(at: partial)
                throw error
            }
            if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
            _ = try? FileManager.default.removeItem(at: url)
            try FileManager.default.moveItem(at: partial, to: url)
            let surveys = progress.snapshot.surveys
            options.say(
                L("已导出 \(surveys) 份调查到 \(output)(\(written) 字节)", "exported \(surveys) survey\(surveys == 1 ? "" : "s") to \(output) (\(written) bytes)"))
        }
    }
}
