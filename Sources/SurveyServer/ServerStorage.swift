import Foundation
import SurveyCore
import SurveySQL

/// One survey that passed every check and is ready for the store.
public struct IngestCandidate: Sendable {
    public var survey: WireSurvey
    public var unit: UnitCode
    public var contentHash: String
    /// The answers as kept: checked, with calculations recomputed (JSON text).
    public var storedAnswers: String
    /// The survey's row in its form's report table, if the form has one.
    public var reportRow: [SQLValue]?
    /// What the soft checks found, stored with the revision; nil for nothing.
    public var checks: SurveyChecks?

    public init(survey: WireSurvey, unit: UnitCode, contentHash: String, storedAnswers: String, reportRow: [SQLValue]? = nil, checks: SurveyChecks? = nil) {
        self.survey = survey
        self.unit = unit
        self.contentHash = contentHash
        self.storedAnswers = storedAnswers
        self.reportRow = reportRow
        self.checks = checks
    }
}

/// The store's answer for one candidate.
public struct StoreOutcome: Sendable, Equatable {
    public var outcome: Outcome
    public var reason: LocalizedText
    /// For `held`: the conflict the county will resolve.
    public var conflictID: Int64?
    /// The revision the server holds after this survey.
    public var serverRevision: Int?

    public init(_ outcome: Outcome, _ reason: LocalizedText, conflictID: Int64? = nil, serverRevision: Int? = nil) {
        self.outcome = outcome
        self.reason = reason
        self.conflictID = conflictID
        self.serverRevision = serverRevision
    }
}

/// Where an instance stands on the server.
public enum InstanceState: String, Sendable, Codable {
    /// The one survey that counts for its form, unit and period.
    case current
    /// A second survey for a unit and period, waiting for the county.
    case held
    /// Set aside when a conflict was resolved the other way; kept.
    case superseded

    public var label: LocalizedText {
        switch self {
        case .current: return L("当前调查", "current")
        case .held: return L("暂存待处理冲突", "held in a conflict")
        case .superseded: return L("已被另一份取代", "set aside")
        }
    }
}

/// One stored revision of a survey.
public struct RevisionRecord: Sendable, Equatable {
    public var instanceID: String
    public var revision: Int
    public var replaces: Int?
    public var formID: String
    public var formVersion: String
    public var unit: String
    public var period: String
    public var contentHash: String
    public var answers: String
    public var receivedAt: Date
    public var finalizedAt: String?
    public var sentBy: String?
    /// What the soft checks found at ingest (`SurveyChecks` as JSON), if anything.
    public var checks: String?
}

/// A survey's latest revision and its state.
public struct SurveyRecord: Sendable, Equatable {
    public var latest: RevisionRecord
    public var state: InstanceState
}

/// Two surveys for one form, unit and period.
public struct ConflictRecord: Sendable, Equatable {
    public var id: Int64
    public var formID: String
    public var unit: String
    public var period: String
    public var heldInstance: String
    /// The instance that is current for the unit and period now, if any.
    public var currentInstance: String?
    public var createdAt: Date
    public var resolvedAt: Date?
    public var resolvedBy: String?
    public var keptInstance: String?
    /// Why the county chose as it did.
    public var comment: String?
}

/// A reason a storage request could not be done, for the API to turn into
/// a status and a message.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case notFound, conflict, invalid, forbidden, unavailable }
    public var kind: Kind
    public var message: LocalizedText
    /// A machine code for the API (`stale_revision`); nil: the kind's.
    public var code: String?

    public init(_ kind: Kind, _ message: LocalizedText, code: String? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message.text(.en) }
}

/// Counts of what a store holds.
public struct StorageCounts: Sendable, Equatable {
    public var revisions: Int
    public var instances: Int
    public var current: Int
    public var held: Int
    public var openConflicts: Int
}

/// A unit and period whose current survey changed, as ingest and conflict
/// resolution report it, inside their write transaction, to the hook they
/// are given (the service's: the report tables follow).
public struct CurrentSurveyChange: Sendable {
    public var formID: String
    public var formVersion: String
    /// The survey's report row, computed when it was checked (or read again
    /// from its kept answers); nil when the form has no report table.
    public var reportRow: [SQLValue]?
    /// The store's integer id of the survey, and when it first arrived (ms).
    public var instance: Int64
    public var createdAt: Int64
    /// Where the survey no longer counts, and where it is now current.
    public var left: (unit: String, period: String)?
    public var now: (unit: String, period: String)?
}

/// Called inside a write transaction for every change of a current survey.
public typealias CurrentSurveyHook = @Sendable (CurrentSurveyChange, any SQLSession) throws -> Void

/// The server's storage: SQLite (`SQLiteServerStorage`) or PostgreSQL
/// (`PostgresServerStorage`), both written once over `SQLEngine`
/// (`RelationalStorage`). Every method is one transaction.
public protocol ServerStorage: Sendable {
    /// The database the storage runs on; reports run on it too.
    var sql: any SQLEngine { get }

    // Tokens
    func createToken(name: String, role: Role, unit: UnitCode, hash: String) async throws -> TokenRecord
    func tokens() async throws -> [TokenRecord]
    /// Revokes by id or name; nil when there is no such token.
    func revokeToken(_ reference: String) async throws -> TokenRecord?
    /// The principal of a token hash that exists and is not revoked.
    func principal(tokenHash: String) async throws -> Principal?

    // Sessions of the report pages
    /// Keeps a session (its id's hash) for a token until `expiresAt`, and
    /// removes the sessions that have ended.
    func createSession(hash: String, tokenID: Int64, at time: Date, expiresAt: Date) async throws
    /// The principal of a session that has not expired and whose token is not revoked.
    func principal(sessionHash: String, at time: Date) async throws -> Principal?
    /// Ends a session (signing out); nothing when there is none.
    func endSession(hash: String) async throws

    // People, who sign in to the web pages with a name and a password
    func createPerson(name: String, role: Role, unit: UnitCode, passwordHash: String, at time: Date) async throws -> PersonRecord
    func people() async throws -> [PersonRecord]
    /// A person and their password's stored hash, for signing in.
    func person(named name: String) async throws -> (record: PersonRecord, password: String)?
    /// Sets a new password's hash and ends the person's sessions; nil when there is no such person.
    func setPassword(of name: String, hash: String, at time: Date) async throws -> PersonRecord?
    /// Disables a person and ends their sessions; nil when there is no such person.
    func disablePerson(_ name: String, at time: Date) async throws -> PersonRecord?
    func createPersonSession(hash: String, personID: Int64, at time: Date, expiresAt: Date) async throws
    /// The principal of a person's session that has not expired, the person not disabled.
    func principal(personSessionHash hash: String, at time: Date) async throws -> Principal?
    func endPersonSession(hash: String) async throws

    // Units
    /// Replaces the registry; returns how many units it now has.
    func replaceUnits(_ units: [OrgUnit]) async throws -> Int
    func units() async throws -> [OrgUnit]
    /// One unit of the registry, if it is there, and how many units the registry has.
    func unit(_ code: UnitCode) async throws -> (unit: OrgUnit?, registrySize: Int)
    /// Changes every time the registry is replaced.
    func registryRevision() async throws -> Int

    // Surveys
    /// Applies the candidates in order, in one transaction, and answers
    /// each in the same order; `hook` hears of every change of a current
    /// survey inside that transaction. A candidate whose stored survey lies
    /// outside `principal`'s scope is `forbidden`.
    /// `finish`, when given, runs at the end of the batch's transaction
    /// (each attempt's), after every survey's `hook`.
    func ingest(
        _ candidates: [IngestCandidate], by principal: Principal, at time: Date, hook: @escaping CurrentSurveyHook,
        finish: (@Sendable (any SQLSession) throws -> Void)?
    ) async throws
        -> [StoreOutcome]
    func revisions(of instanceID: String) async throws -> [RevisionRecord]
    func survey(_ instanceID: String) async throws -> SurveyRecord?
    func conflicts(under unit: UnitCode, includeResolved: Bool) async throws -> [ConflictRecord]
    func conflict(_ id: Int64) async throws -> ConflictRecord?
    /// Makes `keep` the current survey of the conflict's unit and period;
    /// the other is kept as superseded. `reportRow` reads the kept survey's
    /// report row from its form version and kept answers.
    func resolveConflict(
        _ id: Int64, keep: String, comment: String?, by actor: Actor, at time: Date,
        reportRow: @escaping @Sendable (_ formID: String, _ version: String, _ answers: String) -> [SQLValue]?, hook: @escaping CurrentSurveyHook
    ) async throws -> ConflictRecord
    /// Up to `limit` current surveys of `formID` with a store id above
    /// `after`, by id, in `session`: what a report table is rebuilt from.
    func currentSurveys(formID: String, after: Int64, limit: Int, in session: any SQLSession) throws
        -> [(id: Int64, unit: String, period: String, createdAt: Int64, formVersion: String, answers: String)]
    func counts() async throws -> StorageCounts

    // Review
    /// Applies one review action to each survey, in one transaction; each
    /// survey is answered on its own (one refused does not stop the
    /// others). `levels` gives a form version's levels that approve.
    func review(
        _ targets: [ReviewTarget], action: ReviewAction, comment: String?, by actor: Actor, at time: Date,
        levels: @escaping @Sendable (_ formID: String, _ version: String) -> [UnitLevel]
    ) async throws -> [ReviewOutcome]
    /// Every review decision about a survey, oldest first.
    func reviewHistory(of instanceID: String) async throws -> [ReviewEvent]
    /// The review decisions after event `after` about surveys under `unit`
    /// (with `sentBy`, only those that token sent), oldest first.
    func reviewNotices(after: Int64, limit: Int, under unit: UnitCode, sentBy tokenID: Int64?) async throws -> [ReviewNotice]
    /// A page of surveys, by store id, with their review.
    func browse(_ query: SurveyQuery) async throws -> [SurveyListing]

    // Last period's surveys and what the checks found
    /// The current surveys of a form and period under `scope`, in unit
    /// order after `after`, or of the listed units only; with their
    /// answers when asked.
    func baselines(formID: String, period: String, under scope: UnitCode, after: String?, limit: Int, units: [String]?, answers: Bool) async throws
        -> [BaselineRecord]
    /// The kept answers of the current surveys of a form and period for
    /// the listed units (those that have one), keyed by unit: what an
    /// ingest checks its batch against.
    func baselineAnswers(formID: String, period: String, units: [String]) async throws -> [String: String]
    /// The current surveys of a form and period under `scope` whose
    /// revision the checks flagged, in unit order.
    func flaggedSurveys(formID: String, period: String, under scope: UnitCode) async throws -> [FlaggedSurvey]
    /// How many current surveys of a form and period under `unit` stand
    /// at each review status.
    func reviewCounts(under unit: UnitCode, formID: String, period: String) async throws -> [ReviewStatus: Int]

    // Audit
    func recordAudit(_ entry: AuditEntry) async throws
    /// Entries about units under `unit`, and those about no unit, newest
    /// first, before entry `before`.
    func audit(under unit: UnitCode, before: Int64?, limit: Int, action: String?) async throws -> [AuditRecord]
    /// A cheap query that proves the database answers.
    func checkHealth() async throws
}

extension ServerStorage {
    /// Where the data is, for logs and messages: a file path, or an
    /// address without its password.
    public var location: String { sql.location }
}
