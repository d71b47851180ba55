import Foundation
import SurveyCore
import SurveySpreadsheet
import Synchronization

/// The formats of a raw export.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// One workbook: a sheet for the surveys and one per repeat.
    case xlsx
    /// A ZIP of one CSV file per table (UTF-8 with a byte-order mark).
    case csv
    /// One JSON object per line, a survey each, with its answers as kept.
    case jsonl

    public var contentType: String {
        switch self {
        case .xlsx: return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case .csv: return "application/zip"
        case .jsonl: return "application/x-ndjson; charset=utf-8"
        }
    }

    public var fileExtension: String {
        switch self {
        case .xlsx: return "xlsx"
        case .csv: return "zip"
        case .jsonl: return "jsonl"
        }
    }
}

/// What a raw export asks for.
public struct ExportRequest: Sendable {
    public var formID: String
    public var period: String?
    public var scope: UnitCode
    public var review: ReviewState?
    public var format: ExportFormat
    /// Headers and choices as labels (for people) rather than names and codes.
    public var labels: Bool
    public var language: Language

    public init(formID: String, period: String?, scope: UnitCode, review: ReviewState?, format: ExportFormat, labels: Bool, language: Language) {
        self.formID = formID
        self.period = period
        self.scope = scope
        self.review = review
        self.format = format
        self.labels = labels
        self.language = language
    }

    /// The file name a download is offered under.
    public var fileName: String { "\(formID)-\(scope)\(period.map { "-\($0)" } ?? "").\(format.fileExtension)" }
}

/// A raw export being made: the file it is written to and how much of it
/// is final so far. The maker writes on a thread of its own; a reader
/// (the HTTP response, the command line) copies the final bytes as they come.
public final class ExportProgress: Sendable {
    public let file: URL
    private let state = Mutex<(final: Int64, done: Bool, failure: String?, surveys: Int)>((0, false, nil, 0))
    private let (updates, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    /// JSON Lines go from memory to the reader, at most `queueLimit` bytes
    /// waiting; the other formats from the file.
    let inMemory: Bool
    private let queue = Mutex<(chunks: [Data], bytes: Int)>(([], 0))
    static let queueLimit = 8 << 20

    init(file: URL, inMemory: Bool = false) {
        self.file = file
        self.inMemory = inMemory
    }

    /// Hands a run of bytes to the reader, waiting while as much as the
    /// queue holds is not read yet.
    func push(_ data: Data) async throws {
        while true {
            if isCancelled { throw CancellationError() }
            let queued = queue.withLock { state -> Bool in
                guard state.bytes < Self.queueLimit else { return false }
                state.chunks.append(data)
                state.bytes += data.count
                return true
            }
            if queued {
                continuation.yield()
                return
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    func publish(_ final: Int64) {
        state.withLock { $0.final = max($0.final, final) }
        continuation.yield()
    }

    private let cancelled = Atomic<Bool>(false)

    /// Stops the maker at its next page: nobody reads the export any more.
    public func cancel() { cancelled.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    func finish(surveys: Int, failure: String?) {
        state.withLock {
            $0.done = true
            $0.failure = failure
            $0.surveys = surveys
        }
        continuation.yield()
        continuation.finish()
    }

    /// How many bytes from the start are final, whether the export is done,
    /// why it failed, and how many surveys it holds.
    public var snapshot: (final: Int64, done: Bool, failure: String?, surveys: Int) { state.withLock { $0 } }

    /// Calls `body` with each new run of final bytes, in order, until the
    /// export is done; throws if it failed.
    public func copy(chunk: Int = 256 * 1024, _ body: (Data) async throws -> Void) async throws {
        if inMemory {
            var iterator = updates.makeAsyncIterator()
            while true {
                let next = queue.withLock { state -> Data? in
                    guard !state.chunks.isEmpty else { return nil }
                    let data = state.chunks.removeFirst()
                    state.bytes -= data.count
                    return data
                }
                if let next {
                    try await body(next)
                    continue
                }
                let now = snapshot
                if now.done {
                    if let failure = now.failure { throw Self.failed(failure) }
                    if queue.withLock({ $0.chunks.isEmpty }) { return }
                    continue
                }
                _ = await iterator.next()
            }
        }
        let handle = try await waitForFile()
        defer { try? handle.close() }
        var sent: Int64 = 0
        var iterator = updates.makeAsyncIterator()
        while true {
            let now = snapshot
            while sent < now.final {
                try handle.seek(toOffset: UInt64(sent))
                let data = handle.readData(ofLength: Int(min(Int64(chunk), now.final - sent)))
                if data.isEmpty { break }
                sent += Int64(data.count)
                try await body(data)
            }
            if now.done {
                if let failure = now.failure { throw Self.failed(failure) }
                if sent >= snapshot.final { return }
                continue
            }
            if await iterator.next() == nil, snapshot.done, sent >= snapshot.final { return }
        }
    }

    /// What a reader hears when the maker failed.
    static func failed(_ reason: String) -> ServiceError {
        ServiceError(.unavailable, "export_failed", L("导出失败:\(reason)", "the export failed: \(reason)"))
    }

    private func waitForFile() async throws -> FileHandle {
        while true {
            if let handle = try? FileHandle(forReadingFrom: file) { return handle }
            if let failure = snapshot.failure {
                throw Self.failed(failure)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

extension SurveyService {
    /// How many surveys an export reads at a time.
    static let exportPage = 1000

    /// Starts a raw export of a form's current surveys in `principal`'s
    /// scope: every version of the form in one set of columns, unit and
    /// township names beside the codes (kept as text), repeats in tables of
    /// their own joined by `instance_id`. The file is made in a scratch
    /// directory by a task of its own, page by page, so that memory does
    /// not grow with the surveys; the caller copies it out with
    /// `ExportProgress.copy` and removes `directory` after. The audit log
    /// records it.
    public func startExport(_ request: ExportRequest, for principal: Principal, address: String?) async throws -> (progress: ExportProgress, directory: URL) {
        try principal.require(.read)
        try principal.requireScope(request.scope)
        let versions = (catalog.forms[request.formID] ?? []).sorted { FormCatalog.compareVersions($1.version, $0.version) }
        guard !versions.isEmpty else { throw ServiceError.notFound(L("没有表单 “\(request.formID)”", "there is no form '\(request.formID)'")) }
        let registry = try await registry()
        var details: JSONObject = ["format": .string(request.format.rawValue), "values": .string(request.labels ? "labels" : "codes")]
        if let review = request.review { details["review"] = .string(review.rawValue) }
        try await audit(
            AuditEntry(
                actor: Actor(principal, address: address), action: "survey.export", target: "\(request.formID)/\(request.period ?? "*")",
                unit: request.scope.rawValue, details: details))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let file = directory.appendingPathComponent("export.\(request.format.fileExtension)")
        let progress = ExportProgress(file: file, inMemory: request.format == .jsonl)
        let maker = ExportMaker(request: request, layout: ExportLayout(forms: versions), registry: registry, directory: directory, progress: progress)
        let storage = storage
        Task.detached {
            var surveys = 0
            do {
                surveys = try await maker.run { query in try await storage.browse(query) }
                progress.finish(surveys: surveys, failure: nil)
            } catch {
                progress.finish(surveys: surveys, failure: "\(error)")
            }
        }
        return (progress, directory)
    }
}

/// Makes one export: reads the surveys a page at a time and writes each
/// page's rows, the writing off the threads that serve requests.
struct ExportMaker: Sendable {
    let request: ExportRequest
    let layout: ExportLayout
    let registry: UnitRegistry
    let directory: URL
    let progress: ExportProgress

    var en: Bool { request.language == .en }

    /// The surveys table's own columns, before the answers.
    var envelope: [(name: String, label: String)] {
        [
            ("instance_id", en ? "Survey id" : "调查编号"), ("revision", en ? "Revision" : "修订"), ("version", en ? "Form version" : "表单版本"),
            ("unit", en ? "Unit code" : "单位代码"), ("unit_name", en ? "Unit" : "单位名称"), ("township", en ? "Township code" : "乡镇代码"),
            ("township_name", en ? "Township" : "乡镇"), ("period", en ? "Period" : "报告期"), ("received_at", en ? "Received" : "收到时间"),
            ("sent_by", en ? "Sent by" : "上报令牌"), ("review", en ? "Review" : "审核状态"),
        ]
    }

    func run(_ page: @escaping @Sendable (SurveyQuery) async throws -> [SurveyListing]) async throws -> Int {
        var query = SurveyQuery(scope: request.scope)
        query.formID = request.formID
        query.period = request.period
        query.review = request.review
        query.limit = SurveyService.exportPage
        query.answers = true
        switch request.format {
        case .jsonl: return try await runLines(query, page)
        case .xlsx, .csv: return try await runTables(query, page)
        }
    }

    func runTables(_ start: SurveyQuery, _ page: @escaping @Sendable (SurveyQuery) async throws -> [SurveyListing]) async throws -> Int {
        let labels = request.labels
        let language = request.language
        func header(_ field: Field) -> String { ExportLayout.header(field, labels: labels, language: language) }
        func width(_ text: String) -> Int { DisplayWidth.of(text) }
        let mainHeader = envelope.map { labels ? $0.label : $0.name } + layout.topFields.map(header)
        var tables: [(name: String, header: [String], widths: [Int])] = [
            (labels ? layout.forms[0].title.text(language) : request.formID, mainHeader, mainHeader.map { max(width($0), 10) })
        ]
        for (repeatField, inner) in layout.repeats {
            let names = [labels ? (en ? "Survey id" : "调查编号") : "instance_id", labels ? (en ? "Entry" : "序号") : "entry"] + inner.map(header)
            tables.append((labels ? repeatField.label?.text(language) ?? repeatField.name : repeatField.name, names, names.map { max(width($0), 8) }))
        }
        let scopeText = en ? "Raw export of \(request.formID), scope \(request.scope)" : "\(request.formID) 原始数据导出,范围 \(request.scope)"
        let periodText = request.period.map { en ? ", period \($0)." : ",报告期 \($0)。" } ?? (en ? "." : "。")
        let readme =
            ([
                scopeText + periodText,
                en
                    ? "Each CSV is UTF-8 with a byte-order mark; the repeat files are joined to the surveys by instance_id."
                    : "每个 CSV 为 UTF-8(带 BOM);重复组文件以 instance_id 与调查表关联。",
            ] + tables.map { "\($0.name).csv" }).joined(separator: "\r\n") + "\r\n"
        let progress = progress
        let encoder = TableEncoder(maker: self, kind: request.format == .xlsx ? .worksheet : .csv)
        let package = try StreamedPackage(
            format: request.format == .xlsx ? .xlsx : .csvZip, archive: progress.file, directory: directory, tables: tables, readme: readme,
            sharedStrings: encoder.sharedStrings, published: { progress.publish($0) })
        let box = UncheckedBox(package)
        return try await pages(start, page, encode: { encoder.encode($0) }) { chunks in
            for (index, chunk) in chunks.enumerated() { box.value.tables[index].append(encoded: chunk.bytes, rows: chunk.rows) }
        } finish: {
            try box.value.finish()
        }
    }

    func runLines(_ start: SurveyQuery, _ page: @escaping @Sendable (SurveyQuery) async throws -> [SurveyListing]) async throws -> Int {
        let maker = self
        let progress = progress
        return try await pages(
            start, page,
            encode: { listings in
                var bytes: [UInt8] = []
                bytes.reserveCapacity(listings.count * 2500)
                for listing in listings {
                    bytes.append(contentsOf: maker.line(listing).utf8)
                    bytes.append(UInt8(ascii: "\n"))
                }
                return [(bytes, listings.count)]
            }
        ) { chunks in
            // Straight to the reader, from memory: nothing to pack.
            try await progress.push(Data(chunks[0].bytes))
        } finish: {
        }
    }

    /// Reads page after page and encodes each on a worker thread, two pages
    /// at a time (the machine's cores), while the next is read; `write`
    /// takes the encoded pages in order.
    func pages(
        _ start: SurveyQuery, _ page: @escaping @Sendable (SurveyQuery) async throws -> [SurveyListing],
        encode: @escaping @Sendable ([SurveyListing]) -> [(bytes: [UInt8], rows: Int)],
        write: @escaping ([(bytes: [UInt8], rows: Int)]) async throws -> Void, finish: @escaping () throws -> Void
    ) async throws -> Int {
        var query = start
        var count = 0
        let box = UncheckedBox((write, finish))
        var encoding: [Task<[(bytes: [UInt8], rows: Int)], any Error>] = []
        while true {
            if progress.isCancelled { throw CancellationError() }
            let listings = try await page(query)
            count += listings.count
            if !listings.isEmpty {
                encoding.append(Task { try await SurveyService.offloaded { encode(listings) } })
            }
            while encoding.count > 2 { try await box.value.0(try await encoding.removeFirst().value) }
            guard listings.count == query.limit, let last = listings.last else { break }
            query.after = last.id
        }
        while !encoding.isEmpty { try await box.value.0(try await encoding.removeFirst().value) }
        try await SurveyService.offloaded { try box.value.1() }
        return count
    }

    /// One survey as a line of JSON: the envelope, its review and its answers as kept.
    func line(_ listing: SurveyListing) -> String {
        let code = UnitCode(listing.unit)
        let township = code?.township
        var object = JSONObject(minimumCapacity: 13)
        object.appendUnique("instance_id", .string(listing.instanceID))
        object.appendUnique("revision", .integer(listing.revision))
        object.appendUnique("form", .string(listing.formID))
        object.appendUnique("version", .string(listing.formVersion))
        object.appendUnique("unit", .string(listing.unit))
        object.appendUnique("unit_name", listing.unitName.map(JSONValue.string) ?? .null)
        object.appendUnique("township", township.map { .string($0.rawValue) } ?? .null)
        object.appendUnique("township_name", township.flatMap { registry.unit($0)?.name }.map(JSONValue.string) ?? .null)
        object.appendUnique("period", .string(listing.period))
        object.appendUnique("received_at", .string(Timestamp.iso(listing.receivedAt)))
        object.appendUnique("sent_by", listing.sentBy.map(JSONValue.string) ?? .null)
        object.appendUnique(
            "review", ["state": .string(listing.review.state.rawValue), "level": listing.review.level.map { .string($0.rawValue) } ?? .null])
        var text = JSONValue.object(object).serialized()
        // The answers go in as kept: they were written by the same JSON writer.
        text.removeLast()
        return text + ",\"answers\":" + (listing.answers ?? "{}") + "}"
    }
}

/// Encodes pages of surveys as rows of the export's tables: the columns
/// and choice labels worked out once, each survey's answers read in one
/// pass over its keys.
struct TableEncoder: Sendable {
    let maker: ExportMaker
    let kind: TableFile.Kind
    let topIndex: [String: Int]
    let topLabels: [[String: String]?]
    let repeatNames: [String: Int]
    let repeatIndex: [[String: Int]]
    let repeatLabels: [[[String: String]?]]
    /// The strings many cells repeat, for a workbook's shared-string table
    /// (choice labels or codes, yes and no, review states, form versions,
    /// the names of the townships in scope); none for CSV. Each is found
    /// by its choice's name, its state, its version or its township's code.
    let sharedStrings: [String]
    let topShared: [[String: Int]?]
    let repeatShared: [[[String: Int]?]]
    let reviewShared: [String: Int]
    let versionShared: [String: Int]
    let townshipShared: [String: Int]

    init(maker: ExportMaker, kind: TableFile.Kind) {
        self.maker = maker
        self.kind = kind
        let layout = maker.layout
        let labels = maker.request.labels
        let language = maker.request.language
        func index(_ fields: [Field]) -> [String: Int] {
            Dictionary(fields.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        func choices(_ fields: [Field]) -> [[String: String]?] {
            labels ? ExportLayout.choiceLabels(fields, language: language).map { $0.isEmpty ? nil : $0 } : fields.map { _ in nil }
        }
        topIndex = index(layout.topFields)
        topLabels = choices(layout.topFields)
        repeatNames = index(layout.repeats.map(\.field))
        repeatIndex = layout.repeats.map { index($0.inner) }
        repeatLabels = layout.repeats.map { choices($0.inner) }
        // Shared strings, each found by an ASCII key (a choice's name, a
        // code): hashing the Chinese text of every cell would cost more than
        // the strings save.
        var unique: [String] = []
        var position: [String: Int] = [:]
        func intern(_ text: String) -> Int {
            if let known = position[text] { return known }
            position[text] = unique.count
            unique.append(text)
            return unique.count - 1
        }
        func sharedChoices(_ fields: [Field]) -> [[String: Int]?] {
            guard kind == .worksheet else { return fields.map { _ in nil } }
            return fields.map { field in
                if case .selectMultiple = field.type { return nil }
                let names = (field.choices?.choices.map(\.name) ?? []) + (field.type == .yesNo ? ["yes", "no"] : [])
                guard !names.isEmpty else { return nil }
                var map: [String: Int] = [:]
                for name in names where map[name] == nil {
                    map[name] = intern(labels ? ExportLayout.label(of: name, field, language) : name)
                }
                return map
            }
        }
        topShared = sharedChoices(layout.topFields)
        repeatShared = layout.repeats.map { sharedChoices($0.inner) }
        var reviews: [String: Int] = [:]
        var versions: [String: Int] = [:]
        var townships: [String: Int] = [:]
        if kind == .worksheet {
            for state in ReviewState.allCases {
                for level in [nil] + UnitLevel.allCases.map(Optional.some) {
                    let status = ReviewStatus(state, at: level)
                    reviews[status.description] = intern(labels ? status.label.text(language) : status.description)
                }
            }
            for form in layout.forms { versions[form.version] = intern(form.version) }
            for township in maker.registry.units(under: maker.request.scope, level: .township) {
                townships[township.code.rawValue] = intern(township.name)
            }
        }
        reviewShared = reviews
        versionShared = versions
        townshipShared = townships
        sharedStrings = unique
    }

    /// An answer's cell: a shared string when its choice has one.
    func cell(_ value: JSONValue?, _ labels: [String: String]?, _ shared: [String: Int]?, _ language: Language) -> SheetCell {
        if let shared, case .string(let name)? = value, let index = shared[name] { return .shared(index) }
        return ExportLayout.cell(value, labels: labels, language: language)
    }

    static let storedJSON = JSONParser(refusesDuplicateKeys: false)

    func encode(_ listings: [SurveyListing]) -> [(bytes: [UInt8], rows: Int)] {
        let request = maker.request
        let registry = maker.registry
        let language = request.language
        var tables = Array(repeating: (bytes: [UInt8](), rows: 0), count: 1 + repeatIndex.count)
        tables[0].bytes.reserveCapacity(listings.count * 2000)
        var values = [JSONValue?](repeating: nil, count: topIndex.count)
        for listing in listings {
            // Answers as this server stored them: its own JSON, without repeated keys.
            let answers = listing.answers.flatMap { try? Self.storedJSON.parse($0) }?.objectValue ?? JSONObject()
            let township = UnitCode(listing.unit)?.township
            let townshipCell: SheetCell =
                township.flatMap { code in townshipShared[code.rawValue].map(SheetCell.shared) ?? registry.unit(code).map { .text($0.name) } } ?? .text("")
            let reviewCell: SheetCell =
                reviewShared[listing.review.description].map(SheetCell.shared)
                ?? .text(request.labels ? listing.review.label.text(language) : listing.review.description)
            var row: [SheetCell] = [
                .text(listing.instanceID), .number(Double(listing.revision)),
                versionShared[listing.formVersion].map(SheetCell.shared) ?? .text(listing.formVersion),
                .text(listing.unit), .text(listing.unitName ?? ""), township.map { .text($0.rawValue) } ?? .empty, townshipCell,
                .text(listing.period), .text(request.labels ? Timestamp.forPeople(listing.receivedAt) : Timestamp.iso(listing.receivedAt)),
                .text(listing.sentBy ?? ""), reviewCell,
            ]
            row.reserveCapacity(row.count + values.count)
            for index in values.indices { values[index] = nil }
            var repeats: [[JSONValue]] = Array(repeating: [], count: repeatIndex.count)
            for (key, value) in answers.pairs {
                if let index = topIndex[key] {
                    values[index] = value
                } else if let position = repeatNames[key], let items = value.arrayValue {
                    repeats[position] = items
                }
            }
            for (index, value) in values.enumerated() { row.append(cell(value, topLabels[index], topShared[index], language)) }
            TableFile.encode(row, kind: kind, into: &tables[0].bytes)
            tables[0].rows += 1
            for (position, items) in repeats.enumerated() where !items.isEmpty {
                let inner = repeatIndex[position]
                for (entry, item) in items.enumerated() {
                    var entryValues = [JSONValue?](repeating: nil, count: inner.count)
                    for (key, value) in item.objectValue?.pairs ?? [] { if let index = inner[key] { entryValues[index] = value } }
                    var cells: [SheetCell] = [.text(listing.instanceID), .number(Double(entry + 1))]
                    for (index, value) in entryValues.enumerated() {
                        cells.append(cell(value, repeatLabels[position][index], repeatShared[position][index], language))
                    }
                    TableFile.encode(cells, kind: kind, into: &tables[position + 1].bytes)
                    tables[position + 1].rows += 1
                }
            }
        }
        return tables
    }
}

/// Hands non-Sendable closures to the offloading queue, which runs them one
/// at a time in order.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
