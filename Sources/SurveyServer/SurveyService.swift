import Foundation
import Logging
import SurveyCore
import SurveyReport
import SurveySQL
import Synchronization

/// Limits on what one request may carry.
public struct ServerLimits: Sendable, Equatable {
    /// Largest request body as received (compressed or not).
    public var maxBodyBytes: Int
    /// Largest body after gzip is undone.
    public var maxDecodedBytes: Int
    /// Most surveys in one batch.
    public var maxBatch: Int
    /// Deepest JSON nesting.
    public var maxDepth: Int
    /// Most batches one token may have in flight at once; one more is
    /// refused before its body is read (429 with `Retry-After`). A device
    /// sends on two connections.
    public var maxIngestPerToken: Int

    public init(maxBodyBytes: Int = 8 << 20, maxDecodedBytes: Int = 32 << 20, maxBatch: Int = 500, maxDepth: Int = 32, maxIngestPerToken: Int = 8) {
        self.maxBodyBytes = maxBodyBytes
        self.maxDecodedBytes = maxDecodedBytes
        self.maxBatch = maxBatch
        self.maxDepth = maxDepth
        self.maxIngestPerToken = maxIngestPerToken
    }
}

/// A form version as the server hands it out.
public struct PublishedForm: Sendable {
    public var form: Form
    /// The YAML text, exactly as in the forms directory.
    public var source: String
    /// SHA-256 of `source`.
    public var hash: String

    /// Every form of the catalog with its source text.
    public static func all(in catalog: FormCatalog) -> [PublishedForm] {
        catalog.allForms.map { form in
            let data = (try? Data(contentsOf: URL(fileURLWithPath: form.file))) ?? Data()
            return PublishedForm(form: form, source: String(decoding: data, as: UTF8.self), hash: Digests.sha256Hex(data))
        }
    }
}

/// Everything the API does, apart from HTTP: authentication, ingest, reads
/// within the caller's scope, conflicts and reports. Its errors are
/// `ServiceError`s (and the storage's `StorageError` and `SQLError`), which
/// the HTTP layer maps to statuses in one place.
public final class SurveyService: Sendable {
    let storage: any ServerStorage
    public let catalog: FormCatalog
    public let published: [PublishedForm]
    public let limits: ServerLimits
    /// The reports, over the storage's own database.
    public let reports: ReportEngine
    private let registryCache = Mutex<(revision: Int, registry: UnitRegistry, checked: ContinuousClock.Instant)?>(nil)
    /// Batches in flight, by token.
    private let ingesting = Mutex<[Int64: Int]>([:])

    public init(storage: any ServerStorage, catalog: FormCatalog, limits: ServerLimits = ServerLimits()) {
        self.storage = storage
        self.catalog = catalog
        self.limits = limits
        published = PublishedForm.all(in: catalog)
        reports = ReportEngine(engine: storage.sql, source: StoredSurveys(storage: storage))
        reports.load(catalog)
    }

    /// Makes a service ready to serve, as `vsurvey-server serve` does at
    /// start (and the tests' servers): imports the forms directory's unit
    /// registry into a database that has none, refuses forms whose
    /// indicators SQL cannot compute, creates or rebuilds the report tables
    /// (`progress` hears of a rebuild's rows) and reads the registry.
    public static func start(
        storage: any ServerStorage, catalog: FormCatalog, limits: ServerLimits = ServerLimits(), logger: Logger? = nil,
        progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> SurveyService {
        if try await storage.registryRevision() == 0, let registry = catalog.registry, catalog.registryProblems.isEmpty {
            let count = try await storage.replaceUnits(registry.units)
            logger?.notice("unit registry imported from the forms directory", metadata: ["units": .stringConvertible(count)])
        }
        let service = SurveyService(storage: storage, catalog: catalog, limits: limits)
        let problems = service.reports.problems()
        guard problems.isEmpty else {
            throw ServiceError(
                .invalid, "indicators",
                L(
                    "有指标无法计算:\n" + problems.map { "  \($0.indicator): \($0.message.zh)" }.joined(separator: "\n"),
                    "some indicators cannot be computed:\n" + problems.map { "  \($0.indicator): \($0.message.text(.en))" }.joined(separator: "\n")))
        }
        let rebuilt = try await service.prepareReports(progress: progress)
        if rebuilt > 0 { logger?.notice("report tables rebuilt for new form columns", metadata: ["rows": .stringConvertible(rebuilt)]) }
        // The registry is read into memory now rather than by the first
        // request (most of a second for half a million units).
        let units = try await service.registry().units.count
        logger?.info("unit registry loaded", metadata: ["units": .stringConvertible(units)])
        return service
    }

    // MARK: Reports

    /// Creates the report tables, rebuilding those whose columns changed;
    /// returns the rows written. `progress` gets a rebuilt table's name and
    /// its rows so far.
    @discardableResult
    public func prepareReports(progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws -> Int {
        try await reports.prepare(catalog, progress: progress)
    }

    func ensureReportsPrepared() async throws {
        if !reports.isPrepared { try await prepareReports() }
    }

    /// What ingest and conflict resolution tell the report tables, inside
    /// their transaction.
    var reportHook: CurrentSurveyHook { reportHook(marks: nil) }

    /// With `marks`, the counties to screen for outliers again are collected
    /// there (the caller marks them at the end of its transaction) instead of
    /// being marked survey by survey. A transaction run again collects them
    /// again: marking more than changed only screens a county once more.
    func reportHook(marks: OutlierMarks?) -> CurrentSurveyHook {
        let reports = reports
        return { change, session in
            try reports.record(
                formID: change.formID, formVersion: change.formVersion, row: change.reportRow, instance: change.instance,
                reportedAt: change.createdAt, left: change.left, now: change.now, in: session, marks: marks)
        }
    }

    /// The period a report shows when none is asked for: the one that
    /// contains today (`Period.current`), of the form's type.
    public func defaultPeriod(formID: String) throws(ServiceError) -> String {
        guard let plan = reports.plan(formID) else { throw ServiceError.notFound(L("没有表单 “\(formID)”", "there is no form '\(formID)'")) }
        return Period.current(plan.latest.periodType).description
    }

    /// A form's report for a scope and period, with the previous period's
    /// figures for comparison; `principal` must be a reader whose scope
    /// covers `scope`.
    public func report(
        formID: String, scope: UnitCode, period: String, for principal: Principal? = nil, watchLimit: Int = 50, missingLimit: Int = 200
    ) async throws -> Report {
        if let principal {
            try principal.require(.read)
            try principal.requireScope(scope)
        }
        try await ensureReportsPrepared()
        do {
            let registry = try await registry()
            var report = try await reports.report(
                formID: formID, scope: scope, period: period, registry: registry, watchLimit: watchLimit, missingLimit: missingLimit)
            report.quality = try await quality(of: report, scope: scope, registry: registry)
            return report
        } catch let error as ReportError {
            switch error.kind {
            case .unknownForm: throw ServiceError.notFound(error.message)
            case .invalidPeriod: throw ServiceError(.invalid, "invalid_period", error.message)
            }
        }
    }

    // MARK: Authentication

    /// The principal behind an `Authorization: Bearer …` header value.
    public func authenticate(_ header: String?) async throws -> Principal {
        guard let header, !header.isEmpty else {
            throw ServiceError.unauthenticated(L("缺少令牌:请在 Authorization 头中给出 Bearer 令牌", "no token: send 'Authorization: Bearer TOKEN'"))
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw ServiceError.unauthenticated(L("Authorization 头应为 “Bearer 令牌”", "the Authorization header must be 'Bearer TOKEN'"))
        }
        return try await authenticate(token: String(parts[1]).trimmingSpaces)
    }

    /// The principal of a token secret.
    public func authenticate(token secret: String) async throws -> Principal {
        guard !secret.isEmpty, let principal = try await storage.principal(tokenHash: TokenSecret.hash(secret)) else {
            throw ServiceError.unauthenticated(L("令牌无效或已吊销", "the token is not valid or has been revoked"))
        }
        return principal
    }

    /// How long a sign-in to the report pages lasts.
    public static let sessionLifetime: TimeInterval = 8 * 3600
    /// What a session id starts with (a token's is `vst_`).
    public static let sessionPrefix = "vss_"

    /// Signs in to the report pages with a token, which must be valid and
    /// allowed to read: a new session, whose id (returned, for the
    /// browser's cookie) is kept only as its hash. The token itself never
    /// goes back to the browser.
    public func signIn(token secret: String, address: String? = nil, now: Date = Date()) async throws -> (principal: Principal, session: String) {
        let principal: Principal
        do {
            principal = try await authenticate(token: secret)
            try principal.require(.read)
        } catch let error as ServiceError {
            // Who tried is not known (the token is not one), only from where.
            let known = try? await storage.principal(tokenHash: TokenSecret.hash(secret))
            try await storage.recordAudit(
                AuditEntry(
                    actor: known.map { Actor($0, address: address) }
                        ?? Actor(name: "?", role: nil, unit: UnitCode("000000000000")!, tokenID: nil, address: address),
                    action: "session.sign_in_refused", target: nil, unit: known?.unit.rawValue, details: ["reason": .string(error.code)]))
            throw error
        }
        let session = TokenSecret.generate(prefix: Self.sessionPrefix)
        try await storage.createSession(
            hash: TokenSecret.hash(session), tokenID: principal.tokenID, at: now, expiresAt: now.addingTimeInterval(Self.sessionLifetime))
        try await storage.recordAudit(
            AuditEntry(actor: Actor(principal, address: address), action: "session.sign_in", target: principal.name, unit: principal.unit.rawValue))
        return (principal, session)
    }

    /// The principal of a report-page session that is still open.
    public func authenticate(session secret: String, now: Date = Date()) async throws -> Principal {
        guard secret.hasPrefix(Self.sessionPrefix), let principal = try await sessionPrincipal(TokenSecret.hash(secret), at: now) else {
            throw ServiceError.unauthenticated(L("登录已过期或已退出,请重新登录", "the sign-in has expired or ended; sign in again"))
        }
        return principal
    }

    /// The principal of a session: a token's, or a person's.
    func sessionPrincipal(_ hash: String, at now: Date) async throws -> Principal? {
        if let principal = try await storage.principal(sessionHash: hash, at: now) { return principal }
        return try await storage.principal(personSessionHash: hash, at: now)
    }

    /// Signs out: the session ends at once.
    public func signOut(session secret: String, address: String? = nil, now: Date = Date()) async throws {
        let hash = TokenSecret.hash(secret)
        let principal = try await sessionPrincipal(hash, at: now)
        try await storage.endSession(hash: hash)
        try await storage.endPersonSession(hash: hash)
        if let principal {
            try await storage.recordAudit(
                AuditEntry(actor: Actor(principal, address: address), action: "session.sign_out", target: principal.name, unit: principal.unit.rawValue))
        }
    }

    // MARK: Registry

    /// The unit registry, re-read when `units import` has replaced it
    /// (checked at most once a second).
    public func registry() async throws -> UnitRegistry {
        let now = ContinuousClock.now
        if let cached = registryCache.withLock({ $0 }), now - cached.checked < .seconds(1) { return cached.registry }
        let revision = try await storage.registryRevision()
        if let cached = registryCache.withLock({ $0 }), cached.revision == revision {
            registryCache.withLock { $0?.checked = now }
            return cached.registry
        }
        let registry = UnitRegistry(units: try await storage.units())
        registryCache.withLock { $0 = (revision, registry, now) }
        return registry
    }

    /// The registry's units that `principal` covers, in code order.
    public func units(for principal: Principal) async throws -> [OrgUnit] {
        try await registry().units.filter { principal.covers($0.code) }.sorted { $0.code < $1.code }
    }

    // MARK: Reads

    /// A survey's latest revision and state; the survey's unit must be in
    /// `principal`'s scope.
    public func survey(_ instanceID: String, for principal: Principal) async throws -> SurveyRecord {
        try principal.require(.read)
        guard let record = try await storage.survey(instanceID) else {
            throw ServiceError.notFound(L("没有调查 \(instanceID)", "there is no survey \(instanceID)"))
        }
        try principal.requireScope(record.latest.unit, Self.outsideScope(principal))
        return record
    }

    /// A survey's revisions that `principal` may see: a survey moved from
    /// another unit keeps its earlier revisions there, and a token sees only
    /// the revisions filed under its units.
    public func revisions(of instanceID: String, for principal: Principal) async throws -> (instanceID: String, revisions: [RevisionRecord]) {
        try principal.require(.read)
        let revisions = try await storage.revisions(of: instanceID)
        guard let last = revisions.last else { throw ServiceError.notFound(L("没有调查 \(instanceID)", "there is no survey \(instanceID)")) }
        try principal.requireScope(last.unit, Self.outsideScope(principal))
        return (last.instanceID, revisions.filter { UnitCode($0.unit).map(principal.covers) ?? false })
    }

    static func outsideScope(_ principal: Principal) -> LocalizedText {
        L("这份调查不在令牌的范围 \(principal.unit) 内", "this survey is outside the token's scope \(principal.unit)")
    }

    // MARK: Conflicts

    /// The conflicts under `principal`'s unit, open ones only unless `includeResolved`.
    public func conflicts(for principal: Principal, includeResolved: Bool) async throws -> [ConflictRecord] {
        try principal.require(.read)
        return try await storage.conflicts(under: principal.unit, includeResolved: includeResolved)
    }

    /// Makes `keep` the current survey of a conflict; an admin's, in scope,
    /// with an optional comment saying why. The audit log records it.
    public func resolveConflict(
        _ id: Int64, keep: String, comment: String? = nil, by principal: Principal, address: String? = nil, at time: Date = Date()
    ) async throws -> ConflictRecord {
        try principal.require(.resolve)
        if let comment, comment.count > 2000 {
            throw ServiceError(.invalid, "comment_too_long", L("意见最多 2000 字", "a comment may have at most 2,000 characters"))
        }
        try await ensureReportsPrepared()
        let reports = reports
        return try await storage.resolveConflict(
            id, keep: keep, comment: comment, by: Actor(principal, address: address), at: time,
            reportRow: { formID, version, answers in reports.row(formID: formID, version: version, answers: answers) }, hook: reportHook)
    }

    /// A conflict in `principal`'s scope.
    public func conflict(_ id: Int64, for principal: Principal) async throws -> ConflictRecord {
        try principal.require(.read)
        guard let conflict = try await storage.conflict(id) else {
            throw ServiceError.notFound(L("没有编号为 \(id) 的冲突", "there is no conflict \(id)"))
        }
        try principal.requireScope(conflict.unit, L("冲突 \(id) 不在令牌的范围 \(principal.unit) 内", "conflict \(id) is outside the token's scope \(principal.unit)"))
        return conflict
    }

    // MARK: Health

    /// Proves the database answers (and, for SQLite, is still the file opened).
    public func checkHealth() async throws { try await storage.checkHealth() }

    // MARK: Ingest

    /// One survey's answer in a batch reply.
    public struct SurveyResult: Sendable {
        public var index: Int
        public var instanceID: String?
        public var revision: Int?
        public var outcome: Outcome
        public var reason: LocalizedText
        public var errors: [ValidationIssue] = []
        public var warnings: [ValidationIssue] = []
        public var conflictID: Int64?
        public var serverRevision: Int?

        /// The result as the wire carries it, in `language`.
        public func reply(_ language: Language) -> SurveyReply {
            SurveyReply(
                index: index, instanceID: instanceID, revision: revision, outcome: outcome, reason: reason.text(language),
                errors: errors.map { WireIssue($0, language: language) }, warnings: warnings.map { WireIssue($0, language: language) },
                conflictID: conflictID.map { Int($0) }, serverRevision: serverRevision)
        }
    }

    /// Runs CPU-heavy work (undoing gzip, parsing, checking a batch) on a
    /// thread of Dispatch's rather than on one of the few threads of Swift
    /// concurrency, which every request shares: a large batch being checked
    /// no longer holds up `/health` or another device's small batch.
    public static func offloaded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                do {
                    continuation.resume(returning: try work())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Reads a request body: undoes gzip, parses JSON with line and column
    /// on failure.
    public func decodeBody(_ bytes: [UInt8], gzip: Bool) throws(ServiceError) -> JSONValue {
        var body = bytes
        if gzip || Gzip.looksCompressed(bytes) {
            do {
                body = try Gzip.decompress(bytes, limit: limits.maxDecodedBytes)
            } catch .tooLarge(let limit) {
                throw ServiceError(
                    .tooLarge, "payload_too_large", L("解压后的请求体超过 \(limit) 字节的上限", "the decompressed body is larger than the limit of \(limit) bytes"),
                    details: [("limit", .integer(limit))])
            } catch .corrupt(let offset) {
                throw ServiceError.invalid(
                    L("gzip 数据损坏或不完整(第 \(offset) 字节附近)", "the gzip data is damaged or incomplete (near byte \(offset))"),
                    details: [("offset", .integer(offset))])
            } catch {
                throw ServiceError(.unavailable, "unavailable", L("服务器内存不足", "the server is out of memory"))
            }
        }
        do {
            return try JSONParser(maxDepth: limits.maxDepth).parse(body)
        } catch {
            throw ServiceError.invalid(
                L(
                    "JSON 第 \(error.line) 行第 \(error.column) 列:\(error.message.zh)",
                    "JSON line \(error.line), column \(error.column): \(error.message.text(.en))"),
                details: [("line", .integer(error.line)), ("column", .integer(error.column))])
        }
    }

    /// Runs `body` (reading, checking and storing one batch) as one of the
    /// batches `principal`'s token may have in flight, or refuses at once
    /// when it has `limits.maxIngestPerToken` already: one token cannot take
    /// every thread the server has.
    public func admittingIngest<T>(for principal: Principal, _ body: () async throws -> T) async throws -> T {
        let limit = limits.maxIngestPerToken
        let admitted = ingesting.withLock { counts in
            let current = counts[principal.tokenID, default: 0]
            guard current < limit else { return false }
            counts[principal.tokenID] = current + 1
            return true
        }
        guard admitted else {
            throw ServiceError(
                .busy, "too_many_requests",
                L(
                    "这个令牌同时发送的批次已达上限 \(limit),请稍后重试;已收到的数据不受影响",
                    "this token already has \(limit) batches in flight; try again shortly. Nothing already received is affected"),
                details: [("limit", .integer(limit)), ("retry_after", .integer(Self.ingestRetryAfter))])
        }
        defer {
            ingesting.withLock { counts in
                let left = counts[principal.tokenID, default: 1] - 1
                counts[principal.tokenID] = left > 0 ? left : nil
            }
        }
        return try await body()
    }

    /// Seconds a refused batch should wait before it is sent again.
    public static let ingestRetryAfter = 2

    /// Checks and stores a batch (`{"surveys": [...]}`), answering each
    /// survey. Every survey is checked before the one write transaction.
    public func ingest(
        _ document: JSONValue, by principal: Principal, today: Int = CivilDate.today(), logger: Logger? = nil
    ) async throws -> [SurveyResult] {
        try principal.require(.send)
        try await ensureReportsPrepared()
        guard case .object(let object) = document else {
            throw ServiceError.invalid(L("请求体应为 {\"surveys\": [...]}", "the body must be {\"surveys\": [...]}"))
        }
        for key in object.keys where key != "surveys" {
            throw ServiceError.invalid(L("未知的键 “\(key)”(只允许 surveys)", "unknown key '\(key)' (only 'surveys' is allowed)"))
        }
        guard case .array(let items)? = object["surveys"] else {
            throw ServiceError.invalid(L("surveys 应为数组", "surveys must be an array"))
        }
        if items.count > limits.maxBatch {
            throw ServiceError(
                .tooLarge, "batch_too_large",
                L("一批最多 \(limits.maxBatch) 份调查,本批有 \(items.count) 份", "a batch may hold at most \(limits.maxBatch) surveys; this one has \(items.count)"),
                details: [("limit", .integer(limits.maxBatch))])
        }
        let registry = try await registry()
        let started = ContinuousClock.now
        let baselines = try await baselines(for: items)
        // Checking is the CPU-heavy part (tens of microseconds a survey):
        // off the threads that serve every other request.
        let checked = try await Self.offloaded { [self] in
            var results: [SurveyResult] = []
            results.reserveCapacity(items.count)
            var candidates: [IngestCandidate] = []
            var candidatePositions: [Int] = []
            for (index, item) in items.enumerated() {
                let checked = check(item, index: index, principal: principal, registry: registry, today: today, baselines: baselines)
                results.append(checked.result)
                if let candidate = checked.candidate {
                    candidates.append(candidate)
                    candidatePositions.append(index)
                }
            }
            return (results, candidates, candidatePositions)
        }
        var results = checked.0
        let (candidates, candidatePositions) = (checked.1, checked.2)
        if !candidates.isEmpty {
            logger?.debug(
                "batch checked; writing",
                metadata: ["candidates": .stringConvertible(candidates.count), "check_ms": .stringConvertible((ContinuousClock.now - started).milliseconds)])
            let writing = ContinuousClock.now
            // The counties whose villages changed are marked for the outlier
            // screening once per batch, at its end, not once per survey.
            let marks = OutlierMarks()
            let reports = reports
            let outcomes = try await storage.ingest(
                candidates, by: principal, at: Date(), hook: reportHook(marks: marks),
                finish: { session in try reports.markOutliersDirty(marks.taken(), in: session) })
            logger?.debug("batch written", metadata: ["write_ms": .stringConvertible((ContinuousClock.now - writing).milliseconds)])
            for (position, outcome) in zip(candidatePositions, outcomes) {
                results[position].outcome = outcome.outcome
                results[position].reason = outcome.reason
                results[position].conflictID = outcome.conflictID
                results[position].serverRevision = outcome.serverRevision
                if outcome.outcome != .created && outcome.outcome != .updated && outcome.outcome != .held {
                    results[position].warnings = []
                }
            }
        }
        return results
    }

    /// The key of a baseline in `baselines(for:)`: form, period and unit.
    static func baselineKey(_ formID: String, _ period: String, _ unit: String) -> String { formID + "\u{0}" + period + "\u{0}" + unit }

    /// The previous period's kept answers of the batch's units, for the
    /// surveys whose form reads them (`previous()`) or screens changes:
    /// one query per form and period, before the batch is checked.
    func baselines(for items: [JSONValue]) async throws -> [String: String] {
        var wanted: [String: (formID: String, period: String, units: Set<String>)] = [:]
        for item in items {
            guard case .object(let object) = item, let formID = object["form"]?.stringValue, let version = object["version"]?.stringValue,
                let unit = object["unit"]?.stringValue, UnitCode(unit) != nil, let period = object["period"]?.stringValue,
                let form = catalog.form(formID, version: version), form.readsPrevious || form.outliers != nil,
                let previous = Period(period)?.previous?.description
            else { continue }
            wanted[formID + "\u{0}" + previous, default: (formID, previous, [])].units.insert(unit)
        }
        var found: [String: String] = [:]
        for (_, group) in wanted {
            let units = group.units.sorted()
            for start in stride(from: 0, to: units.count, by: 400) {
                let part = Array(units[start..<min(start + 400, units.count)])
                for (unit, answers) in try await storage.baselineAnswers(formID: group.formID, period: group.period, units: part) {
                    found[Self.baselineKey(group.formID, group.period, unit)] = answers
                }
            }
        }
        return found
    }

    /// Last period's stored answers as `Form.baseline` reads them: only
    /// the members it reads when it reads them as stored, else all.
    public static func baselineAnswers(_ text: String, form: Form) -> JSONObject? {
        let parser = JSONParser(refusesDuplicateKeys: false)
        if let keys = form.baselineMembers { return try? parser.members(of: text, keys: keys) }
        return (try? parser.parse(text))?.objectValue
    }

    /// Everything that can be decided without the store.
    func check(_ item: JSONValue, index: Int, principal: Principal, registry: UnitRegistry, today: Int, baselines: [String: String] = [:]) -> (
        result: SurveyResult, candidate: IngestCandidate?
    ) {
        var result = SurveyResult(index: index, outcome: .rejected, reason: L("", ""))
        if case .object(let object) = item {
            result.instanceID = object["instance_id"]?.stringValue
            if case .integer(let revision)? = object["revision"] { result.revision = revision }
        }
        let survey: WireSurvey
        switch WireSurvey.read(item) {
        case .failure(let problems):
            result.reason = L("调查的格式不对", "the survey's envelope is malformed")
            result.errors = problems.issues
            return (result, nil)
        case .success(let read): survey = read
        }
        func reject(_ reason: LocalizedText, _ issues: [ValidationIssue]) -> (SurveyResult, IngestCandidate?) {
            result.reason = reason
            result.errors = issues
            return (result, nil)
        }
        guard let unit = UnitCode(survey.unit) else {
            return reject(
                L("单位代码无效", "the unit code is not valid"),
                [
                    ValidationIssue(
                        path: "unit", field: "unit", code: .envelope,
                        message: L("单位代码 “\(survey.unit)” 应为 12 位数字", "unit code '\(survey.unit)' must be 12 digits"))
                ])
        }
        guard principal.covers(unit) else {
            result.outcome = .forbidden
            result.reason = L("单位 \(unit) 不在令牌的范围 \(principal.unit) 内;未保存", "unit \(unit) is outside the token's scope \(principal.unit); nothing was stored")
            return (result, nil)
        }
        guard let form = catalog.form(survey.formID, version: survey.formVersion) else {
            let known = catalog.forms[survey.formID]?.map(\.version) ?? []
            let issue: ValidationIssue
            if known.isEmpty {
                issue = ValidationIssue(
                    path: "form", field: "form", code: .envelope,
                    message: L("服务器没有表单 “\(survey.formID)”", "the server has no form '\(survey.formID)'"))
            } else {
                issue = ValidationIssue(
                    path: "version", field: "version", code: .envelope,
                    message: L(
                        "表单 “\(survey.formID)” 没有版本 \(survey.formVersion)(服务器有:\(known.joined(separator: "、")))",
                        "form '\(survey.formID)' has no version \(survey.formVersion) (the server has \(known.joined(separator: ", ")))"))
            }
            return reject(L("未知的表单或版本", "unknown form or version"), [issue])
        }
        let envelope = Submission(
            instanceID: survey.instanceID, formID: survey.formID, formVersion: survey.formVersion, unit: survey.unit, period: survey.period,
            answers: survey.answers
        ).envelopeIssues(for: form, registry: registry)
        if !envelope.isEmpty {
            return reject(L("单位或报告期不符合表单", "the unit or period does not fit the form"), envelope)
        }
        var baseline: Baseline?
        if !baselines.isEmpty, let previous = Period(survey.period)?.previous?.description,
            let text = baselines[Self.baselineKey(survey.formID, previous, survey.unit)],
            let answers = Self.baselineAnswers(text, form: form)
        {
            baseline = form.baseline(answers, period: previous, today: today)
        }
        let validation = form.validate(survey.answers, today: today, previous: baseline)
        result.warnings = validation.warnings
        if !validation.isValid {
            let count = validation.issues.count
            return reject(
                L("有 \(count) 处答案未通过检查", count == 1 ? "1 answer failed the form's checks" : "\(count) answers failed the form's checks"),
                validation.issues)
        }
        // What last period's survey contributes is left out of the hash: a
        // survey sent again after its baseline changed is the same survey.
        let (kept, hashed) = form.keptBytes(validation.answers)
        let hash = WireSurvey.contentHash(
            formID: survey.formID, formVersion: survey.formVersion, unit: survey.unit, period: survey.period, kept: hashed ?? kept)
        let checks = SurveyChecks(
            warnings: validation.warningsConfirmed(by: survey.confirmations), changes: form.changes(topValues: validation.topValues, baseline: baseline))
        let candidate = IngestCandidate(
            survey: survey, unit: unit, contentHash: hash, storedAnswers: String(decoding: kept, as: UTF8.self),
            reportRow: reports.row(form: form, topValues: validation.topValues), checks: checks.isEmpty ? nil : checks)
        return (result, candidate)
    }

    /// The reply to a batch, in `language`.
    public static func reply(_ results: [SurveyResult], language: Language) -> BatchReply {
        BatchReply(results: results.map { $0.reply(language) })
    }
}

/// The storage's current surveys as the report engine rebuilds a table from them.
struct StoredSurveys: CurrentSurveySource {
    let storage: any ServerStorage

    func currentSurveys(formID: String, after: Int64, limit: Int, in session: any SQLSession) throws -> [CurrentSurvey] {
        try storage.currentSurveys(formID: formID, after: after, limit: limit, in: session).map {
            CurrentSurvey(id: $0.id, unit: $0.unit, period: $0.period, reportedAt: $0.createdAt, formVersion: $0.formVersion, answers: $0.answers)
        }
    }
}
