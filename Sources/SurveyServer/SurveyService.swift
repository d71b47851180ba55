import Foundation
import Logging
import SurveyCore
import SurveyReport
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

    public init(maxBodyBytes: Int = 8 << 20, maxDecodedBytes: Int = 32 << 20, maxBatch: Int = 500, maxDepth: Int = 32) {
        self.maxBodyBytes = maxBodyBytes
        self.maxDecodedBytes = maxDecodedBytes
        self.maxBatch = maxBatch
        self.maxDepth = maxDepth
    }
}

/// A request that cannot be served, with the HTTP status and a message.
public struct APIError: Error, Sendable {
    public var statusCode: Int
    public var code: String
    public var message: LocalizedText
    /// Extra fields for the error object (`limit`, `line`, `column`).
    public var details: [(String, JSONValue)]

    public init(_ status: Int, _ code: String, _ message: LocalizedText, details: [(String, JSONValue)] = []) {
        self.statusCode = status
        self.code = code
        self.message = message
        self.details = details
    }

    public func json(_ language: Language) -> JSONValue {
        var error = JSONObject()
        error.appendUnique("code", .string(code))
        error.appendUnique("message", .string(message.text(language)))
        for (key, value) in details { error[key] = value }
        return ["error": .object(error)]
    }

    public static func unauthorized(_ message: LocalizedText) -> APIError { APIError(401, "unauthorized", message) }
    public static func forbidden(_ message: LocalizedText) -> APIError { APIError(403, "forbidden", message) }
    public static func notFound(_ message: LocalizedText) -> APIError { APIError(404, "not_found", message) }
    public static func badRequest(_ message: LocalizedText, details: [(String, JSONValue)] = []) -> APIError {
        APIError(400, "bad_request", message, details: details)
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
            return PublishedForm(form: form, source: String(decoding: data, as: UTF8.self), hash: SHA256.hex(of: data))
        }
    }
}

/// Everything the API does, apart from HTTP: authentication, ingest, reads.
/// The routes in `ServerApplication` only translate.
public final class SurveyService: Sendable {
    public let storage: any ServerStorage
    public let catalog: FormCatalog
    public let published: [PublishedForm]
    public let limits: ServerLimits
    private let registryCache = Mutex<(revision: Int, registry: UnitRegistry, checked: ContinuousClock.Instant)?>(nil)

    /// Each form id's report table, by form id.
    public let reportPlans: [String: ReportPlan]
    private let reportsPrepared = Mutex<Bool>(false)

    public init(storage: any ServerStorage, catalog: FormCatalog, limits: ServerLimits = ServerLimits()) {
        self.storage = storage
        self.catalog = catalog
        self.limits = limits
        published = PublishedForm.all(in: catalog)
        reportPlans = Dictionary(ReportPlan.all(in: catalog).map { ($0.schema.formID, $0) }, uniquingKeysWith: { _, last in last })
    }

    // MARK: Reports

    /// Indicators that SQL cannot compute, per form: the server refuses to
    /// start with any, since their reports would be wrong or missing.
    public func reportProblems() -> [IndicatorSQLError] {
        reportPlans.keys.sorted().flatMap { id in
            let plan = reportPlans[id]!
            return ReportSQL(form: plan.latest, schema: plan.schema, dialect: storage.reportDialect).problems()
        }
    }

    /// Creates the report tables, rebuilding those whose columns changed;
    /// returns the rows written. `progress` gets a rebuilt table's name and
    /// its rows so far.
    @discardableResult
    public func prepareReports(progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws -> Int {
        let written = try await storage.prepareReports(reportPlans.keys.sorted().map { reportPlans[$0]! }, progress: progress)
        reportsPrepared.withLock { $0 = true }
        return written
    }

    func ensureReportsPrepared() async throws {
        if !reportsPrepared.withLock({ $0 }) { try await prepareReports() }
    }

    /// A form's report for a scope and period, with the previous period's
    /// figures for comparison, from the report tables.
    public func report(formID: String, scope: UnitCode, period: String, watchLimit: Int = 50, missingLimit: Int = 200) async throws -> Report {
        guard let plan = reportPlans[formID] else {
            throw APIError.notFound(L("没有表单 “\(formID)”", "there is no form '\(formID)'"))
        }
        guard let parsed = Period(period), parsed.type == plan.latest.periodType else {
            throw APIError(
                400, "invalid_period",
                L(
                    "“\(period)” 不是 \(formID) 的报告期(如 \(Period.example(of: plan.latest.periodType)))",
                    "'\(period)' is not a period of \(formID) (e.g. \(Period.example(of: plan.latest.periodType)))"))
        }
        try await ensureReportsPrepared()
        let form = plan.latest
        let sql = ReportSQL(form: form, schema: plan.schema, dialect: storage.reportDialect)
        let length = Report.groupLength(scope: scope, form: form)
        let registry = try await registry()
        let expectedUnits = Report.expectedUnits(registry: registry, scope: scope, form: form)
        let expected = Report.countByGroup(expectedUnits, length: length)
        // A large scope is read in two parts at once (two cores), split
        // between groups so that each group is whole in one part, and a
        // group at a time (`ReportSQL.totalsParts`); a small one in one
        // grouping query.
        let parts = expected.values.reduce(0, +) > 20_000 ? 2 : 1
        let groups = parts > 1 ? expected.keys.sorted() : []
        let ranges = sql.split(scopePrefix: scope.prefix, groups: groups, parts: parts)
        // Above a county, the totals add up townships' rollup rows, brought
        // up to date first, instead of reading every village's row.
        let earlier = Report.previous(period)
        let rollup = length < RollupSQL.groupLength ? try RollupSQL(sql) : nil
        if let rollup {
            let periods = [period] + (earlier.map { [$0] } ?? [])
            _ = try await storage.refreshRollups(
                rollup, periods: periods.map { ($0, Report.dueBefore(form: form, period: $0)) }, townshipsPerStatement: RollupSQL.townshipsPerStatement)
        }
        // The previous period gives only the change of each figure: its
        // totals, without watch lists or charts.
        func queries(_ period: String, due: Int64?, watch: Bool) throws -> ReportQueries {
            ReportQueries(
                form: form,
                totals: try rollup.map { rollup throws(IndicatorSQLError) in
                    [[try rollup.totals(scopePrefix: scope.prefix, period: period, groupLength: length, dueBefore: due, charts: watch)]]
                }
                    ?? sql.totalsParts(
                        scopePrefix: scope.prefix, period: period, groupLength: length, dueBefore: due, groups: groups, parts: parts, charts: watch),
                watch: !watch
                    ? []
                    // A large scope on PostgreSQL: each list's first units
                    // from SQL, instead of every flagged row over the wire.
                    : storage.reportDialect == .postgres && parts > 1
                        ? try ranges.flatMap { range throws(IndicatorSQLError) in
                            try sql.watchFirst(scopePrefix: scope.prefix, period: period, range: range, limit: watchLimit)
                        }
                        : try ranges.compactMap { range throws(IndicatorSQLError) in try sql.watchAll(scopePrefix: scope.prefix, period: period, range: range)
                        },
                watchLimit: watchLimit)
        }
        async let current = storage.reportData(try queries(period, due: Report.dueBefore(form: form, period: period), watch: true))
        var previous: ReportData?
        if let earlier { previous = try await storage.reportData(try queries(earlier, due: nil, watch: false)) }
        var data = try await current
        // The units not reported: looked for only in the groups where the
        // totals say some are missing, group by group until the list is full.
        var missing: [String] = []
        for group in expected.keys.sorted() where missing.count < missingLimit {
            guard (expected[group] ?? 0) > (data.groups[group]?.reporting ?? 0), group.hasPrefix(scope.prefix) else { continue }
            let query = sql.missing(unitTable: "unit", scopePrefix: group, period: period, limit: missingLimit - missing.count)
            missing += try await storage.reportCodes(query)
        }
        data.missing = missing
        return Report(
            form: form, registry: registry, scope: scope, period: period, data: data, previous: previous, missingLimit: missingLimit,
            expectedUnits: expectedUnits)
    }

    // MARK: Authentication

    /// The principal behind an `Authorization: Bearer …` header value.
    public func authenticate(_ header: String?) async throws -> Principal {
        guard let header, !header.isEmpty else {
            throw APIError.unauthorized(L("缺少令牌:请在 Authorization 头中给出 Bearer 令牌", "no token: send 'Authorization: Bearer TOKEN'"))
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized(L("Authorization 头应为 “Bearer 令牌”", "the Authorization header must be 'Bearer TOKEN'"))
        }
        let secret = String(parts[1]).trimmingSpaces
        guard let principal = try await storage.principal(tokenHash: TokenSecret.hash(String(secret))) else {
            throw APIError.unauthorized(L("令牌无效或已吊销", "the token is not valid or has been revoked"))
        }
        return principal
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
    }

    /// Reads a request body: undoes gzip, parses JSON with line and column
    /// on failure.
    public func decodeBody(_ bytes: [UInt8], gzip: Bool) throws(APIError) -> JSONValue {
        var body = bytes
        if gzip || Gzip.looksCompressed(bytes) {
            do {
                body = try Gzip.decompress(bytes, limit: limits.maxDecodedBytes)
            } catch .tooLarge(let limit) {
                throw APIError(
                    413, "payload_too_large", L("解压后的请求体超过 \(limit) 字节的上限", "the decompressed body is larger than the limit of \(limit) bytes"),
                    details: [("limit", .integer(limit))])
            } catch .corrupt(let offset) {
                throw APIError.badRequest(
                    L("gzip 数据损坏或不完整(第 \(offset) 字节附近)", "the gzip data is damaged or incomplete (near byte \(offset))"),
                    details: [("offset", .integer(offset))])
            } catch {
                throw APIError(503, "unavailable", L("服务器内存不足", "the server is out of memory"))
            }
        }
        do {
            return try JSONParser(maxDepth: limits.maxDepth).parse(body)
        } catch {
            throw APIError.badRequest(
                L(
                    "JSON 第 \(error.line) 行第 \(error.column) 列:\(error.message.zh)",
                    "JSON line \(error.line), column \(error.column): \(error.message.text(.en))"),
                details: [("line", .integer(error.line)), ("column", .integer(error.column))])
        }
    }

    /// Checks and stores a batch (`{"surveys": [...]}`), answering each
    /// survey. Every survey is checked before the one write transaction.
    public func ingest(
        _ document: JSONValue, by principal: Principal, today: Int = CivilDate.today(), logger: Logger? = nil
    ) async throws -> [SurveyResult] {
        guard principal.role.maySend else {
            throw APIError.forbidden(L("查看者令牌不能上报调查", "a viewer token cannot send surveys"))
        }
        try await ensureReportsPrepared()
        guard case .object(let object) = document else {
            throw APIError.badRequest(L("请求体应为 {\"surveys\": [...]}", "the body must be {\"surveys\": [...]}"))
        }
        for key in object.keys where key != "surveys" {
            throw APIError.badRequest(L("未知的键 “\(key)”(只允许 surveys)", "unknown key '\(key)' (only 'surveys' is allowed)"))
        }
        guard case .array(let items)? = object["surveys"] else {
            throw APIError.badRequest(L("surveys 应为数组", "surveys must be an array"))
        }
        if items.count > limits.maxBatch {
            throw APIError(
                413, "batch_too_large",
                L("一批最多 \(limits.maxBatch) 份调查,本批有 \(items.count) 份", "a batch may hold at most \(limits.maxBatch) surveys; this one has \(items.count)"),
                details: [("limit", .integer(limits.maxBatch))])
        }
        let registry = try await registry()
        let started = ContinuousClock.now
        var results: [SurveyResult] = []
        results.reserveCapacity(items.count)
        var candidates: [IngestCandidate] = []
        var candidatePositions: [Int] = []
        for (index, item) in items.enumerated() {
            let checked = check(item, index: index, principal: principal, registry: registry, today: today)
            results.append(checked.result)
            if let candidate = checked.candidate {
                candidates.append(candidate)
                candidatePositions.append(index)
            }
        }
        if !candidates.isEmpty {
            logger?.debug(
                "batch checked; writing",
                metadata: ["candidates": .stringConvertible(candidates.count), "check_ms": .stringConvertible((ContinuousClock.now - started).milliseconds)])
            let writing = ContinuousClock.now
            let outcomes = try await storage.ingest(candidates, by: principal, at: Date())
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

    /// Everything that can be decided without the store.
    func check(_ item: JSONValue, index: Int, principal: Principal, registry: UnitRegistry, today: Int) -> (
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
        let validation = form.validate(survey.answers, today: today)
        result.warnings = validation.warnings
        if !validation.isValid {
            let count = validation.issues.count
            return reject(
                L("有 \(count) 处答案未通过检查", count == 1 ? "1 answer failed the form's checks" : "\(count) answers failed the form's checks"),
                validation.issues)
        }
        let kept = JSONValue.object(validation.answers).serializedBytes()
        let hash = WireSurvey.contentHash(formID: survey.formID, formVersion: survey.formVersion, unit: survey.unit, period: survey.period, kept: kept)
        let candidate = IngestCandidate(
            survey: survey, unit: unit, contentHash: hash, storedAnswers: String(decoding: kept, as: UTF8.self),
            reportRow: reportPlans[survey.formID]?.schema.row(form: form, topValues: validation.topValues))
        return (result, candidate)
    }

    /// The reply to a batch: a summary count of each outcome and each
    /// survey's result, in the order sent.
    public static func reply(_ results: [SurveyResult], language: Language) -> JSONValue {
        var summary = JSONObject()
        for outcome in Outcome.allCases {
            summary.appendUnique(outcome.rawValue, .integer(results.count { $0.outcome == outcome }))
        }
        summary.appendUnique("total", .integer(results.count))
        func issues(_ list: [ValidationIssue]) -> JSONValue {
            .array(
                list.map { issue in
                    ["path": .string(issue.path), "code": .string(issue.code.rawValue), "message": .string(issue.message.text(language))]
                })
        }
        let items: [JSONValue] = results.map { result in
            var object = JSONObject(minimumCapacity: 9)
            object.appendUnique("index", .integer(result.index))
            object.appendUnique("instance_id", result.instanceID.map(JSONValue.string) ?? .null)
            object.appendUnique("revision", result.revision.map(JSONValue.integer) ?? .null)
            object.appendUnique("outcome", .string(result.outcome.rawValue))
            object.appendUnique("reason", .string(result.reason.text(language)))
            if !result.errors.isEmpty { object.appendUnique("errors", issues(result.errors)) }
            if !result.warnings.isEmpty { object.appendUnique("warnings", issues(result.warnings)) }
            if let conflictID = result.conflictID { object.appendUnique("conflict_id", .integer(Int(conflictID))) }
            if let serverRevision = result.serverRevision { object.appendUnique("server_revision", .integer(serverRevision)) }
            return .object(object)
        }
        return ["summary": .object(summary), "results": .array(items)]
    }
}
