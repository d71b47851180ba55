import Foundation
import SurveyCore
import SurveyReport

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

/// One survey that passed every check and is ready for the store.
public struct IngestCandidate: Sendable {
    public var survey: WireSurvey
    public var unit: UnitCode
    public var contentHash: String
    /// The answers as kept: checked, with calculations recomputed (JSON text).
    public var storedAnswers: String
    /// The survey's row in its form's report table, if the form has one.
    public var reportRow: [ReportValue]?

    public init(survey: WireSurvey, unit: UnitCode, contentHash: String, storedAnswers: String, reportRow: [ReportValue]? = nil) {
        self.survey = survey
        self.unit = unit
        self.contentHash = contentHash
        self.storedAnswers = storedAnswers
        self.reportRow = reportRow
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
}

/// A reason a storage request could not be done, for the API to turn into
/// a status and a message.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case notFound, conflict, invalid, forbidden, unavailable }
    public var kind: Kind
    public var message: LocalizedText

    public init(_ kind: Kind, _ message: LocalizedText) {
        self.kind = kind
        self.message = message
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

/// The server's storage: SQLite through GRDB (`SQLiteServerStorage`) or
/// PostgreSQL (`PostgresServerStorage`). Every method is one transaction.
public protocol ServerStorage: Sendable {
    /// Where the data is, for logs and messages: a file path, or an
    /// address without its password.
    var location: String { get }

    // Tokens
    func createToken(name: String, role: Role, unit: UnitCode, hash: String) async throws -> TokenRecord
    func tokens() async throws -> [TokenRecord]
    /// Revokes by id or name; nil when there is no such token.
    func revokeToken(_ reference: String) async throws -> TokenRecord?
    /// The principal of a token hash that exists and is not revoked.
    func principal(tokenHash: String) async throws -> Principal?

    // Units
    /// Replaces the registry; returns how many units it now has.
    func replaceUnits(_ units: [OrgUnit]) async throws -> Int
    func units() async throws -> [OrgUnit]
    /// Changes every time the registry is replaced.
    func registryRevision() async throws -> Int

    // Surveys
    /// Applies the candidates in order, in one transaction, and answers
    /// each in the same order. A candidate whose stored survey lies outside
    /// `principal`'s scope is `forbidden`.
    func ingest(_ candidates: [IngestCandidate], by principal: Principal, at time: Date) async throws -> [StoreOutcome]
    func revisions(of instanceID: String) async throws -> [RevisionRecord]
    func survey(_ instanceID: String) async throws -> SurveyRecord?
    func conflicts(under unit: UnitCode, includeResolved: Bool) async throws -> [ConflictRecord]
    func conflict(_ id: Int64) async throws -> ConflictRecord?
    /// Makes `keep` the current survey of the conflict's unit and period;
    /// the other is kept as superseded.
    func resolveConflict(_ id: Int64, keep: String, by principal: Principal, at time: Date) async throws -> ConflictRecord
    func counts() async throws -> StorageCounts
    /// A cheap query that proves the database answers.
    func checkHealth() async throws

    // Reports
    /// The SQL dialect report queries are written in.
    var reportDialect: SQLDialect { get }
    /// Creates or rebuilds the forms' report tables; returns rows written.
    /// `progress` gets a rebuilt table's name and its rows written so far.
    func prepareReports(_ plans: [ReportPlan], progress: @escaping @Sendable (String, Int) -> Void) async throws -> Int
    /// Brings a form's per-township rollup up to date for each period
    /// (with that period's due time), before a large scope's totals are
    /// read from it, `townshipsPerStatement` changed townships at a time.
    func refreshRollups(_ rollup: RollupSQL, periods: [(period: String, dueBefore: Int64?)], townshipsPerStatement: Int) async throws -> RollupRefresh
    /// Runs a report's totals and watch-list queries.
    func reportData(_ queries: ReportQueries) async throws -> ReportData
    /// The codes a query of one text column returns.
    func reportCodes(_ query: SQLQuery) async throws -> [String]
}
