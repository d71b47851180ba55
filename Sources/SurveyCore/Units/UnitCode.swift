/// The levels of China's statistical division codes that surveys use.
public enum UnitLevel: String, Sendable, CaseIterable, Codable {
    case province, city, county, township, village, community

    /// How many leading digits of a code identify a unit at this level.
    public var prefixLength: Int {
        switch self {
        case .province: return 2
        case .city: return 4
        case .county: return 6
        case .township: return 9
        case .village, .community: return 12
        }
    }

    /// The English plural, for counts.
    public var plural: String {
        switch self {
        case .city: return "cities"
        case .county: return "counties"
        case .community: return "communities"
        default: return rawValue + "s"
        }
    }

    public var label: LocalizedText {
        switch self {
        case .province: return L("省", "province")
        case .city: return L("市", "city")
        case .county: return L("县", "county")
        case .township: return L("乡镇", "township")
        case .village: return L("村", "village")
        case .community: return L("社区", "community")
        }
    }
}

/// A 12-digit statistical division code (统计用区划代码): province 2, city 2,
/// county 2, township 3, village or community 3 digits.
public struct UnitCode: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// Accepts exactly 12 ASCII digits.
    public init?(_ text: String) {
        guard text.utf8.count == 12, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        rawValue = text
    }

    public var description: String { rawValue }

    /// The digits that identify this unit: the code without the trailing
    /// zero groups of the levels below it. Roll-ups group by this prefix.
    public var prefix: String {
        String(rawValue.prefix(significantLength))
    }

    /// The deepest level whose digits are not all zero (2, 4, 6, 9 or 12).
    public var significantLength: Int {
        let bytes = Array(rawValue.utf8)
        for (groupStart, length) in [(9, 12), (6, 9), (4, 6), (2, 4), (0, 2)]
        where bytes[groupStart..<length].contains(where: { $0 != UInt8(ascii: "0") }) {
            return length
        }
        return 0
    }

    /// The level of the unit this code names, by its significant digits
    /// (a 12-digit code is a village's or a community's: `.village`); nil
    /// for the all-zero code.
    public var level: UnitLevel? {
        switch significantLength {
        case 2: return .province
        case 4: return .city
        case 6: return .county
        case 9: return .township
        case 12: return .village
        default: return nil
        }
    }

    /// Whether this unit lies under (or is) `ancestor`, by code prefix.
    public func isUnder(_ ancestor: UnitCode) -> Bool {
        rawValue.hasPrefix(ancestor.prefix)
    }

    /// The code of the enclosing unit at `level`: the first digits of this
    /// code, padded with zeros.
    public func ancestor(at level: UnitLevel) -> UnitCode {
        let kept = rawValue.prefix(level.prefixLength)
        return UnitCode(kept + String(repeating: "0", count: 12 - kept.count))!
    }

    /// The township a village or community belongs to; nil for a code at
    /// a township's level or above.
    public var township: UnitCode? { significantLength > 9 ? ancestor(at: .township) : nil }

    public static func < (lhs: UnitCode, rhs: UnitCode) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let code = UnitCode(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a 12-digit unit code: \(text)"))
        }
        self = code
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
