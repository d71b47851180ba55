import Foundation
import GRDB
import SurveyCore

/// Where a survey stands on the device, in the words of the sync rules.
public enum SurveyStatus: String, Codable, CaseIterable, Sendable, DatabaseValueConvertible {
    /// Being filled; may be incomplete.
    case draft
    /// Complete and checked; waiting to be sent.
    case finalized
    /// Acknowledged by the server.
    case sent
    /// The server found errors; kept until someone edits it.
    case rejected
    /// The server holds different content under the same id and revision.
    case mismatch
    /// A second survey for a unit and period; the county resolves it.
    case held

    public var label: LocalizedText {
        switch self {
        case .draft: return L("草稿", "draft")
        case .finalized: return L("已定稿", "finalized")
        case .sent: return L("已上报", "sent")
        case .rejected: return L("被拒收", "refused")
        case .mismatch: return L("内容冲突", "mismatch")
        case .held: return L("待县里处理", "held")
        }
    }

    /// Whether a change makes a new revision rather than editing in place.
    public var editMakesRevision: Bool { self != .draft }
}

/// One revision of one survey on the device.
public struct StoredSurvey: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "survey"

    public var id: Int64?
    /// The survey's identity, a UUID made on the device; shared by its revisions.
    public var instanceID: String
    public var revision: Int
    /// The revision this one replaces, for edits after finalizing or sending.
    public var replacesRevision: Int?
    public var formID: String
    public var formVersion: String
    public var unitCode: String
    public var period: String
    public var status: SurveyStatus
    /// The answers as JSON text: as typed for drafts, as checked once finalized.
    public var answers: String
    /// Where interactive entry stopped (a field path), to resume there.
    public var position: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var finalizedAt: Date?
    public var sentAt: Date?
    /// Sync bookkeeping: attempts to send, the last error, the server's receipt.
    public var syncAttempts: Int
    public var lastError: String?
    public var serverReceipt: String?
    /// Counts the changes to a draft, so that a save made from an older copy
    /// (another window, another process) is refused instead of overwriting.
    public var changeCount: Int
    /// When a failed sync may try this revision again.
    public var nextAttemptAt: Date?
    /// The person's confirmations of doubtful answers (soft checks), as a
    /// JSON list of `{"warning", "path", "explanation"}`; empty for none.
    public var confirmations: String = "[]"

    enum CodingKeys: String, CodingKey {
        case id
        case instanceID = "instance_id"
        case revision
        case replacesRevision = "replaces_revision"
        case formID = "form_id"
        case formVersion = "form_version"
        case unitCode = "unit_code"
        case period, status, answers, position
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case finalizedAt = "finalized_at"
        case sentAt = "sent_at"
        case syncAttempts = "sync_attempts"
        case lastError = "last_error"
        case serverReceipt = "server_receipt"
        case changeCount = "change_count"
        case nextAttemptAt = "next_attempt_at"
        case confirmations
    }

    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let instanceID = Column(CodingKeys.instanceID)
        public static let revision = Column(CodingKeys.revision)
        public static let formID = Column(CodingKeys.formID)
        public static let unitCode = Column(CodingKeys.unitCode)
        public static let period = Column(CodingKeys.period)
        public static let status = Column(CodingKeys.status)
        public static let updatedAt = Column(CodingKeys.updatedAt)
    }

    /// A new first revision of a survey.
    public init(formID: String, formVersion: String, unitCode: String, period: String, answers: JSONObject, status: SurveyStatus = .draft, now: Date = Date()) {
        id = nil
        instanceID = UUID().uuidString.lowercased()
        revision = 1
        replacesRevision = nil
        self.formID = formID
        self.formVersion = formVersion
        self.unitCode = unitCode
        self.period = period
        self.status = status
        self.answers = JSONValue.object(answers).serialized()
        position = nil
        createdAt = now
        updatedAt = now
        finalizedAt = status == .finalized ? now : nil
        sentAt = nil
        syncAttempts = 0
        lastError = nil
        serverReceipt = nil
        changeCount = 0
        nextAttemptAt = nil
    }

    /// Reads a row by column name. Written out rather than decoded through
    /// Codable: listing thousands of surveys is several times faster.
    public init(row: Row) throws {
        id = row["id"]
        instanceID = row["instance_id"]
        revision = row["revision"]
        replacesRevision = row["replaces_revision"]
        formID = row["form_id"]
        formVersion = row["form_version"]
        unitCode = row["unit_code"]
        period = row["period"]
        status = row["status"]
        answers = row["answers"]
        position = row["position"]
        createdAt = row["created_at"]
        updatedAt = row["updated_at"]
        finalizedAt = row["finalized_at"]
        sentAt = row["sent_at"]
        confirmations = row["confirmations"] ?? "[]"
        syncAttempts = row["sync_attempts"]
        lastError = row["last_error"]
        serverReceipt = row["server_receipt"]
        changeCount = row["change_count"]
        nextAttemptAt = row["next_attempt_at"]
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// The first eight characters of the instance id, as people type it.
    public var shortID: String { String(instanceID.prefix(8)) }

    /// The answers as an object (empty if the stored text were damaged).
    public var answerObject: JSONObject {
        (try? JSONParser().parse(answers))?.objectValue ?? JSONObject()
    }
}

/// The last review decision the device heard of for one survey.
public struct SurveyReview: Sendable, Equatable {
    public var instanceID: String
    /// The revision the decision was about: a later revision on the
    /// device has not been reviewed yet.
    public var revision: Int
    public var status: ReviewStatus
    public var action: ReviewAction
    public var comment: String?
    public var reviewer: String
    /// When, as ISO 8601.
    public var reviewedAt: String

    init?(row: Row) {
        guard let state = ReviewState(rawValue: row["state"]), let action = ReviewAction(rawValue: row["action"]) else { return nil }
        instanceID = row["instance_id"]
        revision = row["revision"]
        status = ReviewStatus(state, at: (row["level"] as String?).flatMap(UnitLevel.init(rawValue:)))
        self.action = action
        comment = row["comment"]
        reviewer = row["reviewer"]
        reviewedAt = row["reviewed_at"]
    }

    /// Whether the decision is about `survey`'s revision (not an earlier one).
    public func concerns(_ survey: StoredSurvey) -> Bool { survey.instanceID == instanceID && survey.revision == revision }
}

extension StoredSurvey {
    /// The confirmations of doubtful answers, read from their JSON (a list
    /// that does not read gives none).
    public var confirmationList: [WarningConfirmation] {
        guard confirmations != "[]", let json = try? JSONParser().parse(Data(confirmations.utf8)),
            case .success(let list) = WarningConfirmation.read(json)
        else { return [] }
        return list
    }

    /// Sets the confirmations.
    public mutating func setConfirmations(_ list: [WarningConfirmation]) {
        confirmations = WarningConfirmation.json(list).serialized()
    }
}

/// Last period's survey of a unit as the server holds it, kept on the
/// device so that a new survey can start from it and be checked against
/// it offline.
public struct StoredBaseline: Sendable, Equatable {
    public var formID: String
    public var period: String
    public var unitCode: String
    public var formVersion: String
    public var instanceID: String
    public var revision: Int
    /// The server's content hash: a baseline is fetched again only when it changes.
    public var contentHash: String
    /// The answers as JSON text.
    public var answers: String
    public var fetchedAt: Date

    public init(
        formID: String, period: String, unitCode: String, formVersion: String, instanceID: String, revision: Int, contentHash: String, answers: String,
        fetchedAt: Date = Date()
    ) {
        self.formID = formID
        self.period = period
        self.unitCode = unitCode
        self.formVersion = formVersion
        self.instanceID = instanceID
        self.revision = revision
        self.contentHash = contentHash
        self.answers = answers
        self.fetchedAt = fetchedAt
    }

    public var answerObject: JSONObject {
        (try? JSONParser().parse(Data(answers.utf8)))?.objectValue ?? JSONObject()
    }
}

extension StoredBaseline {
    init(row: Row) {
        self.init(
            formID: row["form_id"], period: row["period"], unitCode: row["unit_code"], formVersion: row["form_version"], instanceID: row["instance_id"],
            revision: row["revision"], contentHash: row["content_hash"], answers: row["answers"], fetchedAt: row["fetched_at"])
    }
}
