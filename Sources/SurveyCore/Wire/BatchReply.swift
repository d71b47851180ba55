/// The reply to a batch of surveys (`POST /api/v1/surveys`), one type for
/// both sides: the server encodes it, the client decodes the same type.
/// A value the client does not know (an outcome a newer server invented)
/// is an error it reports, never a guess.

/// What the server answers for one survey of a batch.
public enum Outcome: String, Sendable, CaseIterable, Codable {
    /// Stored; the first survey for its unit and period.
    case created
    /// The same id, revision and content is already stored: nothing to do.
    case duplicate
    /// A newer revision of a stored survey; it is now the latest.
    case updated
    /// Older than the revision the server holds: not stored.
    case stale
    /// The same id and revision with different content: never overwritten.
    case mismatch
    /// Fails the form's checks; the errors come back per field.
    case rejected
    /// Outside the sender's units: nothing written.
    case forbidden
    /// A second, different survey for a unit and period that already has
    /// one: stored and flagged for the county to resolve.
    case held

    /// Whether the device may stop sending this revision.
    public var isAccepted: Bool { self == .created || self == .duplicate || self == .updated || self == .held }
}

/// A reply the client cannot read: what is wrong and where.
public struct WireError: Error, Sendable, CustomStringConvertible {
    public var message: LocalizedText

    public init(_ message: LocalizedText) { self.message = message }

    public var description: String { message.text(.en) }
}

/// One problem with a survey as sent over the wire, in the request's language.
public struct WireIssue: Sendable, Equatable {
    /// Where: `members_total`, `committee[2].birth_year`, `unit`.
    public var path: String
    public var code: String
    public var message: String

    public init(path: String, code: String, message: String) {
        self.path = path
        self.code = code
        self.message = message
    }

    public init(_ issue: ValidationIssue, language: Language) {
        self.init(path: issue.path, code: issue.code.rawValue, message: issue.message.text(language))
    }

    public var json: JSONValue { ["path": .string(path), "code": .string(code), "message": .string(message)] }

    init(json: JSONValue, at place: String) throws(WireError) {
        guard let path = json["path"]?.stringValue, let code = json["code"]?.stringValue, let message = json["message"]?.stringValue else {
            throw WireError(L("\(place) 缺少 path、code 或 message", "\(place) lacks path, code or message"))
        }
        self.init(path: path, code: code, message: message)
    }
}

/// The server's answer for one survey of a batch.
public struct SurveyReply: Sendable, Equatable {
    /// The survey's position in the batch.
    public var index: Int
    public var instanceID: String?
    public var revision: Int?
    public var outcome: Outcome
    /// Why, in the request's language.
    public var reason: String
    public var errors: [WireIssue]
    public var warnings: [WireIssue]
    /// For `held`: the conflict the county will resolve.
    public var conflictID: Int?
    /// The revision the server holds after this survey.
    public var serverRevision: Int?

    public init(
        index: Int, instanceID: String?, revision: Int?, outcome: Outcome, reason: String, errors: [WireIssue] = [], warnings: [WireIssue] = [],
        conflictID: Int? = nil, serverRevision: Int? = nil
    ) {
        self.index = index
        self.instanceID = instanceID
        self.revision = revision
        self.outcome = outcome
        self.reason = reason
        self.errors = errors
        self.warnings = warnings
        self.conflictID = conflictID
        self.serverRevision = serverRevision
    }

    public var json: JSONValue {
        var object = JSONObject(minimumCapacity: 9)
        object.appendUnique("index", .integer(index))
        object.appendUnique("instance_id", instanceID.map(JSONValue.string) ?? .null)
        object.appendUnique("revision", revision.map(JSONValue.integer) ?? .null)
        object.appendUnique("outcome", .string(outcome.rawValue))
        object.appendUnique("reason", .string(reason))
        if !errors.isEmpty { object.appendUnique("errors", .array(errors.map(\.json))) }
        if !warnings.isEmpty { object.appendUnique("warnings", .array(warnings.map(\.json))) }
        if let conflictID { object.appendUnique("conflict_id", .integer(conflictID)) }
        if let serverRevision { object.appendUnique("server_revision", .integer(serverRevision)) }
        return .object(object)
    }

    public init(json: JSONValue) throws(WireError) {
        guard case .integer(let index)? = json["index"] else {
            throw WireError(L("回复中的结果缺少 index", "a result in the reply lacks its index"))
        }
        let place = "results[\(index)]"
        guard let text = json["outcome"]?.stringValue else {
            throw WireError(L("\(place) 缺少 outcome", "\(place) lacks its outcome"))
        }
        guard let outcome = Outcome(rawValue: text) else {
            throw WireError(
                L(
                    "\(place) 的结果 “\(text)” 无法识别(服务器比本程序新?请更新 vsurvey)",
                    "\(place) has an outcome this client does not know, '\(text)' (a newer server? update vsurvey)"))
        }
        func integer(_ key: String) -> Int? {
            if case .integer(let value)? = json[key] { return value }
            return nil
        }
        func issues(_ key: String) throws(WireError) -> [WireIssue] {
            guard let list = json[key] else { return [] }
            guard let array = list.arrayValue else { throw WireError(L("\(place).\(key) 应为数组", "\(place).\(key) must be an array")) }
            var issues: [WireIssue] = []
            for (position, item) in array.enumerated() { issues.append(try WireIssue(json: item, at: "\(place).\(key)[\(position)]")) }
            return issues
        }
        self.init(
            index: index, instanceID: json["instance_id"]?.stringValue, revision: integer("revision"), outcome: outcome,
            reason: json["reason"]?.stringValue ?? "", errors: try issues("errors"), warnings: try issues("warnings"), conflictID: integer("conflict_id"),
            serverRevision: integer("server_revision"))
    }
}

/// A batch reply: how many surveys had each outcome, and each survey's
/// answer in the order sent (like DHIS2's import summary).
public struct BatchReply: Sendable, Equatable {
    public var results: [SurveyReply]

    public init(results: [SurveyReply]) { self.results = results }

    /// How many results have each outcome.
    public func count(_ outcome: Outcome) -> Int { results.count { $0.outcome == outcome } }

    public var summary: JSONValue {
        var summary = JSONObject()
        for outcome in Outcome.allCases { summary.appendUnique(outcome.rawValue, .integer(count(outcome))) }
        summary.appendUnique("total", .integer(results.count))
        return .object(summary)
    }

    public var json: JSONValue { ["summary": summary, "results": .array(results.map(\.json))] }

    /// Reads a reply; `expected` is the number of surveys sent.
    public init(json: JSONValue, expected: Int? = nil) throws(WireError) {
        guard let items = json["results"]?.arrayValue else {
            throw WireError(L("服务器的回复缺少 results", "the server's reply has no results"))
        }
        if let expected, items.count != expected {
            throw WireError(
                L("发送了 \(expected) 份调查,服务器回复了 \(items.count) 份", "\(expected) surveys were sent but the reply answers \(items.count)"))
        }
        var results: [SurveyReply] = []
        results.reserveCapacity(items.count)
        for item in items { results.append(try SurveyReply(json: item)) }
        self.results = results
    }
}
