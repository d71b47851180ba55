/// One problem with a survey's answers.
public struct ValidationIssue: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable, CaseIterable {
        case unknownField = "unknown_field"
        case type
        case choice
        case required
        case constraint
        case min
        case max
        case repeatCount = "repeat_count"
        /// A problem with the survey's envelope: form, unit, period.
        case envelope
        /// A warning, not an error: an answer to a question that is not
        /// asked was dropped.
        case notRelevant = "not_relevant"
        /// A warning, not an error: a value sent for a calculated field was
        /// replaced by the engine's own.
        case computed
    }

    /// Where: `members_total`, or `cadres[2].birth_year` (entries count from 1).
    public var path: String
    /// The field's name (the last part of the path).
    public var field: String
    public var code: Code
    public var message: LocalizedText

    public init(path: String, field: String, code: Code, message: LocalizedText) {
        self.path = path
        self.field = field
        self.code = code
        self.message = message
    }

    public var description: String { "\(path): \(message.text(.en))" }
}

/// What checking a survey found, and the answers as they are kept: values
/// of questions that are not relevant dropped, calculations recomputed.
public struct ValidationResult: Sendable {
    /// Errors, in the order of the form's questions. Any error makes the
    /// survey invalid.
    public var issues: [ValidationIssue]
    /// What the engine changed without it being an error: answers dropped
    /// because their question is not asked, computed values replaced.
    public var warnings: [ValidationIssue]
    public var answers: JSONObject
    /// Each top-level field's settled value by slot (`Field.slot`), empty
    /// where the question is not asked: what the county's reports read.
    public var topValues: [Value] = []
    /// Soft checks that fired (`warnings:` of the form), in the form's
    /// order; they never make the survey invalid.
    public var firedWarnings: [FiredWarning] = []
    public var isValid: Bool { issues.isEmpty }
}

extension Form {
    /// What `${name}` stands for in this form, at the top level.
    func symbol(named name: String) -> Symbol? {
        guard let index = fieldIndex[name] else {
            return constants.first { $0.name == name }.map { .constant($0.value) }
        }
        let field = fields[index]
        if let position = field.repeatPosition { return .repeatGroup(position) }
        if let repeatIndex = field.repeatIndex { return .inner(repeat: repeatIndex, slot: field.slot) }
        return .top(slot: field.slot)
    }

    /// Checks a survey's answers against this form.
    ///
    /// - Parameters:
    ///   - answers: the answers by field name; a repeat's answers are a
    ///     list of objects, one per entry.
    ///   - today: the day number that `today()` and `max: today` mean.
    ///   - previous: the same unit's survey of the previous period, which
    ///     `previous(…)` reads (empty without it).
    public func validate(_ answers: JSONObject, today: Int = CivilDate.today(), previous: Baseline? = nil) -> ValidationResult {
        var run = ValidationRun(form: self, today: today, previous: previous)
        run.read(answers)
        run.settle()
        run.check()
        return ValidationResult(
            issues: run.sortedIssues(), warnings: run.warnings, answers: run.output(), topValues: run.relevantTopValues(), firedWarnings: run.fired)
    }

    /// How many top-level value slots the form has (`Field.slot` is below it).
    public var topSlotCount: Int { plan.topSlots }

    /// Evaluates a top-level expression of this form (an indicator's) over
    /// settled top-level values, by slot.
    public func evaluate(_ expression: FormExpression, topValues: [Value], today: Int = CivilDate.today()) -> Value {
        let sheet = AnswerSheet(topSlots: plan.topSlots, repeatWidths: plan.repeatSlots)
        for index in 0..<min(topValues.count, sheet.top.count) { sheet.top[index] = topValues[index] }
        return expression.bound.evaluate(EvaluationContext(sheet: sheet, today: today))
    }

    /// The settled top-level values of answers already checked (a stored
    /// survey), by slot, empty where the question is not asked.
    public func topValues(_ answers: JSONObject, today: Int = CivilDate.today(), previous: Baseline? = nil) -> [Value] {
        var run = ValidationRun(form: self, today: today, previous: previous)
        run.read(answers)
        run.settle()
        return run.relevantTopValues()
    }

    /// Checks a survey and keeps what the engine worked out on the way:
    /// which questions are asked and every value, for entry screens.
    public func settle(_ answers: JSONObject, today: Int = CivilDate.today(), previous: Baseline? = nil) -> SettledSurvey {
        var run = ValidationRun(form: self, today: today, previous: previous)
        run.read(answers)
        run.settle()
        run.check()
        return SettledSurvey(
            form: self, result: ValidationResult(issues: run.sortedIssues(), warnings: run.warnings, answers: run.output(), firedWarnings: run.fired),
            sheet: run.sheet, topRelevant: run.topRelevant, repeatRelevant: run.repeatRelevant, requiredEntries: run.requiredEntries)
    }

    /// Settles a survey and returns its values for evaluating further
    /// expressions (used by `vsurvey expr`).
    public func evaluate(_ expression: String, answers: JSONObject, today: Int = CivilDate.today(), previous: Baseline? = nil) throws(ExpressionError)
        -> Value
    {
        let tree = try ExpressionParser.parse(expression)
        let (bound, errors) = ExpressionBinder(resolve: symbol(named:)).bind(tree)
        if let first = errors.first { throw first }
        // The expression may read fields of last period's survey that the
        // form itself does not: the baseline settled whole.
        let previous = previous.map { baseline($0.answers, period: $0.period, today: today, whole: true) }
        var run = ValidationRun(form: self, today: today, previous: previous)
        run.read(answers)
        run.settle()
        return bound.evaluate(EvaluationContext(sheet: run.sheet, today: today, previous: previous?.sheet))
    }
}

/// The state of checking one survey: read the answers into typed slots,
/// settle relevance and calculations in dependency order, then check.
struct ValidationRun {
    let form: Form
    let plan: ValidationPlan
    let today: Int
    let sheet: AnswerSheet
    /// Last period's settled answers, for `previous(…)`.
    let previous: AnswerSheet?
    var topRelevant: [Bool]
    /// Per repeat, flat like the sheet: `entry * width + slot`.
    var repeatRelevant: [[Bool]]
    /// Errors with the position that orders them: (field index, entry).
    var issues: [(order: (Int, Int), issue: ValidationIssue)] = []
    var warnings: [ValidationIssue] = []
    /// Soft checks that fired.
    var fired: [FiredWarning] = []
    /// Problems found while reading, kept only if the field turns out to be asked.
    var pending: [Pending] = []
    /// Answers to questions that may turn out not to be asked: (field index,
    /// repeat, entry), to report the ones dropped.
    var conditionalAnswers: [(index: Int, repeatIndex: Int, entry: Int)] = []
    /// Fields (index, entry; entry -1 at the top level) whose answer already
    /// has an error: constraints that read them are not checked, so one
    /// mistake gives one message.
    var failed: Set<Int> = []
    /// Repeat entries that were not objects (`entry * 1000 + repeat`): their
    /// fields are not checked, the one error says it all.
    var badEntries: Set<Int> = []
    /// Per repeat, the entries its `repeat_count` asks for (nil without one).
    var requiredEntries: [Int?] = []

    struct Pending {
        var repeatIndex: Int
        var entry: Int
        var field: Field
        var issue: ValidationIssue
    }

    init(form: Form, today: Int, previous: Baseline? = nil) {
        self.form = form
        self.plan = form.plan
        self.today = today
        self.previous = previous?.sheet
        sheet = AnswerSheet(topSlots: plan.topSlots, repeatWidths: plan.repeatSlots)
        topRelevant = Array(repeating: false, count: plan.topSlots)
        repeatRelevant = Array(repeating: [], count: plan.repeatSlots.count)
    }

    /// One key per (field, entry) for `failed`.
    private func key(_ fieldIndex: Int, entry: Int) -> Int {
        (entry + 1) * form.fields.count + fieldIndex
    }

    private func index(of field: Field) -> Int {
        form.fieldIndex[field.name] ?? 0
    }

    mutating func fail(_ field: Field, entry: Int, _ issue: ValidationIssue) {
        let fieldIndex = index(of: field)
        failed.insert(key(fieldIndex, entry: entry))
        issues.append(((fieldIndex, entry), issue))
    }

    func sortedIssues() -> [ValidationIssue] {
        issues.enumerated().sorted { a, b in
            (a.element.order.0, a.element.order.1, a.offset) < (b.element.order.0, b.element.order.1, b.offset)
        }.map(\.element.issue)
    }

    // MARK: Reading

    /// Finds fields by name, trying the field after the last one found
    /// before hashing: answers usually arrive in the form's own order.
    struct FieldLookup {
        let names: [String]
        let indices: [Int]
        let index: [String: Int]
        var next = 0

        mutating func find(_ name: String) -> Int? {
            if next < names.count, names[next] == name {
                next += 1
                return indices[next - 1]
            }
            guard let position = index[name] else { return nil }
            next = position + 1
            return indices[position]
        }
    }

    mutating func read(_ answers: JSONObject) {
        var lookup = plan.topLookup
        for (key, json) in answers {
            guard let index = lookup.find(key) ?? form.fieldIndex[key] else {
                issues.append(
                    ((-1, 0), ValidationIssue(path: key, field: key, code: .unknownField, message: L("表单中没有字段 “\(key)”", "the form has no field '\(key)'"))))
                continue
            }
            let field = form.fields[index]
            if let repeatIndex = field.repeatIndex {
                let repeatName = form.fields[form.repeats[repeatIndex]].name
                issues.append(
                    (
                        (-1, 0),
                        ValidationIssue(
                            path: key, field: key, code: .unknownField,
                            message: L("字段 “\(key)” 属于重复组 “\(repeatName)”,应填在其条目中", "field '\(key)' belongs inside the entries of the repeat '\(repeatName)'"))
                    ))
                continue
            }
            if field.repeatPosition != nil {
                readRepeat(field, json)
                continue
            }
            readValue(field, index: index, json, repeatIndex: -1, entry: 0) { key }
        }
    }

    mutating func readValue(_ field: Field, index: Int, _ json: JSONValue, repeatIndex: Int, entry: Int, path: () -> String) {
        guard field.takesAnswer else {
            if field.keepsSentValue {
                // once(): the value as sent is kept, computed only when there is none.
                let sent: Value
                switch json {
                case .string(let text): sent = text.isEmpty ? .empty : .string(text)
                case .number(let number): sent = .number(number)
                case .integer(let number): sent = .number(Double(number))
                case .bool(let flag): sent = .bool(flag)
                default: sent = .empty
                }
                if repeatIndex < 0 { sheet.top[field.slot] = sent } else { sheet[repeatIndex, entry, field.slot] = sent }
                return
            }
            if field.type.holdsValue, json != .null, json != .string("") {
                warnings.append(
                    ValidationIssue(
                        path: path(), field: field.name, code: .computed,
                        message: L("此项由表单自动计算,提交的值已被替换", "this value is computed by the form; the value sent was replaced")))
            }
            return
        }
        switch AnswerReader.read(json, kind: field.answerKind, choices: field.choices) {
        case .success(let value):
            if repeatIndex < 0 {
                sheet.top[field.slot] = value
            } else {
                sheet[repeatIndex, entry, field.slot] = value
            }
            if plan.conditional[index], !value.isEmpty {
                conditionalAnswers.append((index, repeatIndex, entry))
            }
        case .failure(let message):
            let code: ValidationIssue.Code = field.choices == nil ? .type : .choice
            pending.append(
                Pending(
                    repeatIndex: repeatIndex, entry: entry, field: field, issue: ValidationIssue(path: path(), field: field.name, code: code, message: message))
            )
        }
    }

    mutating func readRepeat(_ field: Field, _ json: JSONValue) {
        guard let repeatIndex = field.repeatPosition else { return }
        let items: [JSONValue]
        switch json {
        case .null: items = []
        case .array(let array): items = array
        default:
            // Reported only if the repeat is asked, like any other answer.
            pending.append(
                Pending(
                    repeatIndex: -1, entry: 0, field: field,
                    issue: ValidationIssue(path: field.name, field: field.name, code: .type, message: L("重复组应为条目列表", "a repeat must be a list of entries"))))
            return
        }
        let slots = plan.repeatSlots[repeatIndex]
        sheet.resetEntries(repeatIndex, count: items.count)
        repeatRelevant[repeatIndex] = Array(repeating: false, count: slots * items.count)
        let template = plan.repeatLookups[repeatIndex]
        for (entry, item) in items.enumerated() {
            var lookup = template
            var entryPath: String { "\(field.name)[\(entry + 1)]" }
            guard case .object(let object) = item else {
                badEntries.insert(entry * 1_000 + repeatIndex)
                fail(
                    field, entry: entry,
                    ValidationIssue(path: entryPath, field: field.name, code: .type, message: L("每个条目应为键值对象", "each entry must be an object of answers")))
                continue
            }
            for (key, value) in object {
                guard let index = lookup.find(key) else {
                    issues.append(
                        (
                            (-1, 0),
                            ValidationIssue(
                                path: "\(entryPath).\(key)", field: key, code: .unknownField,
                                message: L("重复组 “\(field.name)” 中没有字段 “\(key)”", "the repeat '\(field.name)' has no field '\(key)'"))
                        ))
                    continue
                }
                readValue(form.fields[index], index: index, value, repeatIndex: repeatIndex, entry: entry) { "\(entryPath).\(key)" }
            }
        }
    }

    // MARK: Settling relevance and calculations

    mutating func settle() {
        var context = EvaluationContext(sheet: sheet, today: today, previous: previous)
        for step in plan.topOrder {
            switch step {
            case .field(let index):
                let field = form.fields[index]
                let parentRelevant = field.parent.map { topRelevant[form.fields[$0].slot] } ?? true
                topRelevant[field.slot] = settleField(field, parentRelevant: parentRelevant, context: &context) { sheet, value in
                    sheet.top[field.slot] = value
                } current: { sheet in
                    sheet.top[field.slot]
                }
            case .repeatGroup(let repeatIndex):
                let field = form.fields[form.repeats[repeatIndex]]
                let parentRelevant = field.parent.map { topRelevant[form.fields[$0].slot] } ?? true
                context.current = .empty
                let relevant = parentRelevant && (field.relevant?.bound.evaluate(context).bool ?? true)
                topRelevant[field.slot] = relevant
                if !relevant {
                    if sheet.entryCounts[repeatIndex] > 0 {
                        warnings.append(
                            ValidationIssue(
                                path: field.name, field: field.name, code: .notRelevant,
                                message: L("此重复组不需填写(显示条件不成立),条目已忽略", "this repeat is not asked (its condition is false); its entries were dropped")))
                    }
                    sheet.resetEntries(repeatIndex, count: 0)
                    repeatRelevant[repeatIndex] = []
                    continue
                }
                var entryContext = EvaluationContext(sheet: sheet, repeatIndex: repeatIndex, today: today, previous: previous)
                let width = plan.repeatSlots[repeatIndex]
                for entry in 0..<sheet.entryCounts[repeatIndex] {
                    entryContext.entry = entry
                    for index in plan.repeatOrders[repeatIndex] {
                        let inner = form.fields[index]
                        let parentRelevant: Bool
                        if let parent = inner.parent, form.fields[parent].repeatIndex == repeatIndex {
                            parentRelevant = repeatRelevant[repeatIndex][entry * width + form.fields[parent].slot]
                        } else {
                            parentRelevant = true
                        }
                        repeatRelevant[repeatIndex][entry * width + inner.slot] = settleField(inner, parentRelevant: parentRelevant, context: &entryContext) {
                            sheet, value in
                            sheet[repeatIndex, entry, inner.slot] = value
                        } current: { sheet in
                            sheet[repeatIndex, entry, inner.slot]
                        }
                    }
                }
            }
        }
        // Problems and dropped answers count only for questions that are asked.
        for item in pending {
            let slot = item.field.slot
            let relevant =
                item.repeatIndex < 0
                ? topRelevant[slot]
                : isRelevant(item.repeatIndex, item.entry, slot)
            if relevant {
                fail(item.field, entry: item.repeatIndex < 0 ? -1 : item.entry, item.issue)
            }
        }
        for (index, repeatIndex, entry) in conditionalAnswers {
            let field = form.fields[index]
            let path: String
            if repeatIndex < 0 {
                guard !topRelevant[field.slot] else { continue }
                path = field.name
            } else {
                // A repeat that is not asked at all was reported as a whole.
                guard entry < sheet.entryCounts[repeatIndex], !isRelevant(repeatIndex, entry, field.slot) else { continue }
                path = "\(form.fields[form.repeats[repeatIndex]].name)[\(entry + 1)].\(field.name)"
            }
            warnings.append(
                ValidationIssue(
                    path: path, field: field.name, code: .notRelevant,
                    message: L("此题不需回答(显示条件不成立),答案已忽略", "this question is not asked (its condition is false); the answer was dropped")))
        }
    }

    /// Whether a field of a repeat entry is asked; false for entries dropped.
    private func isRelevant(_ repeatIndex: Int, _ entry: Int, _ slot: Int) -> Bool {
        let position = entry * plan.repeatSlots[repeatIndex] + slot
        return position < repeatRelevant[repeatIndex].count && repeatRelevant[repeatIndex][position]
    }

    /// Decides a field's relevance and computes its value; returns relevance.
    private func settleField(
        _ field: Field, parentRelevant: Bool, context: inout EvaluationContext,
        store: (AnswerSheet, Value) -> Void, current: (AnswerSheet) -> Value
    ) -> Bool {
        context.current = current(sheet)
        let relevant = parentRelevant && (field.relevant?.bound.evaluate(context).bool ?? true)
        if !relevant {
            store(sheet, .empty)
        } else if let calculation = field.calculation {
            store(sheet, Self.coerce(calculation.bound.evaluate(context), to: field))
        } else if field.readOnly, let value = field.defaultValue {
            store(sheet, value)
        }
        return relevant
    }

    /// Fits a calculated value to the field's type; NaN becomes empty, as in ODK.
    static func coerce(_ value: Value, to field: Field) -> Value {
        let target: DataType?
        switch field.type {
        case .integer: target = .integer
        case .decimal: target = .decimal
        case .text: target = .text
        case .date: target = .date
        case .yesNo: target = .yesNo
        default: target = field.dataType
        }
        if value.isEmpty { return .empty }
        switch target {
        case .integer, .decimal:
            let number = value.number
            return number.isNaN ? .empty : .number(target == .integer ? number.rounded() : number)
        case .text:
            return .string(value.string)
        case .date:
            if case .date = value { return value }
            if case .string(let text) = value, let days = CivilDate.parse(text) { return .date(days) }
            if case .number(let number) = value, number.isFinite { return .date(Int(number.rounded(.down))) }
            return .empty
        case .yesNo:
            switch value {
            case .string(let text) where text == "yes" || text == "no": return value
            case .string(let text) where text == "true" || text == "false": return .string(text == "true" ? "yes" : "no")
            default: return .string(value.bool ? "yes" : "no")
            }
        case nil:
            if case .nodeset = value { return .string(value.string) }
            return value
        }
    }

    // MARK: Checking

    /// Checks answers in two passes: first that each is there and within
    /// its limits, then the constraints, skipping a constraint that reads
    /// an answer which already failed.
    mutating func check() {
        var context = EvaluationContext(sheet: sheet, today: today, previous: previous)
        for index in plan.topFields {
            let field = form.fields[index]
            guard topRelevant[field.slot] else { continue }
            if let repeatIndex = field.repeatPosition {
                checkRepeatCount(field, repeatIndex: repeatIndex)
                checkEntries(repeatIndex: repeatIndex, fields: plan.repeatFields[repeatIndex], pass: .presence)
                continue
            }
            context.current = sheet.top[field.slot]
            checkValue(field, index: index, entry: -1, context: context, pass: .presence) { field.name }
        }
        propagateFailures()
        for index in plan.topConstrained {
            let field = form.fields[index]
            guard topRelevant[field.slot] else { continue }
            context.current = sheet.top[field.slot]
            checkValue(field, index: index, entry: -1, context: context, pass: .constraints) { field.name }
        }
        for (repeatIndex, fields) in plan.repeatConstrained.enumerated() where !fields.isEmpty {
            checkEntries(repeatIndex: repeatIndex, fields: fields, pass: .constraints)
        }
        checkWarnings()
    }

    enum Pass { case presence, constraints }

    mutating func checkRepeatCount(_ field: Field, repeatIndex: Int) {
        let count = sheet.entryCounts[repeatIndex]
        if let expression = field.repeatCount {
            // repeat_count: exactly as many entries as the answers it reads say.
            let number = expression.bound.evaluate(EvaluationContext(sheet: sheet, today: today, previous: previous)).number
            if number.isFinite, number >= 0, number < 10_000 {
                let wanted = Int(number.rounded(.down))
                if requiredEntries.isEmpty { requiredEntries = Array(repeating: nil, count: form.repeats.count) }
                requiredEntries[repeatIndex] = wanted
                if count != wanted, failed.isEmpty || !failed.contains(key(index(of: field), entry: -1)) {
                    fail(
                        field, entry: -1,
                        ValidationIssue(
                            path: field.name, field: field.name, code: .repeatCount,
                            message: L(
                                "应有 \(wanted) 个条目(repeat_count:\(expression.source)),实际 \(count) 个",
                                "needs \(wanted) \(wanted == 1 ? "entry" : "entries") (repeat_count: \(expression.source)), has \(count)")))
                    return
                }
            }
        }
        if !failed.isEmpty, failed.contains(key(index(of: field), entry: -1)) { return }
        if count < field.minCount {
            fail(
                field, entry: -1,
                ValidationIssue(
                    path: field.name, field: field.name, code: .repeatCount,
                    message: L(
                        "至少需要 \(field.minCount) 个条目,实际 \(count) 个",
                        "needs at least \(field.minCount) \(field.minCount == 1 ? "entry" : "entries"), has \(count)")))
        }
        if let maxCount = field.maxCount, count > maxCount {
            fail(
                field, entry: -1,
                ValidationIssue(
                    path: field.name, field: field.name, code: .repeatCount,
                    message: L("最多 \(maxCount) 个条目,实际 \(count) 个", "allows at most \(maxCount) \(maxCount == 1 ? "entry" : "entries"), has \(count)")))
        }
    }

    mutating func checkEntries(repeatIndex: Int, fields: [Int], pass: Pass) {
        let repeatName = form.fields[form.repeats[repeatIndex]].name
        var context = EvaluationContext(sheet: sheet, repeatIndex: repeatIndex, today: today, previous: previous)
        let width = plan.repeatSlots[repeatIndex]
        for entry in 0..<sheet.entryCounts[repeatIndex] where !badEntries.contains(entry * 1_000 + repeatIndex) {
            context.entry = entry
            for innerIndex in fields {
                let inner = form.fields[innerIndex]
                guard repeatRelevant[repeatIndex][entry * width + inner.slot] else { continue }
                context.current = sheet[repeatIndex, entry, inner.slot]
                checkValue(inner, index: innerIndex, entry: entry, context: context, pass: pass) { "\(repeatName)[\(entry + 1)].\(inner.name)" }
            }
        }
    }

    mutating func checkValue(_ field: Field, index: Int, entry: Int, context: EvaluationContext, pass: Pass, path makePath: () -> String) {
        let value = context.current
        if !failed.isEmpty, failed.contains(key(index, entry: entry)) { return }
        switch pass {
        case .presence:
            if value.isEmpty {
                var required = field.alwaysRequired
                if !required, case .when(let expression) = field.requirement {
                    required = expression.bound.evaluate(context).bool
                }
                if required {
                    fail(
                        field, entry: entry,
                        ValidationIssue(
                            path: makePath(), field: field.name, code: .required,
                            message: field.requiredMessage ?? L("此题必须回答", "this question must be answered")))
                }
                return
            }
            if let minimum = field.minimum, compare(value, limit(minimum)) < 0 {
                let shown = display(minimum)
                fail(
                    field, entry: entry,
                    ValidationIssue(path: makePath(), field: field.name, code: .min, message: L("不能小于 \(shown)", "must be at least \(shown)")))
                return
            }
            if let maximum = field.maximum, compare(value, limit(maximum)) > 0 {
                let shown = display(maximum)
                let message = maximum == .today ? L("不能晚于今天(\(shown))", "cannot be after today (\(shown))") : L("不能大于 \(shown)", "must be at most \(shown)")
                fail(field, entry: entry, ValidationIssue(path: makePath(), field: field.name, code: .max, message: message))
            }
        case .constraints:
            if let filter = field.choiceFilter, !value.isEmpty, let list = field.choices {
                let chosen: [String]
                switch value {
                case .choices(let names): chosen = names
                default: chosen = [value.string]
                }
                var testing = context
                for name in chosen {
                    guard let choice = list.choices.first(where: { $0.name == name }) else { continue }
                    testing.choice = list.columns(of: choice)
                    if !filter.bound.evaluate(testing).bool {
                        fail(
                            field, entry: entry,
                            ValidationIssue(
                                path: makePath(), field: field.name, code: .choice,
                                message: L(
                                    "选项 “\(name)”(\(choice.label.zh))按前面的答案不可选(choice_filter:\(filter.source))",
                                    "choice '\(name)' (\(choice.label.text(.en))) is not offered given the earlier answers (choice_filter: \(filter.source))")))
                        return
                    }
                }
            }
            guard !value.isEmpty, let constraint = field.constraint else { return }
            if !failed.isEmpty, readsFailedAnswer(constraint, entry: entry, in: field.repeatIndex) { return }
            if !constraint.bound.evaluate(context).bool {
                fail(
                    field, entry: entry,
                    ValidationIssue(
                        path: makePath(), field: field.name, code: .constraint,
                        message: field.constraintMessage ?? L("答案不符合规则:\(constraint.source)", "the answer breaks the rule: \(constraint.source)")))
            }
        }
    }

    /// Whether the answer of a field (at an entry; -1 at the top level) has an error.
    func hasFailed(_ fieldIndex: Int, entry: Int) -> Bool {
        !failed.isEmpty && failed.contains(key(fieldIndex, entry: entry))
    }

    /// Whether an expression reads an answer that has an error (at `entry`
    /// of the repeat it lives in).
    func readsFailed(_ expression: FormExpression, entry: Int, in repeatIndex: Int?) -> Bool {
        !failed.isEmpty && readsFailedAnswer(expression, entry: entry, in: repeatIndex)
    }

    /// Whether an expression reads an answer that already has an error.
    private func readsFailedAnswer(_ expression: FormExpression, entry: Int, in repeatIndex: Int?) -> Bool {
        for name in expression.references {
            guard let target = form.fieldIndex[name] else { continue }
            let targetRepeat = form.fields[target].repeatIndex
            if targetRepeat == nil {
                if failed.contains(key(target, entry: -1)) { return true }
            } else if targetRepeat == repeatIndex {
                if failed.contains(key(target, entry: entry)) { return true }
            } else if let other = targetRepeat {
                // A field of another repeat, read across its entries.
                for each in 0..<sheet.entryCounts[other] where failed.contains(key(target, entry: each)) { return true }
            }
        }
        return false
    }

    /// Marks calculations that read a failed answer as failed too, so that a
    /// constraint reading the calculation is skipped like one reading the
    /// answer itself.
    private mutating func propagateFailures() {
        guard !failed.isEmpty else { return }
        var changed = true
        while changed {
            changed = false
            for (index, field) in form.fields.enumerated() {
                guard let calculation = field.calculation else { continue }
                if let repeatIndex = field.repeatIndex {
                    for entry in 0..<sheet.entryCounts[repeatIndex] where !failed.contains(key(index, entry: entry)) {
                        if readsFailedAnswer(calculation, entry: entry, in: repeatIndex) {
                            failed.insert(key(index, entry: entry))
                            changed = true
                        }
                    }
                } else if !failed.contains(key(index, entry: -1)), readsFailedAnswer(calculation, entry: -1, in: nil) {
                    failed.insert(key(index, entry: -1))
                    changed = true
                }
            }
        }
    }

    private func limit(_ limit: Limit) -> Double {
        switch limit {
        case .number(let value): return value
        case .date(let days): return Double(days)
        case .today: return Double(today)
        }
    }

    private func display(_ limit: Limit) -> String {
        switch limit {
        case .number(let value): return Value.format(value)
        case .date(let days): return CivilDate.format(days: days)
        case .today: return CivilDate.format(days: today)
        }
    }

    private func compare(_ value: Value, _ limit: Double) -> Int {
        let number: Double
        if case .date(let days) = value { number = Double(days) } else { number = value.number }
        return number < limit ? -1 : (number > limit ? 1 : 0)
    }

    // MARK: Output

    func relevantTopValues() -> [Value] {
        var values = sheet.top
        for index in values.indices where !topRelevant[index] { values[index] = .empty }
        return values
    }

    func output() -> JSONObject {
        var result = JSONObject(minimumCapacity: plan.topFields.count)
        for index in plan.topFields {
            let field = form.fields[index]
            guard topRelevant[field.slot] else { continue }
            if field.type == .repeat {
                guard let repeatIndex = field.repeatPosition, sheet.entryCounts[repeatIndex] > 0 else { continue }
                let width = plan.repeatSlots[repeatIndex]
                var entries: [JSONValue] = []
                entries.reserveCapacity(sheet.entryCounts[repeatIndex])
                for entry in 0..<sheet.entryCounts[repeatIndex] {
                    var object = JSONObject(minimumCapacity: width)
                    for innerIndex in plan.repeatFields[repeatIndex] {
                        let inner = form.fields[innerIndex]
                        guard repeatRelevant[repeatIndex][entry * width + inner.slot], let json = sheet[repeatIndex, entry, inner.slot].json else { continue }
                        object.appendUnique(inner.name, json)
                    }
                    entries.append(.object(object))
                }
                result.appendUnique(field.name, .array(entries))
            } else if let json = sheet.top[field.slot].json {
                result.appendUnique(field.name, json)
            }
        }
        return result
    }
}

/// A survey as the engine settled it: the validation result, and for each
/// field whether it is asked and what its value is.
public struct SettledSurvey: @unchecked Sendable {
    public let form: Form
    public let result: ValidationResult
    let sheet: AnswerSheet
    let topRelevant: [Bool]
    let repeatRelevant: [[Bool]]
    /// For each repeat with a `repeat_count`, the entries it must have.
    let requiredEntries: [Int?]

    /// How many entries a repeat must have (its `repeat_count`), if it says.
    public func requiredEntries(of repeatField: Field) -> Int? {
        repeatField.repeatPosition.flatMap { $0 < requiredEntries.count ? requiredEntries[$0] : nil }
    }

    /// Whether the field is asked: at the top level (`entry` nil) or in one
    /// entry of its repeat.
    public func isRelevant(_ field: Field, entry: Int? = nil) -> Bool {
        guard let repeatIndex = field.repeatIndex else { return topRelevant[field.slot] }
        guard let entry, entry < sheet.entryCounts[repeatIndex] else { return false }
        return repeatRelevant[repeatIndex][entry * sheet.widths[repeatIndex] + field.slot]
    }

    /// The number of entries a repeat has.
    public func entryCount(of repeatField: Field) -> Int {
        guard let position = repeatField.repeatPosition else { return 0 }
        return sheet.entryCounts[position]
    }

    /// The settled value of a field (empty when it is not asked).
    public func value(of field: Field, entry: Int? = nil) -> Value {
        guard let repeatIndex = field.repeatIndex else { return sheet.top[field.slot] }
        guard let entry, entry < sheet.entryCounts[repeatIndex] else { return .empty }
        return sheet[repeatIndex, entry, field.slot]
    }

    /// The choices a select question offers given the other answers: those
    /// its `choice_filter` lets through, or its whole list without one.
    public func offeredChoices(for field: Field, entry: Int? = nil, today: Int) -> ChoiceList? {
        guard let list = field.choices else { return nil }
        guard let filter = field.choiceFilter else { return list }
        var context = EvaluationContext(sheet: sheet, repeatIndex: field.repeatIndex ?? -1, entry: entry ?? 0, current: value(of: field, entry: entry), today: today)
        let offered = list.choices.filter { choice in
            context.choice = list.columns(of: choice)
            return filter.bound.evaluate(context).bool
        }
        return ChoiceList(name: list.name, choices: offered, columnNames: list.columnNames)
    }

    /// The errors of one field path, as `ValidationIssue.path` writes it.
    public func issues(at path: String) -> [ValidationIssue] {
        result.issues.filter { $0.path == path }
    }
}
