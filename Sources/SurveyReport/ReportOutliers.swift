import Foundation
import SurveyCore
import SurveySQL

/// A village's number far from those of the other villages of its
/// township or county (`settings.outliers`), in one period.
public struct OutlierFlag: Sendable, Equatable {
    /// Which villages it was compared with.
    public enum Group: String, Sendable, CaseIterable {
        case township, county

        public var label: LocalizedText {
            switch self {
            case .township: return L("本乡镇", "its township")
            case .county: return L("本县", "its county")
            }
        }
    }

    public var unit: String
    public var field: String
    public var group: Group
    public var value: Double
    /// The median of the group's values.
    public var median: Double
    /// The modified z-score (0.6745 × (value − median) ÷ MAD).
    public var score: Double

    public init(unit: String, field: String, group: Group, value: Double, median: Double, score: Double) {
        self.unit = unit
        self.field = field
        self.group = group
        self.value = value
        self.median = median
        self.score = score
    }
}

/// Modified z-scores (Iglewicz and Hoaglin): robust to the outliers they
/// look for, unlike the mean and the standard deviation.
public enum OutlierDetection {
    /// Groups with fewer values than this are not screened: a median of
    /// three villages says little.
    public static let smallestGroup = 5

    static func median(_ sorted: [Double]) -> Double {
        let count = sorted.count
        return count % 2 == 1 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2
    }

    /// The median of `values` and each value's modified z-score:
    /// 0.6745 (x − median) ÷ MAD, the median absolute deviation; when more
    /// than half the values are equal (MAD 0), (x − median) ÷ (1.253314 ×
    /// the mean absolute deviation). nil for a group too small or whose
    /// values are all equal.
    public static func scores(_ values: [Double]) -> (median: Double, scores: [Double])? {
        guard values.count >= smallestGroup else { return nil }
        let middle = median(values.sorted())
        let deviations = values.map { abs($0 - middle) }
        let mad = median(deviations.sorted())
        if mad > 0 {
            return (middle, values.map { 0.6745 * ($0 - middle) / mad })
        }
        let mean = deviations.reduce(0, +) / Double(deviations.count)
        guard mean > 0 else { return nil }
        return (middle, values.map { ($0 - middle) / (1.253314 * mean) })
    }

    /// The flags of one county's villages: each screened field against the
    /// county's villages and against the township's. Counts and amounts
    /// are skewed (a few rich villages earn many times the typical one),
    /// so the scores are of their logarithms: a value is far when it is
    /// many times above or below the typical one for its place, not merely
    /// in the long tail. Zeros (a village without income) are a state of
    /// their own that the indicators count; they are not screened.
    public static func flags(
        rows: [(unit: String, values: [Double?])], fields: [String], threshold: Double
    ) -> [OutlierFlag] {
        var flags: [OutlierFlag] = []
        for (position, field) in fields.enumerated() {
            func screen(_ members: [(unit: String, value: Double)], _ group: OutlierFlag.Group) {
                guard let (middle, scores) = scores(members.map { log($0.value) }) else { return }
                for (member, score) in zip(members, scores) where abs(score) > threshold {
                    flags.append(OutlierFlag(unit: member.unit, field: field, group: group, value: member.value, median: exp(middle), score: score))
                }
            }
            let members = rows.compactMap { row in row.values[position].flatMap { $0 > 0 ? (unit: row.unit, value: $0) : nil } }
            screen(members, .county)
            var byTownship: [Substring: [(unit: String, value: Double)]] = [:]
            for member in members { byTownship[member.unit.prefix(9), default: []].append(member) }
            for key in byTownship.keys.sorted() { screen(byTownship[key]!, .township) }
        }
        return flags.sorted { ($0.unit, $0.field, $0.group.rawValue) < ($1.unit, $1.field, $1.group.rawValue) }
    }
}

/// The counties a batch changed, collected by ingest's hook and marked
/// once at the end of its transaction (`ReportEngine.markOutliersDirty`).
public final class OutlierMarks: @unchecked Sendable {
    public struct Place: Hashable, Sendable {
        public var formID: String
        public var period: String
        /// The county's code prefix.
        public var unit: String

        public init(formID: String, period: String, unit: String) {
            self.formID = formID
            self.period = period
            self.unit = String(unit.prefix(UnitLevel.county.prefixLength))
        }
    }

    private let lock = NSLock()
    private var places: Set<Place> = []

    public init() {}

    public func add(formID: String, period: String, unit: String) {
        let place = Place(formID: formID, period: period, unit: unit)
        lock.withLock { _ = places.insert(place) }
    }

    /// What was collected; kept, so that a transaction run again marks it too.
    public func taken() -> Set<Place> { lock.withLock { places } }
}

extension ReportEngine {
    /// The outlier tables: the flags of each form's current period by
    /// unit, and the counties whose villages changed since they were last
    /// screened (appended by ingest, taken by `refreshOutliers`).
    static func outlierMigrations(_ dialect: SQLDialect) -> [SQLMigration] {
        let id = dialect == .postgres ? "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "id INTEGER PRIMARY KEY"
        return [
            SQLMigration(
                id: "report v2 outliers",
                statements: [
                    """
                    CREATE TABLE report_outlier (
                        form_id TEXT NOT NULL,
                        period TEXT NOT NULL,
                        unit TEXT NOT NULL,
                        field TEXT NOT NULL,
                        grp TEXT NOT NULL,
                        value DOUBLE PRECISION NOT NULL,
                        median DOUBLE PRECISION NOT NULL,
                        score DOUBLE PRECISION NOT NULL,
                        PRIMARY KEY (form_id, period, unit, field, grp)
                    )\(dialect.withoutRowID)
                    """,
                    "CREATE TABLE report_outlier_dirty (\(id), form_id TEXT NOT NULL, period TEXT NOT NULL, county TEXT NOT NULL)",
                    "CREATE TABLE report_outlier_setting (form_id TEXT PRIMARY KEY, signature TEXT NOT NULL)\(dialect.withoutRowID)",
                ])
        ]
    }

    /// At start: when a form's screening settings changed, or its report
    /// table was made again, every county of every period is screened
    /// anew at the next refresh (its flags until then are dropped).
    static func resetOutliers(_ plan: ReportPlan, rebuilt: Bool, in session: any SQLSession) throws {
        let formID = plan.schema.formID
        let signature = plan.latest.outliers.map { "\($0.fields.joined(separator: ","))|\($0.zScore)" } ?? ""
        let stored = try session.one("SELECT signature FROM report_outlier_setting WHERE form_id = ?", [.text(formID)])?.text(0)
        guard rebuilt || stored != signature else { return }
        try session.execute("DELETE FROM report_outlier WHERE form_id = ?", [.text(formID)])
        try session.execute("DELETE FROM report_outlier_dirty WHERE form_id = ?", [.text(formID)])
        if !signature.isEmpty {
            try session.execute(
                """
                INSERT INTO report_outlier_dirty (form_id, period, county)
                SELECT DISTINCT ?, period, substr(unit, 1, \(UnitLevel.county.prefixLength)) FROM \(session.dialect.identifier(plan.schema.tableName))
                """, [.text(formID)])
        }
        try session.execute(
            "INSERT INTO report_outlier_setting (form_id, signature) VALUES (?, ?) ON CONFLICT (form_id) DO UPDATE SET signature = excluded.signature",
            [.text(formID), .text(signature)])
    }

    /// Notes, inside ingest's transaction, that counties' villages of a
    /// period changed: their outliers are screened again at the next
    /// refresh. Appended rows, so that concurrent batches never wait on
    /// each other.
    public func markOutliersDirty(_ places: Set<OutlierMarks.Place>, in session: any SQLSession) throws {
        guard !places.isEmpty else { return }
        let rows = places.sorted { ($0.formID, $0.period, $0.unit) < ($1.formID, $1.period, $1.unit) }.map { place -> [SQLValue] in
            [.text(place.formID), .text(place.period), .text(place.unit)]
        }
        for start in stride(from: 0, to: rows.count, by: 200) {
            try session.insertRows("INSERT INTO report_outlier_dirty (form_id, period, county) VALUES", columns: 3, Array(rows[start..<min(start + 200, rows.count)]))
        }
    }

    /// Screens again the counties whose villages changed, for every form
    /// with `settings.outliers` (the newest version's), and returns how many
    /// counties were screened. Each county is read from its report rows and
    /// its flags replaced in one transaction; a county marked while this
    /// runs is screened again next time.
    @discardableResult
    public func refreshOutliers(countiesPerTransaction: Int = 200) async throws -> Int {
        var screened = 0
        for (formID, plan) in plans.sorted(by: { $0.key < $1.key }) {
            guard let settings = plan.latest.outliers else { continue }
            let columns = settings.fields.compactMap { plan.schema.column(named: $0) }
            guard columns.count == settings.fields.count else { continue }
            while true {
                let done = try await engine.write { session -> Int in
                    let dirty = try session.all(
                        "SELECT id, period, county FROM report_outlier_dirty WHERE form_id = ? ORDER BY id LIMIT ?",
                        [.text(formID), .integer(Int64(countiesPerTransaction * 50))])
                    guard !dirty.isEmpty else { return 0 }
                    var work: [String: Set<String>] = [:]
                    for row in dirty { work[row.text(1), default: []].insert(row.text(2)) }
                    let table = session.dialect.identifier(plan.schema.tableName)
                    let select = columns.map { session.dialect.identifier($0.sqlName) }.joined(separator: ", ")
                    var counties = 0
                    for (period, places) in work {
                        for county in places.sorted().prefix(countiesPerTransaction) {
                            counties += 1
                            let rows = try session.all(
                                "SELECT unit, \(select) FROM \(table) WHERE period = ? AND unit LIKE ? ORDER BY unit", [.text(period), .text(county + "%")]
                            ).map { row in
                                (unit: row.text(0), values: (1...columns.count).map { index -> Double? in
                                    switch row[index] {
                                    case .integer(let value): return Double(value)
                                    case .real(let value): return value
                                    default: return nil
                                    }
                                })
                            }
                            let flags = OutlierDetection.flags(rows: rows, fields: settings.fields, threshold: settings.zScore)
                            try session.execute(
                                "DELETE FROM report_outlier WHERE form_id = ? AND period = ? AND unit LIKE ?", [.text(formID), .text(period), .text(county + "%")])
                            for start in stride(from: 0, to: flags.count, by: 100) {
                                try session.insertRows(
                                    "INSERT INTO report_outlier (form_id, period, unit, field, grp, value, median, score) VALUES", columns: 8,
                                    flags[start..<min(start + 100, flags.count)].map { flag in
                                        [
                                            .text(formID), .text(period), .text(flag.unit), .text(flag.field), .text(flag.group.rawValue), .real(flag.value),
                                            .real(flag.median), .real(flag.score),
                                        ]
                                    })
                            }
                            // The marks of this county seen here; later ones stay.
                            let ids = dirty.filter { $0.text(1) == period && $0.text(2) == county }.map { SQLValue.integer($0.integer(0)) }
                            for start in stride(from: 0, to: ids.count, by: 500) {
                                let part = Array(ids[start..<min(start + 500, ids.count)])
                                try session.execute(
                                    "DELETE FROM report_outlier_dirty WHERE id IN (\(part.map { _ in "?" }.joined(separator: ", ")))", part)
                            }
                        }
                    }
                    return counties
                }
                if done == 0 { break }
                screened += done
            }
        }
        return screened
    }

    /// The outlier flags of a form's period under a scope, by unit.
    public func outliers(formID: String, period: String, scopePrefix: String) async throws -> [OutlierFlag] {
        try await engine.read { session in
            try session.all(
                """
                SELECT unit, field, grp, value, median, score FROM report_outlier
                WHERE form_id = ? AND period = ? AND unit LIKE ? ORDER BY unit, field, grp
                """, [.text(formID), .text(period), .text(scopePrefix + "%")]
            ).compactMap { row in
                func number(_ index: Int) -> Double {
                    switch row[index] {
                    case .real(let value): return value
                    case .integer(let value): return Double(value)
                    default: return .nan
                    }
                }
                guard let group = OutlierFlag.Group(rawValue: row.text(2)) else { return nil }
                return OutlierFlag(unit: row.text(0), field: row.text(1), group: group, value: number(3), median: number(4), score: number(5))
            }
        }
    }
}
