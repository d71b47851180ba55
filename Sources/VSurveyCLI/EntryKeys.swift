import Foundation

/// What a person types at a prompt besides an answer, read the same way at
/// every prompt: half-width or full-width (a Chinese input method types
/// `＜`, `《`, `：q`, `？`), with or without surrounding spaces.
enum EntryKey: Equatable {
    /// `<`: the previous question.
    case back
    /// `?`: help for this question.
    case help
    /// `:q`: save and stop.
    case quit
    /// `-`: clear the answer.
    case clear
    /// `:12` (question 12) or `:跳 党员总数` / `:go members` (the first
    /// question whose label or name contains the text).
    case jump(JumpTarget)

    enum JumpTarget: Equatable {
        case number(Int)
        case text(String)
    }

    /// The key `line` is, or nil when it is an answer.
    static func read(_ line: String) -> EntryKey? {
        let text = halfWidth(line)
        switch text {
        case "<": return .back
        case "?": return .help
        case ":q", ":Q", ":quit", ":退出": return .quit
        case "-": return .clear
        default: break
        }
        guard text.hasPrefix(":"), text.count > 1 else { return nil }
        let rest = text.dropFirst().trimmingCharacters(in: .whitespaces)
        if let number = Int(rest), number >= 1 { return .jump(.number(number)) }
        for verb in ["跳转", "跳", "go", "jump"] where rest.lowercased().hasPrefix(verb) {
            let target = rest.dropFirst(verb.count).trimmingCharacters(in: .whitespaces)
            if !target.isEmpty { return .jump(.text(target)) }
        }
        return nil
    }

    /// Full-width forms, and what Shift with `,` `.` types in Chinese mode
    /// (`《` `》`), as the ASCII keys they stand for; spaces trimmed.
    static func halfWidth(_ line: String) -> String {
        let keys: [Character: Character] = ["《": "<", "》": ">", "—": "-", "–": "-"]
        return AnswerInput.normalize(String(line.map { keys[$0] ?? $0 }))
    }
}

/// A yes or no, as every confirmation reads it: `y`/`yes`/`是`/`1` and
/// `n`/`no`/`否`/`2`, full-width too; nil for anything else (asked again).
enum YesNo {
    static func read(_ line: String) -> Bool? {
        switch EntryKey.halfWidth(line).lowercased() {
        case "y", "yes", "是", "是的", "好", "1", "对": return true
        case "n", "no", "否", "不", "不是", "2": return false
        default: return nil
        }
    }
}
