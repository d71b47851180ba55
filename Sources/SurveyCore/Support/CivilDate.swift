import Foundation

/// Calendar dates as day numbers since 1970-01-01, the representation that
/// expressions compare and subtract (as ODK does). Proleptic Gregorian.
public enum CivilDate {
    /// Days since 1970-01-01 for a valid `y-m-d`, using Howard Hinnant's
    /// `days_from_civil`.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The `(year, month, day)` of a day number.
    public static func components(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Parses exactly `YYYY-MM-DD` (a real calendar date), else nil.
    public static func parse(_ text: String) -> Int? {
        let utf8 = text.utf8
        guard utf8.count == 10 else { return nil }
        var digits: [Int] = []
        digits.reserveCapacity(8)
        for (offset, byte) in utf8.enumerated() {
            if offset == 4 || offset == 7 {
                guard byte == UInt8(ascii: "-") else { return nil }
            } else {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                digits.append(Int(byte - UInt8(ascii: "0")))
            }
        }
        let year = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3]
        let month = digits[4] * 10 + digits[5]
        let day = digits[6] * 10 + digits[7]
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        return days(year: year, month: month, day: day)
    }

    /// Formats a day number as `YYYY-MM-DD`.
    public static func format(days: Int) -> String {
        let (year, month, day) = components(days: days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    /// Today's day number in the given time zone, by default the
    /// deployment's (`Period.timeZone`), so that the device, the server and
    /// the reports agree on the day whatever zone each machine is set to.
    public static func today(in timeZone: TimeZone = Period.timeZone, now: Date = Date()) -> Int {
        let seconds = Int(now.timeIntervalSince1970.rounded(.down)) + timeZone.secondsFromGMT(for: now)
        return Int((Double(seconds) / 86400).rounded(.down))
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
