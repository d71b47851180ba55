import Foundation
import SurveyCore
import SurveyHTTP
import SurveyStore
import Synchronization

/// Where to sync and with what.
public struct SyncSettings: Sendable, Equatable {
    public var server: String
    public var token: String
    public var caFile: String?
    public var pinnedPublicKey: String?

    public init(server: String, token: String, caFile: String? = nil, pinnedPublicKey: String? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
        self.caFile = caFile
        self.pinnedPublicKey = pinnedPublicKey
    }

    /// `base` with this server's CA file and pinned key.
    public func clientOptions(_ base: HTTPClientOptions = HTTPClientOptions()) -> HTTPClientOptions {
        var options = base
        options.caFile = caFile ?? options.caFile
        options.pinnedPublicKey = pinnedPublicKey ?? options.pinnedPublicKey
        return options
    }

    /// The token, and the language the server's messages should come in.
    public func headers(language: Language) -> [(name: String, value: String)] {
        [("Authorization", "Bearer \(token)"), ("Accept-Language", language == .en ? "en" : "zh-CN")]
    }
}

/// What the server says about itself in the handshake.
public struct ServerInfo: Sendable {
    public var maxBatch: Int
    public var maxBodyBytes: Int
    public var tokenName: String?
    public var tokenRole: String?
    public var tokenUnit: String?
}

/// A sync that could not be done at all (wrong server, bad token), as
/// opposed to surveys the server refused.
public struct SyncError: Error, Sendable, CustomStringConvertible {
    public var message: LocalizedText
    /// Whether trying again later may work (network, server busy).
    public var transient: Bool

    public var description: String { message.text(.en) }
}

/// What one sync did.
public struct SyncSummary: Sendable, Equatable {
    /// Revisions the server stored (a survey edited twice sends three).
    public var sent = 0
    /// Surveys those revisions belong to, as `vsurvey list` counts them.
    public var sentSurveys = 0
    public var duplicates = 0
    public var rejected = 0
    public var mismatched = 0
    public var held = 0
    public var stale = 0
    /// Still waiting: not tried yet (retry time not come) or failed this time.
    public var pending = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    /// The forms and units pulled before the push.
    public var pulled = PullSummary()
    /// Review decisions about this device's surveys heard after the push,
    /// and how many of them returned a survey.
    public var reviews = 0
    public var returned = 0
    /// Last period's surveys fetched (new or changed) after the push.
    public var baselines = 0
    /// The last network or server failure, if any.
    public var failure: LocalizedText?

    public init() {}

    mutating func merge(_ other: SyncSummary) {
        sent += other.sent
        sentSurveys += other.sentSurveys
        duplicates += other.duplicates
        rejected += other.rejected
        mismatched += other.mismatched
        held += other.held
        stale += other.stale
        pending += other.pending
        bytesSent += other.bytesSent
        bytesReceived += other.bytesReceived
        failure = failure ?? other.failure
    }
}

/// Pushes the device's finalized surveys to the server: in batches no
/// larger than the server allows, gzip-compressed, each survey marked sent
/// only after the server's answer is committed to the local database. A
/// network failure, a timeout or a 5xx leaves the batch finalized with a
/// retry time (exponential backoff with jitter).
///
/// `progress` and `shouldStop` are set before a push and called from its
/// connections' threads.
public final class SyncEngine: @unchecked Sendable {
    public let store: SurveyStore
    public let settings: SyncSettings
    let client: HTTPClient
    public var progress: ((_ done: Int, _ total: Int, _ bytes: Int) -> Void)?
    /// Asked between batches; true stops the push there (the batches sent
    /// so far are recorded).
    public var shouldStop: () -> Bool = { false }
    /// Where to pull the server's forms and units to before each push; nil: no pull.
    public var formsDirectory: URL?
    /// The forms and periods whose baselines (last period's surveys of the
    /// token's units) to fetch after the push; asked after the forms are
    /// pulled, so that a form just pulled counts.
    public var baselinesWanted: () -> [(formID: String, period: String)] = { [] }
    private let progressLock = NSLock()

    /// The language the server's reasons come back in.
    public let language: Language

    public init(store: SurveyStore, settings: SyncSettings, language: Language = .zh, options: HTTPClientOptions = HTTPClientOptions()) {
        self.store = store
        self.settings = settings
        self.language = language
        client = HTTPClient(options: settings.clientOptions(options))
    }

    var headers: [(name: String, value: String)] { settings.headers(language: language) }

    /// Checks that the address is a VillageSurvey server (not a captive
    /// portal or a proxy's page) and that the token is valid.
    public func handshake() throws(SyncError) -> ServerInfo {
        let response: HTTPResponse
        do {
            response = try client.send(HTTPRequest(url: settings.server + "/api/v1/handshake", headers: headers))
        } catch {
            throw SyncError(message: error.message, transient: error.isTransient)
        }
        if response.status == 401 {
            throw SyncError(message: L("服务器不接受这个令牌(无效或已吊销)", "the server does not accept this token (unknown or revoked)"), transient: false)
        }
        guard response.status == 200, let json = try? JSONParser().parse(response.body), json["service"]?.stringValue == "vsurvey-server",
            case .integer(let maxBatch)? = json["max_batch"], case .integer(let maxBody)? = json["max_body_bytes"]
        else {
            throw SyncError(
                message: L(
                    "\(Redacted.url(settings.server)) 不是调查服务器(HTTP \(response.status));可能是网络登录页或代理",
                    "\(Redacted.url(settings.server)) is not a VillageSurvey server (HTTP \(response.status)); it may be a network login page or a proxy"),
                transient: response.status >= 500 || response.status == 200)
        }
        return ServerInfo(
            maxBatch: maxBatch, maxBodyBytes: maxBody, tokenName: json.string(at: "token", "name"), tokenRole: json.string(at: "token", "role"),
            tokenUnit: json.string(at: "token", "unit"))
    }

    /// Pulls the forms and units that changed (with `formsDirectory`), then
    /// sends every finalized revision whose retry time has come, or every
    /// finalized revision with `ignoringBackoff` (the network is back).
    public func push(now: Date = Date(), ignoringBackoff: Bool = false) throws(SyncError) -> SyncSummary {
        let info = try handshake()
        var summary = SyncSummary()
        if let formsDirectory { summary.pulled = try pull(into: formsDirectory) }
        let pending: [StoredSurvey]
        do {
            pending = try store.pendingForSync(now: ignoringBackoff ? .distantFuture : now)
        } catch {
            throw SyncError(message: L("无法读取本机数据库:\(error)", "cannot read the local database: \(error)"), transient: false)
        }
        // Two connections, so that the server checks one batch while the
        // other travels; each survey's revisions stay in one stream, in order.
        var streams: [[StoredSurvey]] = [[], []]
        for survey in pending { streams[abs(survey.instanceID.hashValue) % streams.count].append(survey) }
        streams.removeAll { $0.isEmpty }
        let parts = streams
        let shared = SharedProgress(total: pending.count)
        let results = Mutex<[Result<SyncSummary, SyncError>]>([])
        DispatchQueue.concurrentPerform(iterations: parts.count) { index in
            let client = index == 0 ? self.client : HTTPClient(options: self.client.options)
            let result: Result<SyncSummary, SyncError>
            do throws(SyncError) {
                result = .success(try pushStream(parts[index], client: client, info: info, now: now, shared: shared))
            } catch {
                result = .failure(error)
            }
            results.withLock { $0.append(result) }
        }
        for result in results.withLock({ $0 }) {
            switch result {
            case .success(let part): summary.merge(part)
            case .failure(let error): throw error
            }
        }
        // What the township and the county decided, once the push is done
        // (a survey sent just now may already have been reviewed before, by
        // an earlier revision).
        let heard = try pullReviews()
        summary.reviews = heard.kept
        summary.returned = heard.returned
        summary.baselines = try pullBaselines(baselinesWanted())
        do {
            summary.pending += max(0, try store.pendingCount().count - summary.pending)
            if summary.failure == nil { try store.setSyncValue("last_success", Timestamp.iso(now)) }
            try store.setSyncValue("last_attempt", Timestamp.iso(now))
        } catch {
            throw SyncError(message: L("无法写入本机数据库:\(error)", "cannot write the local database: \(error)"), transient: true)
        }
        return summary
    }

    /// Counts what all streams have done, for the progress display.
    final class SharedProgress: @unchecked Sendable {
        let total: Int
        private let lock = NSLock()
        private var done = 0
        private var bytes = 0

        init(total: Int) { self.total = total }

        func add(surveys: Int, bytes sent: Int) -> (done: Int, bytes: Int) {
            lock.withLock {
                done += surveys
                bytes += sent
                return (done, bytes)
            }
        }
    }

    /// How often a batch the server is too busy for (429) is sent again in one sync.
    static let busyRetries = 5

    func pushStream(_ pending: [StoredSurvey], client: HTTPClient, info: ServerInfo, now: Date, shared: SharedProgress) throws(SyncError) -> SyncSummary {
        var summary = SyncSummary()
        let batches = Self.batches(pending, maxCount: max(1, info.maxBatch), maxBytes: max(1024, info.maxBodyBytes / 2))
        // Surveys whose revision failed to go: their later revisions wait
        // too, so that the server never sees revision n+1 before n.
        var heldBack = Set<String>()
        // A stream holds every revision of its surveys, so counting here counts each survey once.
        var sentInstances = Set<String>()
        /// A batch that did not go: pending with a retry time, and its
        /// surveys' later revisions held back.
        func notSent(_ batch: [Item], reason: String, failure: LocalizedText) throws(SyncError) {
            try failed(batch.map(\.survey), reason: reason, now: now)
            heldBack.formUnion(batch.map(\.survey.instanceID))
            summary.failure = failure
            summary.pending += batch.count
        }
        for planned in batches {
            if shouldStop() { break }
            var batch = planned
            if !heldBack.isEmpty {
                let waiting = batch.filter { heldBack.contains($0.survey.instanceID) }
                if !waiting.isEmpty {
                    try failed(waiting.map(\.survey), reason: "an earlier revision was not sent", now: now)
                    summary.pending += waiting.count
                    batch.removeAll { heldBack.contains($0.survey.instanceID) }
                    if batch.isEmpty { continue }
                }
            }
            let bytesBefore = summary.bytesSent
            var body: [UInt8] = Array(#"{"surveys":["#.utf8)
            body.reserveCapacity(batch.reduce(16) { $0 + $1.json.count + 1 })
            for (offset, item) in batch.enumerated() {
                if offset > 0 { body.append(UInt8(ascii: ",")) }
                body.append(contentsOf: item.json)
            }
            body.append(contentsOf: "]}".utf8)
            let request = HTTPRequest(
                method: "POST", url: settings.server + "/api/v1/surveys", headers: headers, body: body, gzipBody: true)
            do {
                var response = try client.send(request)
                // The server has as many of this token's batches as it takes
                // at once (429): wait as it asks, a few times, then leave the
                // batch pending like any other refusal.
                var waits = 0
                while response.status == 429, waits < Self.busyRetries, !shouldStop() {
                    summary.bytesSent += response.bytesSent
                    summary.bytesReceived += response.bytesReceived
                    let seconds = response.header("Retry-After").flatMap(Double.init).map { min(max($0, 0.1), 10) } ?? 2
                    Thread.sleep(forTimeInterval: seconds)
                    waits += 1
                    response = try client.send(request)
                }
                summary.bytesSent += response.bytesSent
                summary.bytesReceived += response.bytesReceived
                guard response.status == 200, let document = try? JSONParser().parse(response.body) else {
                    let reason = Self.errorMessage(response) ?? "HTTP \(response.status)"
                    if response.status == 401 || response.status == 403 {
                        throw SyncError(message: L("服务器拒绝:\(reason)", "the server refused: \(reason)"), transient: false)
                    }
                    try notSent(
                        batch, reason: "HTTP \(response.status): \(reason)",
                        failure: L("服务器出错(HTTP \(response.status)):\(reason)", "server error (HTTP \(response.status)): \(reason)"))
                    continue
                }
                let reply: BatchReply
                do {
                    reply = try BatchReply(json: document, expected: batch.count)
                } catch {
                    // Nothing is recorded from a reply that cannot be read whole:
                    // the batch stays pending and the reason is said.
                    try notSent(
                        batch, reason: "unreadable reply: \(error.message.text(.en))",
                        failure: L("无法读取服务器的回复:\(error.message.zh)", "cannot read the server's reply: \(error.message.text(.en))"))
                    continue
                }
                var outcomes: [SurveyStore.SyncOutcome] = []
                for (item, result) in zip(batch, reply.results) {
                    let explanation = ([result.reason].filter { !$0.isEmpty } + result.errors.map { "\($0.path): \($0.message)" }).joined(separator: "\n")
                    let status: SurveyStatus
                    switch result.outcome {
                    case .created, .updated:
                        status = .sent
                        summary.sent += 1
                        sentInstances.insert(item.survey.instanceID)
                    case .duplicate:
                        status = .sent
                        summary.duplicates += 1
                    case .stale:
                        status = .sent
                        summary.stale += 1
                    case .held:
                        status = .held
                        summary.held += 1
                    case .mismatch:
                        status = .mismatch
                        summary.mismatched += 1
                    case .rejected, .forbidden:
                        // Either way it stays on the device with the reason
                        // until someone edits it (a forbidden survey names a
                        // unit outside the token's).
                        status = .rejected
                        summary.rejected += 1
                    }
                    let keepsReason = status != .sent || result.outcome == .stale
                    outcomes.append(
                        SurveyStore.SyncOutcome(
                            id: item.survey.id!, status: status, receipt: result.json.serialized(), error: keepsReason ? explanation : nil))
                }
                do {
                    try store.recordSyncOutcomes(outcomes)
                } catch {
                    throw SyncError(message: L("无法写入本机数据库:\(error)", "cannot write the local database: \(error)"), transient: true)
                }
            } catch let error as SyncError {
                throw error
            } catch let error as HTTPClientError {
                try notSent(batch, reason: error.message.text(.en), failure: error.message)
                if !error.isTransient { break }
            } catch {
                try notSent(batch, reason: "\(error)", failure: L("同步出错:\(error)", "sync failed: \(error)"))
            }
            let progressNow = shared.add(surveys: batch.count, bytes: summary.bytesSent - bytesBefore)
            progressLock.withLock { progress?(progressNow.done, shared.total, progressNow.bytes) }
        }
        summary.sentSurveys = sentInstances.count
        return summary
    }

    func failed(_ surveys: [StoredSurvey], reason: String, now: Date) throws(SyncError) {
        do {
            try store.recordSyncFailure(ids: surveys.compactMap(\.id), error: reason) { survey in
                now.addingTimeInterval(Self.backoff(attempts: survey.syncAttempts + 1))
            }
        } catch {
            throw SyncError(message: L("无法写入本机数据库:\(error)", "cannot write the local database: \(error)"), transient: true)
        }
    }

    /// Seconds before the next try after `attempts` failures: 30 s doubling
    /// up to 6 hours, with up to a quarter more at random so that many
    /// devices do not all come back at once.
    public static func backoff(attempts: Int) -> TimeInterval {
        let base = min(30 * pow(2, Double(max(0, attempts - 1))), 6 * 3600)
        return base + Double.random(in: 0...(base / 4))
    }

    struct Item {
        var survey: StoredSurvey
        /// The survey as the server reads it, as JSON bytes.
        var json: [UInt8]
    }

    /// Splits the surveys into batches under both limits.
    static func batches(_ surveys: [StoredSurvey], maxCount: Int, maxBytes: Int) -> [[Item]] {
        var batches: [[Item]] = []
        var current: [Item] = []
        var bytes = 0
        for survey in surveys {
            // The envelope is written here; the answers go in as stored: they
            // were written by the same JSON writer when the survey was finalized.
            var envelope =
                WireSurvey(
                    instanceID: survey.instanceID, revision: survey.revision, replaces: survey.replacesRevision, formID: survey.formID,
                    formVersion: survey.formVersion, unit: survey.unitCode, period: survey.period, answers: JSONObject(),
                    finalizedAt: survey.finalizedAt.map(Timestamp.iso)
                ).json.objectValue ?? JSONObject()
            envelope["answers"] = nil
            var json = JSONValue.object(envelope).serializedBytes()
            json.removeLast()  // the closing brace
            json.append(contentsOf: #","answers":"#.utf8)
            json.append(contentsOf: survey.answers.utf8)
            // Confirmations of doubtful answers, as stored (the same writer).
            if survey.confirmations != "[]", !survey.confirmations.isEmpty {
                json.append(contentsOf: #","confirmations":"#.utf8)
                json.append(contentsOf: survey.confirmations.utf8)
            }
            json.append(UInt8(ascii: "}"))
            let size = json.count
            if !current.isEmpty && (current.count >= maxCount || bytes + size > maxBytes) {
                batches.append(current)
                current = []
                bytes = 0
            }
            current.append(Item(survey: survey, json: json))
            bytes += size
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    /// The message of the server's JSON error, if the answer is one.
    public static func errorMessage(_ response: HTTPResponse) -> String? {
        (try? JSONParser().parse(response.body))?.string(at: "error", "message")
    }

    /// Fetches the review decisions made since the last sync about the
    /// surveys this token sent, and keeps those about this device's surveys.
    /// A server without review (404) has nothing to say.
    public func pullReviews() throws(SyncError) -> (kept: Int, returned: Int) {
        // Event numbers are the server's own: another server starts again from 0.
        let cursorKey = "review_cursor " + settings.server
        var after: Int64
        do {
            after = try store.syncValue(cursorKey).flatMap { Int64($0) } ?? 0
        } catch {
            throw SyncError(message: L("无法读取本机数据库:\(error)", "cannot read the local database: \(error)"), transient: false)
        }
        var kept = 0
        var returned = 0
        let page = 500
        while true {
            let path = "/api/v1/reviews?after=\(after)&limit=\(page)"
            let probe: HTTPResponse
            do {
                probe = try client.send(HTTPRequest(url: settings.server + path, headers: headers))
            } catch {
                throw SyncError(message: error.message, transient: error.isTransient)
            }
            // A server from before review by level has no such route.
            if probe.status == 404 { break }
            let response = probe.status == 200 ? probe : try get(path)
            guard let json = try? JSONParser().parse(response.body), let items = json["reviews"]?.arrayValue,
                case .integer(let next)? = json["next"]
            else {
                throw SyncError(message: L("服务器的审核消息无法读取", "the server's review notices cannot be read"), transient: true)
            }
            let notices = items.compactMap(ReviewNotice.init(json:))
            do {
                let ours = try store.recordReviews(notices)
                kept += ours.count
                returned += ours.filter { $0.status.state == .returned }.count
                after = max(after, Int64(next))
                try store.setSyncValue(cursorKey, String(after))
            } catch {
                throw SyncError(message: L("无法写入本机数据库:\(error)", "cannot write the local database: \(error)"), transient: true)
            }
            if items.count < page { break }
        }
        return (kept, returned)
    }
}
