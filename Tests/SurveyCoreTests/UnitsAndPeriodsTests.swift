import Foundation
import SurveyCore
import SurveyFixtures
import Testing

@Suite("Unit codes and the registry")
struct UnitRegistryTests {
    static let header = "code,name,level,parent\n"
    static let good =
        header + """
            130102000000,示范县,county,
            130102001000,城关镇,township,130102000000
            130102001201,东关村,village,130102001000
            130102001202,西关村,village,130102001000
            130102001001,城关社区,community,130102001000
            130102002000,河西镇,township,130102000000
            130102002201,河西村,village,130102002000

            """

    @Test func codesAndPrefixes() throws {
        let village = try #require(UnitCode("130102001203"))
        #expect(village.prefix == "130102001203")
        #expect(UnitCode("130102001000")?.prefix == "130102001")
        #expect(UnitCode("130102000000")?.prefix == "130102")
        #expect(village.ancestor(at: .township).rawValue == "130102001000")
        #expect(village.ancestor(at: .county).rawValue == "130102000000")
        #expect(village.isUnder(UnitCode("130102001000")!))
        #expect(!village.isUnder(UnitCode("130102002000")!))
        #expect(UnitCode("13010200120") == nil)
        #expect(UnitCode("13010200120x") == nil)
        #expect(UnitCode("1301020012031") == nil)
    }

    @Test func loadsAndRollsUpByPrefix() throws {
        let registry = try UnitRegistry.parse(Self.good, file: "units.csv")
        #expect(registry.units.count == 7)
        let county = UnitCode("130102000000")!
        #expect(registry.units(under: county, level: .village).map(\.name) == ["东关村", "西关村", "河西村"])
        #expect(registry.units(under: UnitCode("130102001000")!).map(\.name) == ["城关社区", "东关村", "西关村"])
        #expect(registry.children(of: county).map(\.name) == ["城关镇", "河西镇"])
        #expect(registry.roots.map(\.name) == ["示范县"])
        #expect(registry.unit(UnitCode("130102002201")!)?.level == .village)
    }

    @Test func byteOrderMarkAndWindowsLineEndingsAreAccepted() throws {
        let text = "\u{FEFF}" + Self.good.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try UnitRegistry.parse(text, file: "units.csv").units.count == 7)
    }

    struct BadRow: Sendable, CustomTestStringConvertible {
        let row: String
        let message: String
        var testDescription: String { message }
    }

    static let badRows: [BadRow] = [
        BadRow(row: "13010200120,短码村,village,130102001000", message: "code '13010200120' is not 12 digits"),
        BadRow(row: "130102003201,孤村,village,130102003000", message: "parent 130102003000 is not in the registry"),
        BadRow(row: "130102002205,错位村,village,130102001000", message: "is not under its parent's prefix 130102001"),
        BadRow(row: "130102001201,重复村,village,130102001000", message: "duplicate code 130102001201 (first on line 4)"),
        BadRow(row: "130102001000,重复镇,township,130102000000", message: "duplicate code 130102001000 (first on line 3)"),
        BadRow(row: "130102001203,某村,hamlet,130102001000", message: "unknown level 'hamlet'"),
        BadRow(row: "130102001000,某镇,village,130102000000", message: "does not fit level village"),
        BadRow(row: "130102001203,某村,village", message: "expected 4 columns"),
        BadRow(row: "130102001203,,village,130102001000", message: "has no name"),
        BadRow(row: "130102001203,某村,village,1301020010", message: "parent code '1301020010' is not 12 digits"),
    ]

    @Test(arguments: badRows)
    func badRowIsReportedWithItsLine(_ bad: BadRow) throws {
        do {
            _ = try UnitRegistry.parse(Self.good + bad.row + "\n", file: "units.csv")
            Issue.record("should not load")
        } catch {
            #expect(error.issues.count == 1, "\(error.issues)")
            #expect(error.issues.first?.line == 9)
            #expect(error.issues.first?.file == "units.csv")
            #expect(error.issues.first?.message.text(.en).contains(bad.message) == true, "\(error.issues)")
        }
    }

    @Test func everyBadRowIsReported() {
        let text = Self.good + Self.badRows.prefix(3).map(\.row).joined(separator: "\n") + "\n"
        do {
            _ = try UnitRegistry.parse(text, file: "units.csv")
            Issue.record("should not load")
        } catch {
            #expect(error.issues.map(\.line) == [9, 10, 11])
        }
    }

    @Test func headerIsRequired() {
        #expect(throws: RegistryError.self) { try UnitRegistry.parse("code;name;level;parent\n", file: "units.csv") }
    }

    @Test func quotedNames() throws {
        let registry = try UnitRegistry.parse(Self.header + "130102000000,\"示范县, 甲\",county,\n", file: "u.csv")
        #expect(registry.units.first?.name == "示范县, 甲")
    }

    @Test func sampleCountyRegistry() throws {
        let registry = try #require(Fixtures.catalog().registry)
        let county = try #require(registry.roots.first)
        #expect(registry.units(under: county.code, level: .township).count == 12)
        let villages = registry.units(under: county.code, level: .village).count
        #expect((230...270).contains(villages))
        #expect((8...12).contains(registry.units(under: county.code, level: .community).count))
        #expect(registry.unit(UnitCode("130102001203")!)?.name == "东关村")
        for township in registry.children(of: county.code) {
            #expect(registry.units(under: township.code).allSatisfy { $0.parent == township.code })
        }
    }
}

@Suite("A registry saved in GBK")
struct RegistryEncodingTests {
    @Test("is refused at the line where it stops being UTF-8, saying how to save it as UTF-8 from Excel")
    func gbkRegistry() throws {
        let file = try scratchDirectory("gbk").appendingPathComponent("units.csv")
        // 东关村 in GBK on the second line.
        try Data("code,name,level,parent\n130102001201,".utf8 + [0xB6, 0xAB, 0xB9, 0xD8, 0xB4, 0xE5] + Data(",village,130102001000\n".utf8)).write(to: file)
        do {
            _ = try UnitRegistry.load(contentsOf: file)
            Issue.record("a GBK file was read")
        } catch let error as RegistryError {
            #expect(error.issues.first?.line == 2)
            #expect(error.issues.first?.message.zh.contains("另存为") == true && error.issues.first?.message.zh.contains("CSV UTF-8") == true)
        }
    }
}

@Suite("Periods")
struct PeriodTests {
    @Test(arguments: [
        ("2026", Period.annual(year: 2026), PeriodType.annual),
        ("2026Q3", .quarterly(year: 2026, quarter: 3), .quarterly),
        ("2026Q1", .quarterly(year: 2026, quarter: 1), .quarterly),
        ("202607", .monthly(year: 2026, month: 7), .monthly),
        ("202612", .monthly(year: 2026, month: 12), .monthly),
    ])
    func parses(_ text: String, _ period: Period, _ type: PeriodType) {
        #expect(Period(text) == period)
        #expect(Period(text)?.type == type)
        #expect(Period(text)?.description == text)
    }

    @Test(arguments: ["", "26", "20266", "2026Q0", "2026Q5", "2026q3", "202600", "202613", "2026-07", "1800", "2026Q", "2026W01", " 2026", "２０２６"])
    func rejects(_ text: String) {
        #expect(Period(text) == nil)
    }

    @Test func spansAndOrder() throws {
        let q1 = try #require(Period("2024Q1"))
        #expect(q1.days == CivilDate.parse("2024-01-01")!...CivilDate.parse("2024-03-31")!)
        #expect(Period("202402")!.days.count == 29)
        #expect(Period("2026")!.days.count == 365)
        #expect(Period("2025")! < Period("2026Q1")!)
        #expect(Period("2026Q1")! < Period("202604")!)
    }

    @Test("the period of a day, the one before, and the first and last years")
    func arithmetic() throws {
        let day = try #require(CivilDate.parse("2026-08-15"))
        #expect(Period.containing(day: day, type: .annual) == .annual(year: 2026))
        #expect(Period.containing(day: day, type: .quarterly) == .quarterly(year: 2026, quarter: 3))
        #expect(Period.containing(day: day, type: .monthly) == .monthly(year: 2026, month: 8))
        #expect(Period("2026")?.previous == .annual(year: 2025))
        #expect(Period("2026Q1")?.previous == .quarterly(year: 2025, quarter: 4))
        #expect(Period("2026Q3")?.previous == .quarterly(year: 2026, quarter: 2))
        #expect(Period("202601")?.previous == .monthly(year: 2025, month: 12))
        #expect(Period("1949")?.previous == nil)
    }

    @Test("a day begins in the deployment's time zone: Asia/Shanghai unless VSURVEY_TIME_ZONE names another")
    func timeZoneRule() throws {
        #expect(Period.zone(named: nil).identifier == "Asia/Shanghai")
        #expect(Period.zone(named: "").identifier == "Asia/Shanghai")
        #expect(Period.zone(named: "Not/AZone").identifier == "Asia/Shanghai")
        #expect(Period.zone(named: "Asia/Urumqi").identifier == "Asia/Urumqi")
        // 2026-12-31 16:30 UTC is already 2027-01-01 in China: a new year's survey.
        let instant = Date(timeIntervalSince1970: Double(CivilDate.parse("2026-12-31")!) * 86_400 + 16.5 * 3600)
        let shanghai = Period.zone(named: nil)
        #expect(CivilDate.today(in: shanghai, now: instant) == CivilDate.parse("2027-01-01"))
        #expect(Period.containing(day: CivilDate.today(in: shanghai, now: instant), type: .annual) == .annual(year: 2027))
        #expect(CivilDate.today(in: TimeZone(identifier: "UTC")!, now: instant) == CivilDate.parse("2026-12-31"))
        // A due day ends at midnight there: 16:00 UTC the same day.
        let due = try #require(CivilDate.parse("2026-12-10"))
        #expect(Period.deadline(dueDay: due, in: shanghai) == (Int64(due) + 1) * 86_400_000 - 8 * 3_600_000)
        #expect(Period.deadline(dueDay: due, in: TimeZone(identifier: "UTC")!) == (Int64(due) + 1) * 86_400_000)
    }

    @Test func formsCheckThePeriodType() throws {
        let form = try Fixtures.form("village-branch")
        let json: JSONValue = ["form": "village-branch", "unit": "130102001203", "period": "202607", "answers": [:]]
        let issues = try Submission(json: json).envelopeIssues(for: form, registry: nil)
        #expect(issues.map(\.path) == ["period"])
        #expect(issues.first?.message.en?.contains("annual, e.g. 2026") == true)
    }
}

@Suite("Calendar dates")
struct CivilDateTests {
    @Test func roundTrips() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, d) = CivilDate.components(days: days)
            #expect(CivilDate.days(year: y, month: m, day: d) == days)
        }
        #expect(CivilDate.parse("1970-01-01") == 0)
        #expect(CivilDate.format(days: CivilDate.parse("2000-02-29")!) == "2000-02-29")
        #expect(CivilDate.parse("1900-02-29") == nil)
        #expect(CivilDate.parse("2026-13-01") == nil)
        #expect(CivilDate.parse("2026-1-01") == nil)
    }
}

@Suite("Times as people read them")
struct PeopleTimeTests {
    @Test("one format, in the deployment's zone, never the machine's; what iso writes reads back")
    func format() throws {
        let moment = try #require(Timestamp.parse("2026-12-01T23:57:43.958Z"))
        #expect(Timestamp.forPeople(moment, in: TimeZone(identifier: "Asia/Shanghai")!) == "2026-12-02 07:57")
        #expect(Timestamp.forPeople(moment, in: TimeZone(identifier: "UTC")!) == "2026-12-01 23:57")
        #expect(Timestamp.iso(moment) == "2026-12-01T23:57:43.958Z")
        #expect(Timestamp.parse("2026-12-01T23:57:43Z").map(Timestamp.iso) == "2026-12-01T23:57:43.000Z")
        #expect(Timestamp.parse("yesterday") == nil && Timestamp.parse("2026-12-01 23:57") == nil)
    }
}
