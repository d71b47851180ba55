/// Where a current survey stands in its review, level by level.
public enum ReviewState: String, Sendable, CaseIterable, Codable {
    /// Received, not yet reviewed (or a new revision since the last review).
    case pending
    /// Approved at a level that is not the last.
    case approved
    /// Approved at the last level: the county has signed it off.
    case accepted
    /// Sent back with a comment, for the device to fix.
    case returned
}

/// What a reviewer does to a survey.
public enum ReviewAction: String, Sendable, CaseIterable, Codable {
    case approve
    case `return`
    /// Undoes a decision at the reviewer's level or below.
    case reopen

    public var label: LocalizedText {
        switch self {
        case .approve: return L("审核通过", "approved")
        case .return: return L("退回", "returned")
        case .reopen: return L("撤销", "reopened")
        }
    }
}

/// A review state and the level it was reached at (none for pending).
public struct ReviewStatus: Sendable, Hashable, CustomStringConvertible {
    public var state: ReviewState
    public var level: UnitLevel?

    public init(_ state: ReviewState, at level: UnitLevel? = nil) {
        self.state = state
        self.level = state == .pending ? nil : level
    }

    public static let pending = ReviewStatus(.pending)

    /// `待审核`, `乡镇已审核`, `县已验收`, `被退回(县)`.
    public var label: LocalizedText {
        let zh = level?.label.zh ?? ""
        let en = level?.label.text(.en) ?? ""
        switch state {
        case .pending: return L("待审核", "pending review")
        case .approved: return L("\(zh)已审核", "approved by the \(en)")
        case .accepted: return L("\(zh)已验收", "accepted by the \(en)")
        case .returned: return level == nil ? L("被退回", "returned") : L("被退回(\(zh))", "returned by the \(en)")
        }
    }

    public var description: String { level.map { "\(state.rawValue)@\($0.rawValue)" } ?? state.rawValue }
}

/// One change of a survey's review, as a device fetches them
/// (`GET /api/v1/reviews`) to hear what the township and the county
/// decided about the surveys it sent.
public struct ReviewNotice: Sendable, Equatable {
    /// The server's event number: the device asks for those after the last it has.
    public var event: Int64
    public var instanceID: String
    /// The revision the decision was about.
    public var revision: Int
    public var status: ReviewStatus
    public var action: ReviewAction
    public var comment: String?
    public var reviewer: String
    /// When, as ISO 8601.
    public var at: String

    public init(
        event: Int64, instanceID: String, revision: Int, status: ReviewStatus, action: ReviewAction, comment: String?, reviewer: String, at: String
    ) {
        self.event = event
        self.instanceID = instanceID
        self.revision = revision
        self.status = status
        self.action = action
        self.comment = comment
        self.reviewer = reviewer
        self.at = at
    }

    public var json: JSONValue {
        var object = JSONObject(minimumCapacity: 9)
        object.appendUnique("event", .integer(Int(event)))
        object.appendUnique("instance_id", .string(instanceID))
        object.appendUnique("revision", .integer(revision))
        object.appendUnique("state", .string(status.state.rawValue))
        object.appendUnique("level", status.level.map { .string($0.rawValue) } ?? .null)
        object.appendUnique("action", .string(action.rawValue))
        object.appendUnique("comment", comment.map(JSONValue.string) ?? .null)
        object.appendUnique("reviewer", .string(reviewer))
        object.appendUnique("at", .string(at))
        return .object(object)
    }

    /// Reads one notice; nil when it is not one (a newer server's field
    /// values the device does not know are skipped, not guessed).
    public init?(json: JSONValue) {
        guard case .integer(let event)? = json["event"], let instanceID = json["instance_id"]?.stringValue,
            case .integer(let revision)? = json["revision"], let state = json["state"]?.stringValue.flatMap(ReviewState.init(rawValue:)),
            let action = json["action"]?.stringValue.flatMap(ReviewAction.init(rawValue:)), let reviewer = json["reviewer"]?.stringValue,
            let at = json["at"]?.stringValue
        else { return nil }
        let level = json["level"]?.stringValue.flatMap(UnitLevel.init(rawValue:))
        self.init(
            event: Int64(event), instanceID: instanceID, revision: revision, status: ReviewStatus(state, at: level), action: action,
            comment: json["comment"]?.stringValue, reviewer: reviewer, at: at)
    }
}
