import Foundation

/// A reporting period, written as DHIS2 writes it: `2026`, `2026Q3`, `202607`.
public enum Period: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    case annual(year: Int)
    case quarterly(year: Int, quarter: Int)
    case monthly(year: Int, month: Int)

    public static let years = 1949...2200

    /// Parses a period identifier, or nil when it is not one.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 4, bytes.prefix(4).allSatisfy(Self.isDigit), let year = Int(text.prefix(4)), Self.years.contains(year) else {
            return nil
        }
        switch bytes.count {
        case 4:
            self = .annual(year: year)
        case 6 where bytes[4] == UInt8(ascii: "Q") && Self.isDigit(bytes[5]):
            let quarter = Int(bytes[5] - UInt8(ascii: "0"))
            guard (1...4).contains(quarter) else { return nil }
            self = .quarterly(year: year, quarter: quarter)
        case 6 where Self.isDigit(bytes[4]) && Self.isDigit(bytes[5]):
            let month = Int(bytes[4] - UInt8(ascii: "0")) * 10 + Int(bytes[5] - UInt8(ascii: "0"))
            guard (1...12).contains(month) else { return nil }
            self = .monthly(year: year, month: month)
        default:
            return nil
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    public var type: PeriodType {
        switch self {
        case .annual: return .annual
        case .quarterly: return .quarterly
        case .monthly: return .monthly
        }
    }

    public var year: Int {
        switch self {
        case .annual(let year), .quarterly(let year, _), .monthly(let year, _): return year
        }
    }

    public var description: String {
        switch self {
        case .annual(let year): return String(year)
        case .quarterly(let year, let quarter): return "\(year)Q\(quarter)"
        case .monthly(let year, let month): return "\(year)" + (month < 10 ? "0\(month)" : "\(month)")
        }
    }

    /// The first and last day of the period, as day numbers.
    public var days: ClosedRange<Int> {
        let (firstMonth, lastMonth): (Int, Int)
        switch self {
        case .annual: (firstMonth, lastMonth) = (1, 12)
        case .quarterly(_, let quarter): (firstMonth, lastMonth) = (quarter * 3 - 2, quarter * 3)
        case .monthly(_, let month): (firstMonth, lastMonth) = (month, month)
        }
        let start = CivilDate.days(year: year, month: firstMonth, day: 1)
        let end = CivilDate.days(year: year, month: lastMonth, day: CivilDate.daysInMonth(year: year, month: lastMonth))
        return start...end
    }

    // MARK: Period arithmetic
    //
    // One rule for the time of day: days, and so periods and due dates,
    // begin at midnight in the deployment's time zone, `VSURVEY_TIME_ZONE`
    // (an IANA name) or Asia/Shanghai when it is unset. The device's "today"
    // (date checks, the default period of a new survey), the server's ingest
    // and every report's default period and due time use it.

    /// The environment variable that sets the deployment's time zone.
    public static let timeZoneVariable = "VSURVEY_TIME_ZONE"

    /// The deployment's time zone.
    public static let timeZone: TimeZone = zone(named: ProcessInfo.processInfo.environment[timeZoneVariable])

    /// The zone of a `VSURVEY_TIME_ZONE` value: Asia/Shanghai when unset
    /// or not a known zone.
    public static func zone(named name: String?) -> TimeZone {
        if let name, !name.isEmpty, let zone = TimeZone(identifier: name) { return zone }
        return TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600)!
    }

    /// The period of `type` that contains the day `day` (a day number).
    public static func containing(day: Int, type: PeriodType) -> Period {
        let (year, month, _) = CivilDate.components(days: day)
        switch type {
        case .annual: return .annual(year: year)
        case .quarterly: return .quarterly(year: year, quarter: (month - 1) / 3 + 1)
        case .monthly: return .monthly(year: year, month: month)
        }
    }

    /// The period of `type` that contains today in the deployment's zone.
    public static func current(_ type: PeriodType, now: Date = Date()) -> Period {
        containing(day: CivilDate.today(now: now), type: type)
    }

    /// The period just before, of the same type; nil before the first year.
    public var previous: Period? {
        let earlier: Period
        switch self {
        case .annual(let year): earlier = .annual(year: year - 1)
        case .quarterly(let year, let quarter): earlier = quarter == 1 ? .quarterly(year: year - 1, quarter: 4) : .quarterly(year: year, quarter: quarter - 1)
        case .monthly(let year, let month): earlier = month == 1 ? .monthly(year: year - 1, month: 12) : .monthly(year: year, month: month - 1)
        }
        return Self.years.contains(earlier.year) ? earlier : nil
    }

    /// The instant a due day (a day number) ends in the deployment's zone,
    /// in milliseconds since 1970: a survey received before it is on time.
    public static func deadline(dueDay day: Int, in zone: TimeZone = timeZone) -> Int64 {
        let midnightUTC = (Int64(day) + 1) * 86_400_000
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(midnightUTC) / 1000))) * 1000
        return midnightUTC - offset
    }

    /// A period of a form's type written the way people do, for messages.
    public static func example(of type: PeriodType) -> String {
        switch type {
        case .annual: return "2026"
        case .quarterly: return "2026Q3"
        case .monthly: return "202607"
        }
    }

    public static func < (lhs: Period, rhs: Period) -> Bool {
        (lhs.days.lowerBound, lhs.days.upperBound) < (rhs.days.lowerBound, rhs.days.upperBound)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let period = Period(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a period: \(text)"))
        }
        self = period
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
