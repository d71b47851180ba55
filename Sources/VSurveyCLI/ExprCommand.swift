import ArgumentParser
import Foundation
import SurveyCore

/// `vsurvey expr`: evaluate an expression, for form authors testing a rule.
struct ExprCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expr",
        abstract: "计算一个表达式的值 / Print the value of an expression",
        discussion: """
            例 / Examples:
              vsurvey expr "1 + 2 * 3"
              vsurvey expr "\\${members_age_60_over} div \\${members_total}" --answers survey.json --form village-branch
            给出 --form 时,答案先按表单整理(计算字段重新计算,不相关的题目清空);
            不给 --form 时,\\${name} 直接取答案文件中的值。
            With --form, the answers are first settled by the form (calculations recomputed, questions that are not relevant cleared); without it, ${name} reads the file's values as they are.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "表达式 / The expression")
    var expression: String

    @Option(name: .long, help: ArgumentHelp("答案文件 / Answers file", valueName: "file"))
    var answers: String?

    @Option(name: .long, help: ArgumentHelp("表单 ID / Form id", valueName: "id"))
    var form: String?

    func run() throws {
        let console = options.console()
        var object = JSONObject()
        if let answers {
            object = try console.readSubmission(answers).answers
        }
        let value: Value
        do {
            if let reference = form {
                let catalog = try options.catalog(console)
                let form = try options.form(reference, in: catalog, console)
                value = try form.evaluate(expression, answers: object, today: options.todayNumber)
            } else {
                value = try ExpressionEvaluator.evaluate(expression, answers: object, today: options.todayNumber)
            }
        } catch let error as ExpressionError {
            console.error(console.text(L("表达式第 \(error.column) 列:", "column \(error.column): ")) + console.text(error.message))
            console.out(expression)
            console.out(String(repeating: " ", count: DisplayWidth.of(String(expression.prefix(error.column - 1)))) + "^")
            throw ExitCode.failure
        }
        console.out("\(value) " + console.dim("(\(value.typeName))"))
    }
}
