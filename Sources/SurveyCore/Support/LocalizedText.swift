/// The languages that user-facing text is written in. Chinese comes first:
/// it is the field workers' language and every form must carry it.
public enum Language: String, Sendable, CaseIterable, Codable {
    case zh
    case en

    /// Picks the language from a `--lang` value or, failing that, the
    /// process locale (`LC_ALL`, `LC_MESSAGES`, `LANG`): English only when
    /// the locale says so, Chinese otherwise.
    public static func resolve(explicit: String?, environment: [String: String]) -> Language {
        if let explicit, let lang = Language(code: explicit) { return lang }
        for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            guard let value = environment[key], !value.isEmpty else { continue }
            return value.lowercased().hasPrefix("en") ? .en : .zh
        }
        return .zh
    }

    /// Accepts `zh`, `en` and locale-like spellings such as `zh_CN` or `en-US`.
    public init?(code: String) {
        let lowered = code.lowercased()
        if lowered.hasPrefix("zh") {
            self = .zh
        } else if lowered.hasPrefix("en") {
            self = .en
        } else {
            return nil
        }
    }
}

/// A piece of text in Chinese and, where it exists, English.
public struct LocalizedText: Sendable, Hashable, Codable {
    public var zh: String
    public var en: String?

    public init(zh: String, en: String? = nil) {
        self.zh = zh
        self.en = en
    }

    /// The text in `language`, falling back to Chinese when no English exists.
    public func text(_ language: Language) -> String {
        switch language {
        case .zh: return zh
        case .en: return en ?? zh
        }
    }
}

/// Builds a message in both languages in one expression: `L("必填", "required")`.
// swift-format-ignore: AlwaysUseLowerCamelCase
@inline(__always)
public func L(_ zh: String, _ en: String) -> LocalizedText {
    LocalizedText(zh: zh, en: en)
}

/// A message can be thrown where only the words matter.
extension LocalizedText: Error {}

extension String {
    /// The text without leading and trailing spaces and tabs. Cheap when
    /// there are none, unlike Foundation's `trimmingCharacters(in:)`, which
    /// runs on the hot path of validation.
    public var trimmingSpaces: String {
        let utf8 = self.utf8
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        guard let first = utf8.first, let last = utf8.last, isSpace(first) || isSpace(last) else { return self }
        var start = utf8.startIndex
        var end = utf8.endIndex
        while start < end, isSpace(utf8[start]) { start = utf8.index(after: start) }
        while end > start, isSpace(utf8[utf8.index(before: end)]) { end = utf8.index(before: end) }
        return String(self[start..<end])
    }
}
