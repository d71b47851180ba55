import Foundation

/// Addresses as logs and messages may show them: secrets taken out.
public enum Redacted {
    /// What stands in for a secret.
    public static let mark = "REDACTED"

    /// Whether a query parameter's name says its value is a secret.
    static func isSecret(_ name: Substring) -> Bool {
        let name = name.lowercased()
        return ["token", "password", "passwd", "secret", "key", "session", "auth"].contains { name.contains($0) }
    }

    /// `text`, a URL or a path with a query, with the user information of its
    /// authority (`user:password@`) and the values of query parameters that
    /// name a secret (`token`, `password`, `key`, …) replaced by `mark`.
    public static func url(_ text: String) -> String {
        var rest = Substring(text)
        var out = ""
        if let scheme = rest.range(of: "://") {
            out += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                out += mark + authority[at...]
            } else {
                out += authority
            }
            rest = rest[authorityEnd...]
        }
        guard let question = rest.firstIndex(of: "?") else { return out + rest }
        out += rest[...question]
        let afterQuery = rest[rest.index(after: question)...]
        let fragmentStart = afterQuery.firstIndex(of: "#") ?? afterQuery.endIndex
        let pairs = afterQuery[..<fragmentStart].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "="), isSecret(pair[..<equals]) else { return String(pair) }
            return pair[...equals] + mark
        }
        return out + pairs.joined(separator: "&") + afterQuery[fragmentStart...]
    }
}
