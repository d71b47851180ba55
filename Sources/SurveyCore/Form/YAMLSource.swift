import Foundation
import Yams

/// Reads YAML nodes with their line numbers and records problems instead of
/// stopping, so that one pass over a form reports everything wrong with it.
final class YAMLSource {
    let file: String
    var issues: [FormIssue] = []

    init(file: String) {
        self.file = file
    }

    func issue(_ line: Int, _ field: String?, _ message: LocalizedText, column: Int? = nil) {
        issues.append(FormIssue(file: file, line: line, field: field, column: column, message: message))
    }

    static func line(_ node: Node) -> Int { node.mark?.line ?? 1 }

    /// A YAML mapping as ordered `(key, value)` pairs with the key's line.
    struct Entries {
        var pairs: [(key: String, line: Int, value: Node)]
        var line: Int

        subscript(key: String) -> (line: Int, value: Node)? {
            pairs.first { $0.key == key }.map { ($0.line, $0.value) }
        }
    }

    /// The node as a mapping; records a problem and returns nil otherwise.
    /// Keys not in `allowed` are reported, which catches misspelt keys.
    func entries(_ node: Node, what: LocalizedText, field: String?, allowed: Set<String>? = nil) -> Entries? {
        guard case .mapping(let mapping) = node else {
            issue(Self.line(node), field, L("\(what.zh)应为键值映射", "\(what.en ?? what.zh) must be a mapping of keys to values"))
            return nil
        }
        var pairs: [(String, Int, Node)] = []
        var seen: Set<String> = []
        for (key, value) in mapping {
            let line = Self.line(key)
            guard let name = key.scalar?.string else {
                issue(line, field, L("键名应为文字", "keys must be plain text"))
                continue
            }
            if !seen.insert(name).inserted {
                issue(line, field, L("键 “\(name)” 重复", "duplicate key '\(name)'"))
                continue
            }
            if let allowed, !allowed.contains(name) {
                let suggestion = Self.closest(name, in: allowed)
                issue(
                    line, field,
                    L(
                        "未知的键 “\(name)”" + (suggestion.map { ",是否应为 “\($0)”?" } ?? ""),
                        "unknown key '\(name)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")))
                continue
            }
            pairs.append((name, line, value))
        }
        return Entries(pairs: pairs, line: Self.line(node))
    }

    /// A scalar's text; records a problem for mappings and sequences.
    func string(_ node: Node, key: String, field: String?) -> String? {
        guard case .scalar(let scalar) = node else {
            issue(Self.line(node), field, L("“\(key)” 的值应为单个值", "'\(key)' must be a single value"))
            return nil
        }
        return scalar.string
    }

    /// A `true`/`false` (also `yes`/`no`) setting.
    func bool(_ node: Node, key: String, field: String?) -> Bool? {
        guard let text = string(node, key: key, field: field) else { return nil }
        if let value = Self.boolean(text) { return value }
        issue(Self.line(node), field, L("“\(key)” 应为 true 或 false", "'\(key)' must be true or false"))
        return nil
    }

    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: return nil
        }
    }

    /// A whole number setting.
    func integer(_ node: Node, key: String, field: String?) -> Int? {
        guard let text = string(node, key: key, field: field) else { return nil }
        guard let value = Int(text) else {
            issue(Self.line(node), field, L("“\(key)” 应为整数,而不是 “\(text)”", "'\(key)' must be a whole number, not '\(text)'"))
            return nil
        }
        return value
    }

    /// Text in several languages: `{zh: …, en: …}`, or plain text in the
    /// form's default language. Chinese is required.
    func localized(_ node: Node, key: String, field: String?, defaultLanguage: Language) -> LocalizedText? {
        if case .scalar(let scalar) = node {
            if defaultLanguage == .zh {
                return LocalizedText(zh: scalar.string)
            }
            issue(Self.line(node), field, L("“\(key)” 缺少中文(zh)文本", "'\(key)' has no Chinese (zh) text"))
            return nil
        }
        guard let entries = entries(node, what: L("“\(key)”", "'\(key)'"), field: field) else {
            return nil
        }
        for (language, line, _) in entries.pairs where Language(rawValue: language) == nil {
            issue(
                line, field,
                L(
                    "“\(key)” 中出现未知语言 “\(language)”(只能用 zh、en);文字含逗号、冒号或引号时,请把整段文字用引号括起来",
                    "'\(key)' has an unknown language '\(language)' (use zh and en); text with a comma, colon or quote must be put in quotes"))
        }
        var zh: String?
        var en: String?
        for (language, line, value) in entries.pairs where Language(rawValue: language) != nil {
            guard let text = string(value, key: "\(key).\(language)", field: field) else { continue }
            if text.trimmingCharacters(in: .whitespaces).isEmpty {
                issue(line, field, L("“\(key).\(language)” 为空", "'\(key).\(language)' is empty"))
                continue
            }
            if language == "zh" { zh = text } else { en = text }
        }
        guard let zh else {
            issue(entries.line, field, L("“\(key)” 缺少中文(zh)文本", "'\(key)' has no Chinese (zh) text"))
            return nil
        }
        return LocalizedText(zh: zh, en: en)
    }

    /// The allowed key nearest to a misspelt one, if it is close.
    static func closest(_ word: String, in candidates: Set<String>) -> String? {
        var best: (name: String, score: Int)?
        for candidate in candidates.sorted() {
            let score = distance(word, candidate)
            if best == nil || score < best!.score { best = (candidate, score) }
        }
        guard let best, best.score <= max(2, word.count / 3) else { return nil }
        return best.name
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : (b.isEmpty ? a.count : previous[b.count])
    }
}
