import Foundation

/// One organisation unit of the registry.
public struct OrgUnit: Sendable, Hashable {
    public let code: UnitCode
    public let name: String
    public let level: UnitLevel
    public let parent: UnitCode?

    public init(code: UnitCode, name: String, level: UnitLevel, parent: UnitCode?) {
        self.code = code
        self.name = name
        self.level = level
        self.parent = parent
    }
}

/// A problem in a registry file, at a line.
public struct RegistryIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: LocalizedText

    public func rendered(_ language: Language) -> String { "\(file):\(line): \(message.text(language))" }
    public var description: String { rendered(.en) }
}

/// Every problem found in a registry file; the registry is not loaded.
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    public var issues: [RegistryIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// The units a county surveys, read from CSV `code,name,level,parent`.
public struct UnitRegistry: Sendable {
    /// All units, ordered by code.
    public let units: [OrgUnit]
    private let byCode: [UnitCode: Int]

    public init(units: [OrgUnit]) {
        self.units = units.sorted { $0.code < $1.code }
        var index: [UnitCode: Int] = [:]
        for (offset, unit) in self.units.enumerated() { index[unit.code] = offset }
        byCode = index
    }

    public func unit(_ code: UnitCode) -> OrgUnit? {
        byCode[code].map { units[$0] }
    }

    /// The units under `ancestor` (itself excluded), optionally of one level.
    /// Codes are sorted, so the units under a prefix form one contiguous run.
    public func units(under ancestor: UnitCode, level: UnitLevel? = nil) -> [OrgUnit] {
        let prefix = ancestor.prefix
        let start = lowerBound(prefix)
        var result: [OrgUnit] = []
        var index = start
        while index < units.count, units[index].code.rawValue.hasPrefix(prefix) {
            let unit = units[index]
            if unit.code != ancestor, level == nil || unit.level == level { result.append(unit) }
            index += 1
        }
        return result
    }

    /// The direct children of a unit, in code order.
    public func children(of code: UnitCode) -> [OrgUnit] {
        units(under: code).filter { $0.parent == code }
    }

    /// The units with no parent in the registry (normally the county).
    public var roots: [OrgUnit] { units.filter { $0.parent == nil } }

    private func lowerBound(_ prefix: String) -> Int {
        var low = 0
        var high = units.count
        while low < high {
            let mid = (low + high) / 2
            if units[mid].code.rawValue < prefix { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Reads a registry file; reports every bad row with its line number.
    public static func load(contentsOf url: URL) throws -> UnitRegistry {
        let data = try Data(contentsOf: url)
        guard let text = String(data: data, encoding: .utf8) else {
            // Where it breaks, and the likely cause: a file saved by Excel in the system's GBK.
            let text = String(decoding: data, as: UTF8.self)
            let line = (text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("\u{FFFD}") } ?? 0) + 1
            throw RegistryError(issues: [
                RegistryIssue(
                    file: url.relativePath, line: line,
                    message: L(
                        "文件不是 UTF-8 编码(可能是 GBK);请在 Excel 里“另存为”并选择“CSV UTF-8(逗号分隔)”,或用 WPS 另存为 UTF-8 的 CSV",
                        "the file is not UTF-8 (perhaps GBK); in Excel use Save As with \"CSV UTF-8 (Comma delimited)\", or save it as UTF-8 CSV in WPS"))
            ])
        }
        return try parse(text, file: url.relativePath)
    }

    /// Parses CSV text with the header `code,name,level,parent`.
    public static func parse(_ text: String, file: String) throws(RegistryError) -> UnitRegistry {
        var issues: [RegistryIssue] = []
        func issue(_ line: Int, _ message: LocalizedText) {
            issues.append(RegistryIssue(file: file, line: line, message: message))
        }
        let lines = CSV.lines(text)
        guard let header = lines.first, CSV.fields(header).map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) == ["code", "name", "level", "parent"]
        else {
            throw RegistryError(issues: [
                RegistryIssue(file: file, line: 1, message: L("第一行应为表头 code,name,level,parent", "the first line must be the header code,name,level,parent"))
            ])
        }
        var rows: [(line: Int, unit: OrgUnit)] = []
        var lineOfCode: [UnitCode: Int] = [:]
        for (offset, raw) in lines.enumerated().dropFirst() {
            let line = offset + 1
            if raw.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let columns = CSV.fields(raw).map { $0.trimmingCharacters(in: .whitespaces) }
            guard columns.count == 4 else {
                issue(line, L("应有 4 列(code,name,level,parent),实际为 \(columns.count) 列", "expected 4 columns (code,name,level,parent), found \(columns.count)"))
                continue
            }
            guard let code = UnitCode(columns[0]) else {
                issue(line, L("代码 “\(columns[0])” 不是 12 位数字", "code '\(columns[0])' is not 12 digits"))
                continue
            }
            guard !columns[1].isEmpty else {
                issue(line, L("单位 \(code) 缺少名称", "unit \(code) has no name"))
                continue
            }
            guard let level = UnitLevel(rawValue: columns[2]) else {
                issue(
                    line,
                    L(
                        "未知级别 “\(columns[2])”(可用:\(UnitLevel.allCases.map(\.rawValue).joined(separator: "、")))",
                        "unknown level '\(columns[2])' (use one of \(UnitLevel.allCases.map(\.rawValue).joined(separator: ", ")))"))
                continue
            }
            if code.significantLength != level.prefixLength {
                issue(
                    line,
                    L(
                        "代码 \(code) 与级别 \(level.rawValue) 不符:应有 \(level.prefixLength) 位有效数字,其后补 0",
                        "code \(code) does not fit level \(level.rawValue): it should have \(level.prefixLength) significant digits followed by zeros"))
                continue
            }
            var parent: UnitCode?
            if !columns[3].isEmpty {
                guard let parentCode = UnitCode(columns[3]) else {
                    issue(line, L("上级代码 “\(columns[3])” 不是 12 位数字", "parent code '\(columns[3])' is not 12 digits"))
                    continue
                }
                parent = parentCode
            }
            if let first = lineOfCode[code] {
                issue(line, L("代码 \(code) 重复(第 \(first) 行已出现)", "duplicate code \(code) (first on line \(first))"))
                continue
            }
            lineOfCode[code] = line
            rows.append((line, OrgUnit(code: code, name: columns[1], level: level, parent: parent)))
        }
        let levels = Dictionary(rows.map { ($0.unit.code, $0.unit.level) }, uniquingKeysWith: { first, _ in first })
        for (line, unit) in rows {
            guard let parent = unit.parent else { continue }
            guard let parentLevel = levels[parent] else {
                issue(line, L("上级单位 \(parent) 不在名录中", "parent \(parent) is not in the registry"))
                continue
            }
            if parent == unit.code || !unit.code.rawValue.hasPrefix(parent.prefix) {
                issue(
                    line,
                    L(
                        "代码 \(unit.code) 不在上级 \(parent) 的代码前缀 \(parent.prefix) 之下",
                        "code \(unit.code) is not under its parent's prefix \(parent.prefix) (\(parent))"))
            } else if parentLevel.prefixLength >= unit.level.prefixLength {
                issue(
                    line,
                    L(
                        "上级 \(parent)(\(parentLevel.rawValue))不高于本单位级别 \(unit.level.rawValue)",
                        "parent \(parent) (\(parentLevel.rawValue)) is not above level \(unit.level.rawValue)"))
            }
        }
        if !issues.isEmpty {
            throw RegistryError(issues: issues.sorted { $0.line < $1.line })
        }
        return UnitRegistry(units: rows.map(\.unit))
    }
}
