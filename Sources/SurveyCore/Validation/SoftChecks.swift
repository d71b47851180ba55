/// A soft check of one field (`warnings:` in the form): when its condition
/// holds the answer is doubtful, but not wrong. It never blocks a survey;
/// the person confirms the answer (with a short explanation) or corrects it.
public struct SoftCheck: Sendable {
    /// Unique within the form; confirmations name it.
    public let name: String
    /// The condition under which the warning fires (`when:`); `.` is the
    /// field's own answer, and `previous(${…})` reads last period's.
    public let condition: FormExpression
    public let message: LocalizedText
    public let line: Int

    public init(name: String, condition: FormExpression, message: LocalizedText, line: Int) {
        self.name = name
        self.condition = condition
        self.message = message
        self.line = line
    }
}

/// A warning that fired for one answer, and whether the person who filled
/// the survey confirmed the answer.
public struct FiredWarning: Sendable, Equatable, CustomStringConvertible {
    /// The warning's name in the form.
    public var name: String
    /// The answer's path, as `ValidationIssue.path` writes it.
    public var path: String
    public var field: String
    public var message: LocalizedText
    public var confirmed: Bool = false
    /// What the person wrote when confirming, possibly empty.
    public var explanation: String?

    public init(name: String, path: String, field: String, message: LocalizedText, confirmed: Bool = false, explanation: String? = nil) {
        self.name = name
        self.path = path
        self.field = field
        self.message = message
        self.confirmed = confirmed
        self.explanation = explanation
    }

    public var description: String { "\(path) [\(name)]\(confirmed ? " confirmed" : ""): \(message.text(.en))" }

    /// The JSON a device or the server keeps: name, path, confirmed and the
    /// explanation (the message comes from the form).
    public var json: JSONValue {
        var object = JSONObject(minimumCapacity: 4)
        object.appendUnique("warning", .string(name))
        object.appendUnique("path", .string(path))
        object.appendUnique("confirmed", .bool(confirmed))
        if let explanation, !explanation.isEmpty { object.appendUnique("explanation", .string(explanation)) }
        return .object(object)
    }
}

/// The person's word that a doubtful answer is right: which warning, at
/// which answer, and why. Stored with the survey and sent with it.
public struct WarningConfirmation: Sendable, Equatable, Hashable {
    public var warning: String
    public var path: String
    public var explanation: String

    public init(warning: String, path: String, explanation: String = "") {
        self.warning = warning
        self.path = path
        self.explanation = explanation
    }

    /// The longest explanation kept, in bytes of UTF-8.
    public static let explanationLimit = 500
    /// The most confirmations one survey may carry.
    public static let countLimit = 200

    public var json: JSONValue {
        var object = JSONObject(minimumCapacity: 3)
        object.appendUnique("warning", .string(warning))
        object.appendUnique("path", .string(path))
        if !explanation.isEmpty { object.appendUnique("explanation", .string(explanation)) }
        return .object(object)
    }

    /// A list of confirmations as JSON.
    public static func json(_ list: [WarningConfirmation]) -> JSONValue { .array(list.map(\.json)) }

    /// Reads a list of confirmations (`[{"warning", "path", "explanation"}]`);
    /// the message says what is wrong and where.
    public static func read(_ value: JSONValue) -> Result<[WarningConfirmation], LocalizedText> {
        guard case .array(let items) = value else {
            return .failure(L("confirmations 应为列表", "confirmations must be a list"))
        }
        if items.count > countLimit {
            return .failure(L("confirmations 最多 \(countLimit) 条", "confirmations holds at most \(countLimit) entries"))
        }
        var list: [WarningConfirmation] = []
        for (offset, item) in items.enumerated() {
            let place = "confirmations[\(offset + 1)]"
            guard case .object(let object) = item else {
                return .failure(L("\(place) 应为对象", "\(place) must be an object"))
            }
            for key in object.keys where !["warning", "path", "explanation"].contains(key) {
                return .failure(L("\(place) 有未知的键 “\(key)”", "\(place) has an unknown key '\(key)'"))
            }
            guard case .string(let warning)? = object["warning"], !warning.isEmpty, warning.utf8.count <= 64 else {
                return .failure(L("\(place).warning 应为警示名称", "\(place).warning must name a warning"))
            }
            guard case .string(let path)? = object["path"], !path.isEmpty, path.utf8.count <= 200 else {
                return .failure(L("\(place).path 应为答案路径", "\(place).path must be the path of an answer"))
            }
            var explanation = ""
            switch object["explanation"] {
            case nil, .null?: break
            case .string(let text)?:
                guard text.utf8.count <= explanationLimit else {
                    return .failure(L("\(place).explanation 最长 \(explanationLimit) 字节", "\(place).explanation is at most \(explanationLimit) bytes"))
                }
                explanation = text
            default:
                return .failure(L("\(place).explanation 应为文字", "\(place).explanation must be text"))
            }
            list.append(WarningConfirmation(warning: warning, path: path, explanation: explanation))
        }
        return .success(list)
    }
}

extension ValidationResult {
    /// The warnings with the confirmations applied: a warning is confirmed
    /// when a confirmation names it at its answer.
    public func warningsConfirmed(by confirmations: [WarningConfirmation]) -> [FiredWarning] {
        guard !confirmations.isEmpty else { return firedWarnings }
        var byKey: [String: WarningConfirmation] = [:]
        for confirmation in confirmations { byKey[confirmation.warning + "\u{0}" + confirmation.path] = confirmation }
        return firedWarnings.map { warning in
            var warning = warning
            if let confirmation = byKey[warning.name + "\u{0}" + warning.path] {
                warning.confirmed = true
                warning.explanation = confirmation.explanation
            }
            return warning
        }
    }

    /// The confirmations that still apply: those naming a warning that fires.
    public func applicable(_ confirmations: [WarningConfirmation]) -> [WarningConfirmation] {
        let firing = Set(firedWarnings.map { $0.name + "\u{0}" + $0.path })
        return confirmations.filter { firing.contains($0.warning + "\u{0}" + $0.path) }
    }
}

/// The same unit's survey of the previous period, as `previous(…)` reads
/// it: its answers read and settled with the form being filled now (so a
/// baseline filled with an earlier version reads the same on every
/// machine), values of questions not asked cleared.
public final class Baseline: @unchecked Sendable {
    public let period: String
    /// The answers as stored last period.
    public let answers: JSONObject
    let sheet: AnswerSheet

    init(period: String, answers: JSONObject, sheet: AnswerSheet) {
        self.period = period
        self.answers = answers
        self.sheet = sheet
    }

    /// Last period's value of a top-level field (empty for fields in a
    /// repeat, and where the question was not asked).
    public func value(of field: Field) -> Value {
        guard field.repeatIndex == nil, field.repeatPosition == nil, field.slot < sheet.top.count else { return .empty }
        return sheet.top[field.slot]
    }
}

/// Where the county's outlier screening looks (`settings.outliers`).
public struct OutlierSettings: Sendable, Equatable {
    /// Top-level number fields screened, in the form's order.
    public var fields: [String]
    /// A value whose modified z-score (0.6745 × (x − median) ÷ MAD) over
    /// its township's or county's villages exceeds this is far from them.
    public var zScore: Double
    /// A value more than this many times last period's, or less than last
    /// period's divided by it, is a change to look at.
    public var changeRatio: Double

    public static let defaultZScore = 3.5
    public static let defaultChangeRatio = 3.0

    public init(fields: [String], zScore: Double = OutlierSettings.defaultZScore, changeRatio: Double = OutlierSettings.defaultChangeRatio) {
        self.fields = fields
        self.zScore = zScore
        self.changeRatio = changeRatio
    }
}

/// A value that changed from last period by more than the form's ratio.
public struct ChangeFlag: Sendable, Equatable {
    public var field: String
    public var value: Double
    public var previous: Double

    public init(field: String, value: Double, previous: Double) {
        self.field = field
        self.value = value
        self.previous = previous
    }
}

extension Form {
    /// Last period's survey of the same unit, ready for `previous(…)`.
    /// When what the form reads of it (`previous(…)` and the screened
    /// numbers) are all questions, their stored answers are read as they
    /// are, without settling the rest; otherwise the whole survey is
    /// settled with this form, so that a calculation is computed again.
    ///
    /// `whole` settles it whole in any case: for an expression of its own
    /// (`vsurvey expr`), which may read any field.
    public func baseline(_ answers: JSONObject, period: String, today: Int = CivilDate.today(), whole: Bool = false) -> Baseline {
        if !whole, let read = plan.baselineReads {
            let sheet = AnswerSheet(topSlots: plan.topSlots, repeatWidths: plan.repeatSlots)
            for index in read {
                let field = fields[index]
                guard let json = answers[field.name], case .success(let value) = AnswerReader.read(json, kind: field.answerKind, choices: field.choices)
                else { continue }
                sheet.top[field.slot] = value
            }
            return Baseline(period: period, answers: answers, sheet: sheet)
        }
        var run = ValidationRun(form: self, today: today)
        run.read(answers)
        run.settle()
        return Baseline(period: period, answers: answers, sheet: AnswerSheet(copyingTop: run.relevantTopValues(), widths: plan.repeatSlots))
    }

    /// Whether any expression of the form reads last period's answers.
    public var readsPrevious: Bool { plan.readsPrevious }

    /// The computed fields whose value hangs on last period's survey: their
    /// calculation reads `previous(…)`, or a field that does. The content
    /// hash leaves them out, so that a survey sent again after its baseline
    /// changed is the same survey (`WireSurvey.contentHash`).
    public var baselineDependent: Set<String> { plan.baselineDependent }

    /// Kept answers without the computed fields that hang on last
    /// period's survey, at the top level and in repeat entries.
    public func withoutBaselineDependent(_ answers: JSONObject) -> JSONObject {
        let names = baselineDependent
        guard !names.isEmpty else { return answers }
        var result = JSONObject(minimumCapacity: answers.count)
        for (key, value) in answers where !names.contains(key) {
            if case .array(let entries) = value, fields[fieldIndex[key] ?? 0].repeatPosition != nil {
                result.appendUnique(
                    key,
                    .array(
                        entries.map { entry in
                            guard case .object(let object) = entry else { return entry }
                            var kept = JSONObject(minimumCapacity: object.count)
                            for (name, inner) in object where !names.contains(name) { kept.appendUnique(name, inner) }
                            return .object(kept)
                        }))
            } else {
                result.appendUnique(key, value)
            }
        }
        return result
    }

    /// Kept answers as stored (compact JSON), and, when the form has
    /// computed fields that hang on last period's survey, the same
    /// without them for the content hash (nil when there are none).
    /// Written in one pass when those fields are all at the top level.
    public func keptBytes(_ answers: JSONObject) -> (kept: [UInt8], hashed: [UInt8]?) {
        let names = baselineDependent
        if names.isEmpty { return (JSONValue.object(answers).serializedBytes(), nil) }
        if plan.baselineDependentTopLevel {
            let list = plan.baselineDependentList
            let (whole, without) = JSONValue.serializedBytes(answers) { key in
                let length = key.utf8.count
                return list.contains { $0.length == length && $0.name == key }
            }
            return (whole, without)
        }
        return (JSONValue.object(answers).serializedBytes(), JSONValue.object(withoutBaselineDependent(answers)).serializedBytes())
    }

    /// The names of the answers `baseline(_:period:)` reads of last
    /// period's survey when it reads them as stored (nil when it settles
    /// the survey whole): a reader may pick only these out of the text.
    public var baselineKeys: [String]? { plan.baselineReads.map { $0.map { fields[$0].name } } }

    /// `baselineKeys`, prepared once for `JSONParser.members(of:keys:)`.
    public var baselineMembers: JSONParser.MemberKeys? { plan.baselineMembers }

    /// Whether a survey of this form starts from, or is checked against,
    /// last period's survey of its unit (so devices fetch those).
    public var usesBaselines: Bool { readsPrevious || fields.contains(where: \.prefill) }

    /// The fields that carry a soft check, in the form's order.
    public var warnedFields: [Field] { plan.warnedFields.map { fields[$0] } }

    /// A new survey's first answers from last period's: the answers of the
    /// questions that carry over (`prefill: previous`), as the form reads
    /// them; answers this form would not accept are left out, so they are
    /// asked again. A repeat that carries over keeps its entries, each
    /// with the answers of its fields that carry over.
    public func prefilled(from baseline: JSONObject) -> JSONObject {
        var result = JSONObject()
        func carried(_ field: Field, _ json: JSONValue?) -> JSONValue? {
            guard field.prefill, field.takesAnswer, let json, json != .null else { return nil }
            guard case .success(let value) = AnswerReader.read(json, kind: field.answerKind, choices: field.choices), let kept = value.json else { return nil }
            return kept
        }
        for index in plan.topFields {
            let field = fields[index]
            if let repeatIndex = field.repeatPosition {
                guard field.prefill, case .array(let entries)? = baseline[field.name], !entries.isEmpty else { continue }
                var copied: [JSONValue] = []
                for entry in entries.prefix(field.maxCount ?? Int.max) {
                    guard case .object(let object) = entry else { continue }
                    var kept = JSONObject()
                    for inner in plan.repeatFields[repeatIndex] {
                        let innerField = fields[inner]
                        if let value = carried(innerField, object[innerField.name]) { kept.appendUnique(innerField.name, value) }
                    }
                    if !kept.isEmpty { copied.append(.object(kept)) }
                }
                if !copied.isEmpty { result.appendUnique(field.name, .array(copied)) }
            } else if let value = carried(field, baseline[field.name]) {
                result.appendUnique(field.name, value)
            }
        }
        return result
    }

    /// The screened numbers (`settings.outliers`) that changed from last
    /// period by more than the form's ratio: more than ratio times, or
    /// below a ratio-th, of a last value above zero (so a drop to zero is
    /// one). Nothing without a baseline or a screening.
    public func changes(topValues: [Value], baseline: Baseline?) -> [ChangeFlag] {
        guard let outliers, let baseline else { return [] }
        var flags: [ChangeFlag] = []
        for name in outliers.fields {
            guard let field = field(named: name), field.slot < topValues.count else { continue }
            let now = topValues[field.slot].number
            let before = baseline.value(of: field).number
            guard now.isFinite, before.isFinite, before > 0 else { continue }
            if now > before * outliers.changeRatio || now < before / outliers.changeRatio {
                flags.append(ChangeFlag(field: name, value: now, previous: before))
            }
        }
        return flags
    }
}

extension AnswerSheet {
    /// A sheet holding only top-level values (a baseline's).
    convenience init(copyingTop top: [Value], widths: [Int]) {
        self.init(topSlots: top.count, repeatWidths: widths)
        self.top = top
    }
}

extension ValidationRun {
    /// Evaluates the soft checks of every answer that is asked, has a value
    /// and has no error (nor reads one), in the form's order.
    mutating func checkWarnings() {
        guard !plan.warnedFields.isEmpty else { return }
        var context = EvaluationContext(sheet: sheet, today: today, previous: previous)
        for index in plan.warnedFields {
            let field = form.fields[index]
            if let repeatIndex = field.repeatIndex {
                let repeatName = form.fields[form.repeats[repeatIndex]].name
                var entryContext = EvaluationContext(sheet: sheet, repeatIndex: repeatIndex, today: today, previous: previous)
                let width = plan.repeatSlots[repeatIndex]
                for entry in 0..<sheet.entryCounts[repeatIndex] where !badEntries.contains(entry * 1_000 + repeatIndex) {
                    guard repeatRelevant[repeatIndex][entry * width + field.slot] else { continue }
                    entryContext.entry = entry
                    entryContext.current = sheet[repeatIndex, entry, field.slot]
                    evaluateWarnings(field, index: index, entry: entry, context: entryContext) { "\(repeatName)[\(entry + 1)].\(field.name)" }
                }
            } else {
                guard topRelevant[field.slot] else { continue }
                context.current = sheet.top[field.slot]
                evaluateWarnings(field, index: index, entry: -1, context: context) { field.name }
            }
        }
    }

    private mutating func evaluateWarnings(_ field: Field, index: Int, entry: Int, context: EvaluationContext, path: () -> String) {
        guard !context.current.isEmpty, !hasFailed(index, entry: entry) else { return }
        for check in field.warnings where !readsFailed(check.condition, entry: entry, in: field.repeatIndex) {
            if check.condition.bound.evaluate(context).bool {
                fired.append(FiredWarning(name: check.name, path: path(), field: field.name, message: check.message))
            }
        }
    }
}
