/// The kinds of question and structure a form may contain (XLSForm's types).
public enum FieldType: Sendable, Equatable, CustomStringConvertible {
    case integer
    case decimal
    case text
    case date
    case selectOne(list: String)
    case selectMultiple(list: String)
    case yesNo
    case note
    case calculate
    case group
    case `repeat`

    /// Reads a `type:` value such as `integer` or `select_one branch_type`.
    public init?(parsing text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        switch (parts.first.map(String.init), parts.count) {
        case ("integer", 1): self = .integer
        case ("decimal", 1): self = .decimal
        case ("text", 1): self = .text
        case ("date", 1): self = .date
        case ("yes_no", 1): self = .yesNo
        case ("note", 1): self = .note
        case ("calculate", 1): self = .calculate
        case ("group", 1): self = .group
        case ("repeat", 1): self = .repeat
        case ("select_one", 2): self = .selectOne(list: String(parts[1]))
        case ("select_multiple", 2): self = .selectMultiple(list: String(parts[1]))
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .integer: return "integer"
        case .decimal: return "decimal"
        case .text: return "text"
        case .date: return "date"
        case .selectOne(let list): return "select_one \(list)"
        case .selectMultiple(let list): return "select_multiple \(list)"
        case .yesNo: return "yes_no"
        case .note: return "note"
        case .calculate: return "calculate"
        case .group: return "group"
        case .repeat: return "repeat"
        }
    }

    /// Whether the field holds an answer (notes, groups and repeats do not).
    public var holdsValue: Bool {
        switch self {
        case .note, .group, .repeat: return false
        default: return true
        }
    }

    /// The choice list a select question draws from.
    public var choiceList: String? {
        switch self {
        case .selectOne(let list), .selectMultiple(let list): return list
        case .yesNo: return ChoiceList.yesNoName
        default: return nil
        }
    }

    public var isNumeric: Bool { self == .integer || self == .decimal }
}

/// How an answer is read: a field type without payload.
enum AnswerKind: Sendable {
    case integer, decimal, text, date, selectOne, selectMultiple, yesNo, none

    init(_ type: FieldType) {
        switch type {
        case .integer: self = .integer
        case .decimal: self = .decimal
        case .text, .calculate: self = .text
        case .date: self = .date
        case .selectOne: self = .selectOne
        case .selectMultiple: self = .selectMultiple
        case .yesNo: self = .yesNo
        case .note, .group, .repeat: self = .none
        }
    }
}

/// The type a calculation's result is stored as (`data_type:`).
public enum DataType: String, Sendable, CaseIterable {
    case integer, decimal, text, date
    case yesNo = "yes_no"
}

/// A bound on a number or date answer (`min:` / `max:`).
public enum Limit: Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case date(Int)
    /// The day the survey is checked: `max: today`.
    case today

    public var description: String {
        switch self {
        case .number(let value): return Value.format(value)
        case .date(let days): return CivilDate.format(days: days)
        case .today: return "today"
        }
    }
}

/// An expression as written in the form, with its bound, runnable form.
/// A class, so that the validator passes it around with one reference count.
public final class FormExpression: Sendable {
    public let source: String
    public let bound: BoundExpression
    /// The names it refers to, for dependency order and cycle checks.
    public let references: [String]
    /// The names it reads through `previous(…)`, last period's answers.
    public let previousReferences: [String]
    public var readsPrevious: Bool { !previousReferences.isEmpty }

    public init(source: String, bound: BoundExpression, references: [String], previousReferences: [String] = []) {
        self.source = source
        self.bound = bound
        self.references = references
        self.previousReferences = previousReferences
    }
}

/// Whether a question must be answered.
public enum Requirement: Sendable {
    case optional
    case required
    /// Required when the expression is true.
    case when(FormExpression)
}

/// One entry of the form's `survey:` tree: a question, note, calculation,
/// group or repeat. A class, so that the validator's many look-ups share
/// one immutable instance instead of copying it.
public final class Field: Sendable {
    public let name: String
    public let type: FieldType
    public let label: LocalizedText?
    public let hint: LocalizedText?
    /// The unit of measure shown with the question (人, 元, m²).
    public let measure: LocalizedText?
    public let requirement: Requirement
    public let requiredMessage: LocalizedText?
    public let relevant: FormExpression?
    public let constraint: FormExpression?
    public let constraintMessage: LocalizedText?
    public let calculation: FormExpression?
    public let dataType: DataType?
    public let defaultValue: Value?
    public let readOnly: Bool
    public let minimum: Limit?
    public let maximum: Limit?
    /// Least and most entries of a repeat.
    public let minCount: Int
    public let maxCount: Int?
    /// How many entries a repeat has, worked out from other answers
    /// (`repeat_count`, XLSForm's `jr:count`).
    public let repeatCount: FormExpression?
    /// Indices into `Form.fields` of the fields inside a group or repeat.
    public let children: [Int]
    /// The index of the enclosing group or repeat.
    public let parent: Int?
    /// The repeat this field is inside, as an index into `Form.repeats`.
    public let repeatIndex: Int?
    /// For a repeat, its own position in `Form.repeats`.
    public let repeatPosition: Int?
    /// Where the field's value lives within its scope (top level or repeat entry).
    public let slot: Int
    /// The line of the form file where the field starts.
    public let line: Int
    /// The choice list of a select or yes/no question, resolved at load.
    public let choices: ChoiceList?
    /// Whether a person answers this field: it holds a value that the
    /// engine does not compute.
    public let takesAnswer: Bool
    /// Soft checks (`warnings:`): doubtful answers to confirm, never errors.
    public let warnings: [SoftCheck]
    /// Which choices a select question offers, given the other answers
    /// (`choice_filter`): a choice is offered when this is true for it.
    public let choiceFilter: FormExpression?
    /// Whether a calculation keeps the value it was sent with (`once()`).
    public let keepsSentValue: Bool
    /// Whether a new survey starts from last period's answer (`prefill:
    /// previous`); for a repeat, whether its entries carry over.
    public let prefill: Bool
    /// The type without its choice list's name, for the validator's hot path.
    let answerKind: AnswerKind
    /// Whether the field must always be answered (when it is asked).
    let alwaysRequired: Bool

    init(
        name: String,
        type: FieldType,
        label: LocalizedText?,
        hint: LocalizedText?,
        measure: LocalizedText?,
        requirement: Requirement,
        requiredMessage: LocalizedText?,
        relevant: FormExpression?,
        constraint: FormExpression?,
        constraintMessage: LocalizedText?,
        calculation: FormExpression?,
        dataType: DataType?,
        defaultValue: Value?,
        readOnly: Bool,
        minimum: Limit?,
        maximum: Limit?,
        minCount: Int,
        maxCount: Int?,
        children: [Int],
        parent: Int?,
        repeatIndex: Int?,
        repeatPosition: Int?,
        slot: Int,
        line: Int,
        choices: ChoiceList?,
        warnings: [SoftCheck] = [],
        prefill: Bool = false,
        choiceFilter: FormExpression? = nil,
        repeatCount: FormExpression? = nil
    ) {
        self.repeatCount = repeatCount
        self.warnings = warnings
        self.choiceFilter = choiceFilter
        keepsSentValue = calculation.map { BoundExpression.usesOnce($0.bound) } ?? false
        self.prefill = prefill
        self.name = name
        self.type = type
        self.label = label
        self.hint = hint
        self.measure = measure
        self.requirement = requirement
        self.requiredMessage = requiredMessage
        self.relevant = relevant
        self.constraint = constraint
        self.constraintMessage = constraintMessage
        self.calculation = calculation
        self.dataType = dataType
        self.defaultValue = defaultValue
        self.readOnly = readOnly
        self.minimum = minimum
        self.maximum = maximum
        self.minCount = minCount
        self.maxCount = maxCount
        self.children = children
        self.parent = parent
        self.repeatIndex = repeatIndex
        self.repeatPosition = repeatPosition
        self.slot = slot
        self.line = line
        self.choices = choices
        takesAnswer = type.holdsValue && calculation == nil && !(readOnly && defaultValue != nil)
        answerKind = AnswerKind(type)
        if case .required = requirement { alwaysRequired = true } else { alwaysRequired = false }
    }

    /// Whether the engine, not the person, supplies the value.
    public var isComputed: Bool { calculation != nil || (readOnly && defaultValue != nil) }
}

/// A choice of a `select_one` or `select_multiple` list.
public struct Choice: Sendable, Equatable {
    public let name: String
    public let label: LocalizedText
    /// The choice's other columns (`township: "130102001"`), which a
    /// `choice_filter` reads.
    public let properties: [String: String]

    public init(name: String, label: LocalizedText, properties: [String: String] = [:]) {
        self.name = name
        self.label = label
        self.properties = properties
    }
}

/// A named list of choices.
public final class ChoiceList: Sendable {
    public static let yesNoName = "yes_no"
    public let name: String
    public let choices: [Choice]
    /// What a bare name in a `choice_filter` may name: `name`, `label` and
    /// the other columns, in the order first written.
    public let columnNames: [String]
    private let names: [String]
    private let lookup: Set<String>

    public init(name: String, choices: [Choice], columnNames: [String]? = nil) {
        self.name = name
        self.choices = choices
        names = choices.map(\.name)
        lookup = Set(names)
        var columns = ["name", "label"]
        for choice in choices {
            for key in choice.properties.keys.sorted() where !columns.contains(key) { columns.append(key) }
        }
        self.columnNames = columnNames ?? columns
    }

    /// A choice's columns as a `choice_filter` reads them, in `columnNames` order.
    public func columns(of choice: Choice) -> [Value] {
        columnNames.map { column in
            switch column {
            case "name": return .string(choice.name)
            case "label": return .string(choice.label.zh)
            default: return choice.properties[column].map { .string($0) } ?? .empty
            }
        }
    }

    /// Whether `name` is one of the choices. Short lists are scanned:
    /// comparing a few short strings is cheaper than hashing one.
    public func contains(_ name: String) -> Bool {
        if names.count <= 12 {
            for candidate in names where candidate == name { return true }
            return false
        }
        return lookup.contains(name)
    }

    public func label(of name: String) -> LocalizedText? {
        choices.first { $0.name == name }?.label
    }

    /// The built-in list behind the `yes_no` type.
    public static let yesNo = ChoiceList(
        name: yesNoName,
        choices: [Choice(name: "yes", label: L("是", "Yes")), Choice(name: "no", label: L("否", "No"))])
}

/// The kinds of period a form is filled for.
public enum PeriodType: String, Sendable, CaseIterable, Codable {
    case annual, quarterly, monthly

    /// 年度 / annual, as messages name it.
    public var label: LocalizedText {
        switch self {
        case .annual: return L("年度", "annual")
        case .quarterly: return L("季度", "quarterly")
        case .monthly: return L("月度", "monthly")
        }
    }
}

/// A survey form: its settings, its questions and the indicators the county
/// computes from it. Made by `FormLoader`, which checks it whole.
public struct Form: Sendable {
    public let id: String
    public let version: String
    public let title: LocalizedText
    public let periodType: PeriodType
    public let unitLevel: UnitLevel
    public let defaultLanguage: Language
    /// Form-level constants, such as the weak-economy threshold, in file order.
    public let constants: [(name: String, value: Value)]
    /// The day each period's surveys are due (`settings.due`), by period.
    public let dueDates: [String: Int]
    /// The levels that approve a survey, lowest first (`settings.review`):
    /// a survey is accepted once the last of them approves it.
    public let reviewLevels: [UnitLevel]
    /// The numbers the server screens for outliers and large changes
    /// from last period (`settings.outliers`), if any.
    public let outliers: OutlierSettings?
    /// Every field in document order, groups and repeats included.
    public let fields: [Field]
    /// Indices of the top-level entries of `survey:`.
    public let rootFields: [Int]
    /// Field indices of the repeats, in document order.
    public let repeats: [Int]
    public let choiceLists: [String: ChoiceList]
    public let indicators: [Indicator]
    /// The report page's charts.
    public let charts: [Chart]
    /// The file the form was read from.
    public let file: String
    /// SHA-256 of the file's bytes, hex: devices skip forms they already hold.
    public let contentHash: String
    let fieldIndex: [String: Int]
    let plan: ValidationPlan

    /// The field called `name`, if any.
    public func field(named name: String) -> Field? {
        fieldIndex[name].map { fields[$0] }
    }

    /// The choice list a select field uses.
    public func choices(for field: Field) -> ChoiceList? {
        field.choices
    }

    /// The path of enclosing groups, outermost first, for section headings.
    public func ancestors(of index: Int) -> [Int] {
        var result: [Int] = []
        var current = fields[index].parent
        while let parent = current {
            result.insert(parent, at: 0)
            current = fields[parent].parent
        }
        return result
    }
}

extension Form {
    /// The instant before which a survey of `period` is on time (the end of
    /// its due day, `Period.deadline`), in ms since 1970; nil when the form
    /// sets no due date for the period.
    public func deadline(of period: String) -> Int64? {
        dueDates[period].map { Period.deadline(dueDay: $0) }
    }
}
