import Foundation

/// What the command-line parser (swift-argument-parser) says about bad
/// arguments, in the user's language: its English sentences translated,
/// and the project's own bilingual texts (`中文 / English`) cut to one
/// language. Both executables print every argument error through here.
public enum CommandLineText {
    /// The parser's whole message (`Error: …`, `Help: …`, `Usage: …`,
    /// `See '…' for more information.`), line by line.
    public static func localized(_ message: String, _ language: Language) -> String {
        message.split(separator: "\n", omittingEmptySubsequences: false).map { line(String($0), language) }.joined(separator: "\n")
    }

    /// The parser's message for a failed command line, as the executables
    /// print it: in the language of `--lang` (else the environment's), and
    /// left in both languages when `--lang` itself names none we speak.
    public static func errorMessage(_ message: String, arguments: [String], environment: [String: String]) -> String {
        let asked = explicitLanguage(in: arguments)
        if let asked, Language(code: asked) == nil { return message }
        return localized(message, Language.resolve(explicit: asked, environment: environment))
    }

    /// `--lang zh` or `--lang=en` among the arguments, else the environment.
    public static func language(of arguments: [String], environment: [String: String]) -> Language {
        Language.resolve(explicit: explicitLanguage(in: arguments).flatMap { Language(code: $0) == nil ? nil : $0 }, environment: environment)
    }

    /// The value of the last `--lang` among the arguments.
    static func explicitLanguage(in arguments: [String]) -> String? {
        var explicit: String?
        for (index, argument) in arguments.enumerated() {
            if argument == "--lang", index + 1 < arguments.count { explicit = arguments[index + 1] }
            if argument.hasPrefix("--lang=") { explicit = String(argument.dropFirst(7)) }
        }
        return explicit
    }

    static func line(_ line: String, _ language: Language) -> String {
        let zh = language == .zh
        if line.hasPrefix("Error: ") { return (zh ? "错误:" : "Error: ") + sentence(String(line.dropFirst(7)), language) }
        if line.hasPrefix("Usage: ") { return zh ? "用法:" + line.dropFirst(7) : line }
        if line.hasPrefix("Help:  ") { return (zh ? "说明:" : "Help:  ") + oneLanguage(String(line.dropFirst(7)), language) }
        if let match = line.firstMatch(of: /^(\s*)See '(.+)' for more information\.$/) {
            return zh ? "\(match.1)详见 \(match.2)" : line
        }
        return oneLanguage(line, language)
    }

    /// One error sentence: a known English one of the parser translated,
    /// or a bilingual one of ours cut to the language.
    static func sentence(_ text: String, _ language: Language) -> String {
        let own = oneLanguage(text, language)
        guard language == .zh, own == text, !containsCJK(text) else { return own }
        if let match = text.firstMatch(of: /^Missing expected argument '(.+)'$/) { return "缺少参数 \(match.1)" }
        if let match = text.firstMatch(of: /^Missing value for '(.+)'$/) { return "选项 \(match.1) 缺少取值" }
        if let match = text.firstMatch(of: /^Unknown option '(.+)'\. Did you mean '(.+)'\?$/) { return "没有选项 \(match.1);是不是 \(match.2)?" }
        if let match = text.firstMatch(of: /^Unknown option '(.+)'$/) { return "没有选项 \(match.1)" }
        if let match = text.firstMatch(of: /^Unexpected arguments? (.+)$/) { return "多余的参数 \(match.1.replacingOccurrences(of: "'", with: ""))" }
        if let match = text.firstMatch(of: /^The value '(.*)' is invalid for '(.+)'\. Please provide one of (.+)\.$/) {
            return "“\(match.1)” 不是 \(match.2) 可取的值;可取:" + choices(String(match.3))
        }
        if let match = text.firstMatch(of: /^The value '(.*)' is invalid for '(.+)'$/) { return "“\(match.1)” 不是 \(match.2) 可取的值" }
        if let match = text.firstMatch(of: /^(.+) cannot be used more than once$/) { return "\(match.1) 只能用一次" }
        if let match = text.firstMatch(of: /^Value to be set with flag '(.+)' had already been set with flag '(.+)'$/) {
            return "\(match.1) 和 \(match.2) 不能同时使用"
        }
        return text
    }

    /// `'xlsx', 'csv', 'json' or 'jsonl'` as `xlsx、csv、json、jsonl`.
    static func choices(_ text: String) -> String {
        text.replacingOccurrences(of: " or ", with: ", ").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }.joined(separator: "、")
    }

    /// `单位代码应为 12 位数字 / the unit code must be 12 digits` as the one
    /// language's half; text that is not bilingual as it is.
    static func oneLanguage(_ text: String, _ language: Language) -> String {
        var search = text.endIndex
        while let range = text.range(of: "/ ", options: .backwards, range: text.startIndex..<search) {
            let before = text[..<range.lowerBound]
            let after = text[range.upperBound...]
            if containsCJK(before), !containsCJK(after) {
                return language == .zh ? before.trimmingCharacters(in: .whitespaces) : after.trimmingCharacters(in: .whitespaces)
            }
            search = range.lowerBound
        }
        return text
    }

    static func containsCJK(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.contains { (0x3000...0x9FFF).contains($0.value) || (0xFF00...0xFFEF).contains($0.value) }
    }
}
