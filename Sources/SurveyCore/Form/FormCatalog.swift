import Foundation

/// The forms and unit registry found in one or more directories: every
/// `*.yaml`/`*.yml` file of a directory is a form, every `units/*.csv` a
/// part of the registry. Later directories take precedence for the same
/// form id and version.
public struct FormCatalog: Sendable {
    /// Forms by id, each id's versions sorted oldest first.
    public private(set) var forms: [String: [Form]] = [:]
    /// Problems of forms that could not be loaded; the rest still load.
    public private(set) var problems: [FormIssue] = []
    public private(set) var registry: UnitRegistry?
    public private(set) var registryProblems: [RegistryIssue] = []
    public let directories: [URL]

    /// Loads the directories' forms and registry; with `forms: false` only
    /// the registry, for commands that need unit names and no form.
    public init(directories: [URL], forms loadForms: Bool = true) {
        self.directories = directories
        var units: [OrgUnit] = []
        var unitFiles = 0
        for directory in directories {
            let fileManager = FileManager.default
            let names = (try? fileManager.contentsOfDirectory(atPath: directory.path))?.sorted() ?? []
            for name in names where loadForms && (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) {
                let url = directory.appendingPathComponent(name)
                do {
                    add(try FormLoader.load(contentsOf: url))
                } catch let error as FormLoadError {
                    problems.append(contentsOf: error.issues)
                } catch {
                    problems.append(FormIssue(file: url.relativePath, line: 1, message: L("无法读取:\(error)", "cannot read: \(error)")))
                }
            }
            let unitsDirectory = directory.appendingPathComponent("units")
            let csvNames = (try? fileManager.contentsOfDirectory(atPath: unitsDirectory.path))?.sorted() ?? []
            for name in csvNames where name.hasSuffix(".csv") {
                let url = unitsDirectory.appendingPathComponent(name)
                unitFiles += 1
                do {
                    units.append(contentsOf: try UnitRegistry.load(contentsOf: url).units)
                } catch let error as RegistryError {
                    registryProblems.append(contentsOf: error.issues)
                } catch {
                    registryProblems.append(RegistryIssue(file: url.relativePath, line: 1, message: L("无法读取:\(error)", "cannot read: \(error)")))
                }
            }
        }
        if unitFiles > 0 {
            // A later file wins, but keeps an earlier file's parent when it
            // names none (a registry pulled for one township has no county).
            let merged = Dictionary(units.map { ($0.code, $0) }) { first, last in
                OrgUnit(code: last.code, name: last.name, level: last.level, parent: last.parent ?? first.parent)
            }
            registry = UnitRegistry(units: Array(merged.values))
        }
    }

    private mutating func add(_ form: Form) {
        var versions = forms[form.id] ?? []
        versions.removeAll { $0.version == form.version }
        versions.append(form)
        versions.sort { FormCatalog.compareVersions($0.version, $1.version) }
        forms[form.id] = versions
    }

    /// The newest version of each form, by id.
    public var latestForms: [Form] {
        forms.keys.sorted().compactMap { forms[$0]?.last }
    }

    /// All forms, by id then version.
    public var allForms: [Form] {
        forms.keys.sorted().flatMap { forms[$0]! }
    }

    /// The form `id` at `version`, or its newest version when none is given.
    /// `reference` may also be written `id@version`.
    public func form(_ reference: String, version: String? = nil) -> Form? {
        var id = reference
        var wanted = version
        if let at = reference.firstIndex(of: "@") {
            id = String(reference[..<at])
            wanted = String(reference[reference.index(after: at)...])
        }
        guard let versions = forms[id] else { return nil }
        guard let wanted else { return versions.last }
        return versions.first { $0.version == wanted }
    }

    /// Orders versions by their numeric parts: 2026.2 < 2026.10.
    public static func compareVersions(_ a: String, _ b: String) -> Bool {
        let left = a.split(whereSeparator: { $0 == "." || $0 == "-" })
        let right = b.split(whereSeparator: { $0 == "." || $0 == "-" })
        for (x, y) in zip(left, right) where x != y {
            if let i = Int(x), let j = Int(y) { return i < j }
            return x < y
        }
        return left.count < right.count
    }
}
