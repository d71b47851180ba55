import ArgumentParser
import Foundation
import SurveyCore
import SurveySpreadsheet
import SurveyXLSForm

/// `vsurvey form import` and `vsurvey form export`: forms written in Excel
/// (XLSForm) made into YAML forms, and YAML forms written as XLSForm.
extension FormCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "把 XLSForm 工作簿导入为 YAML 表单 / Import an XLSForm workbook (.xlsx) as a YAML form",
            discussion: """
                读取 survey、choices、settings 工作表(以及本系统的 indicators、warnings、charts),写出 vsurvey form check 接受的 YAML 表单。本系统不支持的内容按工作表、行、列报错或提醒,不会悄悄丢弃。select_one_from_file 的 CSV 文件应与工作簿在同一目录。
                Reads the survey, choices and settings sheets (and this project's indicators, warnings and charts sheets) and writes a YAML form that vsurvey form check accepts. What the engine does not support is refused or warned about by sheet, row and column, never dropped silently. The CSV file of a select_one_from_file must be beside the workbook.
                Exit status: 0 imported, 1 refused.
                """)

        @OptionGroup var options: GlobalOptions

        @Argument(help: ArgumentHelp("XLSForm 工作簿 / The XLSForm workbook", valueName: "file.xlsx"))
        var file: String

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp("写到此文件(- 为标准输出);默认 forms/<form_id>.yaml / Write here (- for standard output); default forms/<form_id>.yaml", valueName: "file"))
        var output: String?

        @Flag(name: .long, help: "覆盖已有文件 / Replace an existing file")
        var force = false

        func run() throws {
            let console = options.console()
            let url = URL(fileURLWithPath: file)
            guard FileManager.default.fileExists(atPath: url.path) else {
                console.error(L("找不到文件 \(file)", "no such file: \(file)"))
                throw ExitCode.failure
            }
            let imported: XLSFormImport
            do {
                imported = try XLSFormImporter.convert(workbook: url, file: file)
            } catch {
                let errors = error.messages.filter(\.isError)
                console.error(
                    L(
                        "无法导入 \(file):\(errors.count) 个问题", "\(file) cannot be imported: \(errors.count) problem\(errors.count == 1 ? "" : "s")"))
                // Refusals first, then what would only have been warned about.
                for message in error.messages.filter(\.isError) + error.messages.filter({ !$0.isError }) {
                    let mark = message.isError ? console.red("✗") : console.yellow("!")
                    console.detail("  \(mark) " + message.rendered(console.language, file: file))
                }
                throw ExitCode.failure
            }
            for message in imported.warnings {
                console.detail(console.yellow("!") + " " + message.rendered(console.language, file: file))
            }
            let form = imported.form
            if output == "-" {
                FileHandle.standardOutput.write(Data(imported.yaml.utf8))
                return
            }
            let path = output ?? "forms/\(form.id).yaml"
            if FileManager.default.fileExists(atPath: path), !force {
                console.error(L("\(path) 已存在;用 --force 覆盖,或用 --output 写到别处", "\(path) exists; use --force to replace it, or --output to write elsewhere"))
                throw ExitCode.failure
            }
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try Data(imported.yaml.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                console.error(L("无法写入 \(path):\(error.localizedDescription)", "cannot write \(path): \(error.localizedDescription)"))
                throw ExitCode.failure
            }
            let questions = form.fields.filter { $0.takesAnswer }.count
            console.out(
                console.green("✓ ")
                    + console.text(
                        L(
                            "已导入 \(form.id)@\(form.version):\(questions) 道题,\(form.choiceLists.count - 1) 个选项表,\(form.indicators.count) 个指标 → \(path)",
                            "imported \(form.id)@\(form.version): \(questions) question\(questions == 1 ? "" : "s"), \(form.choiceLists.count - 1) choice list\(form.choiceLists.count == 2 ? "" : "s"), \(form.indicators.count) indicator\(form.indicators.count == 1 ? "" : "s") → \(path)"
                        )))
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "把表单写成 XLSForm 工作簿,以便在 Excel 中编辑 / Write a form as an XLSForm workbook, to edit in Excel",
            discussion: """
                用 vsurvey form import 可再导入,得到同样的表单(题目、类型、标签、选项、表达式和指标)。
                vsurvey form import reads it back as the same form: the same fields, types, labels, choices, expressions and indicators.
                """)

        @OptionGroup var options: GlobalOptions

        @Argument(help: "表单 ID,可写 ID@版本 / Form id, optionally id@version")
        var form: String

        @Option(name: .long, help: ArgumentHelp("格式,目前只有 xlsx / Format: xlsx (the only one)", valueName: "format"))
        var format = "xlsx"

        @Option(name: .shortAndLong, help: ArgumentHelp("写到此文件 / The workbook to write", valueName: "file.xlsx"))
        var output: String

        func validate() throws {
            guard format == "xlsx" else { throw ValidationError("--format 只能是 xlsx / --format must be xlsx, not '\(format)'") }
        }

        func run() throws {
            let console = options.console()
            let catalog = try options.catalog(console)
            let form = try options.form(self.form, in: catalog, console)
            let data: Data
            do {
                data = try XLSXWriter.data(try XLSFormExporter.sheets(formFile: URL(fileURLWithPath: form.file)))
            } catch {
                console.error(L("无法导出 \(form.file):\(error)", "cannot export \(form.file): \(error)"))
                throw ExitCode.failure
            }
            do {
                let directory = URL(fileURLWithPath: output).deletingLastPathComponent()
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try data.write(to: URL(fileURLWithPath: output), options: .atomic)
            } catch {
                console.error(L("无法写入 \(output):\(error.localizedDescription)", "cannot write \(output): \(error.localizedDescription)"))
                throw ExitCode.failure
            }
            console.out(console.green("✓ ") + console.text(L("已导出 \(form.id)@\(form.version) → \(output)", "exported \(form.id)@\(form.version) → \(output)")))
        }
    }
}
