import Foundation
import Yams

/// One survey as it is filed and sent: which form and version, which unit
/// and period, and the answers. Answer files may also hold the answers alone.
public struct Submission: Sendable {
    public var instanceID: String?
    public var formID: String?
    public var formVersion: String?
    public var unit: String?
    public var period: String?
    public var answers: JSONObject
    /// Problems with the envelope's own shape (unknown keys, wrong types).
    public var shapeIssues: [ValidationIssue] = []

    public static let envelopeKeys: Set<String> = ["instance_id", "form", "version", "unit", "period", "answers", "revision", "replaces", "finalized_at"]

    public init(instanceID: String?, formID: String?, formVersion: String?, unit: String?, period: String?, answers: JSONObject) {
        self.instanceID = instanceID
        self.formID = formID
        self.formVersion = formVersion
        self.unit = unit
        self.period = period
        self.answers = answers
    }

    /// Reads a survey document: an object with `answers` (the envelope) or
    /// a bare object of answers.
    public init(json: JSONValue) throws(LocalizedText) {
        guard case .object(let object) = json else {
            throw L("调查文件应为 JSON 对象", "a survey file must hold a JSON object")
        }
        guard let answers = object["answers"] else {
            self.answers = object
            return
        }
        guard case .object(let answerObject) = answers else {
            throw L("answers 应为对象", "answers must be an object")
        }
        var issues: [ValidationIssue] = []
        for key in object.keys where !Self.envelopeKeys.contains(key) {
            issues.append(
                ValidationIssue(
                    path: key, field: key, code: .envelope,
                    message: L(
                        "未知的键 “\(key)”(可用:\(Self.envelopeKeys.sorted().joined(separator: "、")))",
                        "unknown key '\(key)' (use \(Self.envelopeKeys.sorted().joined(separator: ", ")))")))
        }
        func text(_ key: String) -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            case .integer(let value)?: return String(value)
            default:
                issues.append(ValidationIssue(path: key, field: key, code: .envelope, message: L("\(key) 应为文字", "\(key) must be a string")))
                return nil
            }
        }
        self.answers = answerObject
        instanceID = text("instance_id")
        formID = text("form")
        formVersion = text("version")
        unit = text("unit")
        period = text("period")
        shapeIssues = issues
    }

    /// Checks the envelope against a form and registry: the unit code is
    /// valid, at the form's level and registered; the period has the form's type.
    public func envelopeIssues(for form: Form, registry: UnitRegistry?) -> [ValidationIssue] {
        var issues = shapeIssues
        func add(_ field: String, _ message: LocalizedText) {
            issues.append(ValidationIssue(path: field, field: field, code: .envelope, message: message))
        }
        if let formID, formID != form.id {
            add("form", L("文件属于表单 “\(formID)”,而不是 “\(form.id)”", "the file is for form '\(formID)', not '\(form.id)'"))
        }
        if let formVersion, formVersion != form.version {
            add(
                "version",
                L("文件属于版本 \(formVersion),当前检查的是版本 \(form.version)", "the file is for version \(formVersion); checking against version \(form.version)"))
        }
        if let unit {
            if let code = UnitCode(unit) {
                if let registry {
                    if let known = registry.unit(code) {
                        if known.level != form.unitLevel {
                            add(
                                "unit",
                                L(
                                    "\(code) \(known.name) 是\(known.level.label.zh),本表单用于\(form.unitLevel.label.zh)",
                                    "\(code) \(known.name) is a \(known.level.rawValue); this form is for a \(form.unitLevel.rawValue)"))
                        }
                    } else {
                        add("unit", L("单位 \(code) 不在单位名录中", "unit \(code) is not in the registry"))
                    }
                } else if code.significantLength != form.unitLevel.prefixLength {
                    add("unit", L("单位代码 \(code) 不是\(form.unitLevel.label.zh)级代码", "unit code \(code) is not a \(form.unitLevel.rawValue) code"))
                }
            } else {
                add("unit", L("单位代码 “\(unit)” 应为 12 位数字", "unit code '\(unit)' must be 12 digits"))
            }
        }
        if let period {
            if let parsed = Period(period) {
                if parsed.type != form.periodType {
                    add(
                        "period",
                        L(
                            "报告期 \(period) 不是本表单要求的类型(\(form.periodType.label.zh),如 \(Period.example(of: form.periodType)))",
                            "period \(period) is not of the form's type (\(form.periodType.rawValue), e.g. \(Period.example(of: form.periodType)))"))
                }
            } else {
                add("period", L("“\(period)” 不是有效的报告期(如 2026、2026Q3、202607)", "'\(period)' is not a valid period (e.g. 2026, 2026Q3, 202607)"))
            }
        }
        return issues
    }
}

/// A problem reading an answer file, with where it is.
public struct AnswerFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: LocalizedText

    public func rendered(_ language: Language) -> String {
        var place = file
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        return "\(place): \(message.text(language))"
    }

    public var description: String { rendered(.en) }
}

/// Answer files in JSON or YAML (by extension: `.yaml`/`.yml` is YAML).
public enum AnswerFile {
    public static func read(_ url: URL) throws(AnswerFileError) -> JSONValue {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AnswerFileError(file: url.relativePath, message: L("无法读取文件", "cannot read the file"))
        }
        if url.pathExtension == "yaml" || url.pathExtension == "yml" {
            return try readYAML(data, file: url.relativePath)
        }
        do {
            return try JSONParser().parse(data)
        } catch {
            throw AnswerFileError(file: url.relativePath, line: error.line, column: error.column, message: error.message)
        }
    }

    static func readYAML(_ data: Data, file: String) throws(AnswerFileError) -> JSONValue {
        guard let text = String(data: data, encoding: .utf8) else {
            throw AnswerFileError(file: file, message: L("文件不是有效的 UTF-8 文本", "the file is not valid UTF-8 text"))
        }
        do {
            guard let node = try Yams.compose(yaml: text) else { return .object(JSONObject()) }
            guard case .mapping(let mapping) = node else { return try json(from: node, file: file) }
            // Envelope values are identifiers, kept as written: `version: 2026.10`
            // is the text "2026.10", not a number.
            var object = JSONObject()
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    throw AnswerFileError(file: file, line: key.mark?.line, message: L("键名应为文字", "keys must be plain text"))
                }
                if name != "answers", Submission.envelopeKeys.contains(name), let scalar = value.scalar {
                    object[name] = .string(scalar.string)
                } else {
                    object[name] = try json(from: value, file: file)
                }
            }
            return .object(object)
        } catch let error as AnswerFileError {
            throw error
        } catch let YamlError.scanner(_, problem, mark, _), let YamlError.parser(_, problem, mark, _) {
            let said = YAMLMessages.describe(problem)
            throw AnswerFileError(file: file, line: mark.line, column: mark.column, message: L("YAML 格式错误:\(said.zh)", "YAML syntax error: \(problem)"))
        } catch {
            throw AnswerFileError(file: file, message: L("YAML 语法错误:\(error)", "YAML syntax error: \(error)"))
        }
    }

    /// YAML to JSON values: plain scalars that read as numbers or booleans
    /// become those; everything else is text.
    static func json(from node: Node, file: String) throws -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            let text = scalar.string
            if text.isEmpty || text == "~" || text == "null" { return .null }
            if text == "true" { return .bool(true) }
            if text == "false" { return .bool(false) }
            if let integer = Int(text) { return .integer(integer) }
            if let number = Double(text), number.isFinite, text.first.map({ $0.isNumber || $0 == "-" }) == true { return .number(number) }
            return .string(text)
        case .sequence(let sequence):
            return .array(try sequence.map { try json(from: $0, file: file) })
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    throw AnswerFileError(file: file, line: key.mark?.line, message: L("键名应为文字", "keys must be plain text"))
                }
                object[name] = try json(from: value, file: file)
            }
            return .object(object)
        case .alias:
            throw AnswerFileError(file: file, line: node.mark?.line, message: L("答案文件中不支持 YAML 别名", "YAML aliases are not supported in answer files"))
        }
    }
}
