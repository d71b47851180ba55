import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore

/// Which stored surveys a command works on (`list`, `export`).
struct FilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("状态:draft、finalized、sent、rejected、mismatch、held(可重复)/ Status (repeatable)", valueName: "status"))
    var status: [String] = []
    @Option(help: ArgumentHelp("表单 ID / Form id", valueName: "id"))
    var form: String?
    @Option(help: ArgumentHelp("单位代码,含下属单位 / Unit code, units under it included", valueName: "code"))
    var unit: String?
    @Option(help: ArgumentHelp("报告期 / Period", valueName: "period"))
    var period: String?

    func validate() throws {
        for value in status where SurveyStatus(rawValue: value) == nil {
            throw ValidationError("未知状态 / unknown status '\(value)' (draft, finalized, sent, rejected, mismatch, held)")
        }
        if let unit, UnitCode(unit) == nil { throw ValidationError("单位代码应为 12 位数字 / the unit code must be 12 digits") }
    }

    var filter: SurveyFilter {
        SurveyFilter(statuses: status.compactMap(SurveyStatus.init(rawValue:)), formID: form, unit: unit.flatMap(UnitCode.init), period: period)
    }
}

/// Runs a store operation, turning its errors into a message and exit 1.
func storeStep<T>(_ console: Console, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as StoreError {
        console.error(error.message)
        throw ExitCode.failure
    }
}

extension Console {
    /// Reads a survey file (JSON or YAML), or stops with a message saying
    /// where it is wrong.
    func readSubmission(_ path: String) throws -> Submission {
        do {
            return try Submission(json: try AnswerFile.read(URL(fileURLWithPath: path)))
        } catch let error as AnswerFileError {
            self.error(error.rendered(language))
            throw ExitCode.failure
        } catch let error as LocalizedText {
            self.error("\(path): " + text(error))
            throw ExitCode.failure
        }
    }

    /// Asks a yes/no question until it gets 1/2, y/n or 是/否 (full-width
    /// too); Enter and the end of input take `fallback`, so a default that
    /// keeps things is kept when the input ends.
    func confirm(_ question: LocalizedText, default fallback: Bool = false) -> Bool {
        while true {
            prompt(
                text(question)
                    + (language == .zh
                        ? (fallback ? "(1 是 / 2 否,回车 = 是)> " : "(1 是 / 2 否,回车 = 否)> ")
                        : (fallback ? " (1 yes / 2 no, Enter = yes) > " : " (1 yes / 2 no, Enter = no) > ")))
            guard let line = readAnswer() else { return fallback }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { return fallback }
            if let answer = YesNo.read(line) { return answer }
            out(red(text(L("请输入 1(是)或 2(否)", "Type 1 (yes) or 2 (no)"))))
        }
    }

    /// `path(label): message`, as every command lists an answer's problem.
    func describe(_ issue: ValidationIssue, in form: Form) -> String {
        var place = issue.path
        if let label = form.field(named: issue.field)?.label?.text(language) {
            place += language == .zh ? "(\(label))" : " (\(label))"
        }
        return place + (language == .zh ? ":" : ": ") + issue.message.text(language)
    }

    /// A soft check that fired, with whether it was confirmed and why:
    /// `members_total(党员总数):党员总数比上年变化超过 30%……(已确认:换届后合并支部)`.
    func describe(_ warning: FiredWarning, in form: Form? = nil) -> String {
        var place = warning.path
        if let label = form?.field(named: warning.field)?.label?.text(language) {
            place += language == .zh ? "(\(label))" : " (\(label))"
        }
        var text = place + (language == .zh ? ":" : ": ") + warning.message.text(language)
        if warning.confirmed {
            let why = warning.explanation.flatMap { $0.isEmpty ? nil : $0 }
            text += self.text(why.map { L("(已确认:\($0))", " (confirmed: \($0))") } ?? L("(已确认)", " (confirmed)"))
        } else {
            text += self.text(L("(未确认)", " (not confirmed)"))
        }
        return text
    }

    /// `130102001203 东关村`, or the code alone when the registry does not know it.
    func unitName(_ code: String, _ registry: UnitRegistry?) -> String {
        guard let unit = UnitCode(code), let known = registry?.unit(unit) else { return code }
        return "\(code) \(known.name)"
    }
}
