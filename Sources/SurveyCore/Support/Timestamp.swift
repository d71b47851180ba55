import Foundation

/// Times on the wire: UTC, ISO 8601, milliseconds.
public enum Timestamp {
    /// A time as people read it everywhere the client shows one:
    /// `2026-12-02 08:05`, in the deployment's time zone (`Period.timeZone`,
    /// `VSURVEY_TIME_ZONE`), never the machine's.
    public static func forPeople(_ date: Date, in zone: TimeZone = Period.timeZone) -> String {
        let seconds = Int((date.timeIntervalSince1970).rounded(.down)) + zone.secondsFromGMT(for: date)
        let days = seconds.floorDivided(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(CivilDate.format(days: days)) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60))"
    }

    /// Reads what `iso` writes (with or without milliseconds).
    public static func parse(_ text: String) -> Date? {
        let parts = text.split(separator: "T")
        guard parts.count == 2, let day = CivilDate.parse(String(parts[0])), parts[1].hasSuffix("Z") else { return nil }
        let clock = parts[1].dropLast().split(separator: ":")
        guard clock.count == 3, let hours = Int(clock[0]), let minutes = Int(clock[1]), let seconds = Double(clock[2]) else { return nil }
        return Date(timeIntervalSince1970: Double(day) * 86_400 + Double(hours * 3600 + minutes * 60) + seconds)
    }

    public static func iso(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = Int(milliseconds.floorDivided(by: 1000))
        let days = seconds.floorDivided(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        let millis = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
        return "\(CivilDate.format(days: days))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)).\(millis)Z"
    }
}

extension BinaryInteger {
    fileprivate func floorDivided(by divisor: Self) -> Self {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
