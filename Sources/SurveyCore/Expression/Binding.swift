import Foundation

/// What a `${name}` stands for once it is bound to a form.
public enum Symbol: Sendable, Equatable {
    /// A question or calculation outside any repeat.
    case top(slot: Int)
    /// A question inside repeat `repeat`, at `slot` of each entry.
    case inner(repeat: Int, slot: Int)
    /// A repeat itself: its entries (so `count(${cadres})` works).
    case repeatGroup(Int)
    /// A form-level constant from `settings.constants`.
    case constant(Value)
}

/// A regular expression compiled once; NSRegularExpression is immutable and
/// safe to share between threads.
public final class CompiledRegex: @unchecked Sendable {
    let regex: NSRegularExpression

    init(_ regex: NSRegularExpression) {
        self.regex = regex
    }

    func matches(_ text: String) -> Bool {
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        return regex.firstMatch(in: text, options: [], range: range) != nil
    }
}

/// An expression bound to a form: references resolved to storage slots,
/// function names to `Function`, literal regular expressions compiled.
public indirect enum BoundExpression: Sendable {
    case constant(Value)
    case top(Int)
    /// A field of the repeat entry being evaluated.
    case sameEntry(Int)
    /// A field of a repeat seen from outside that repeat: a node-set.
    case acrossEntries(repeat: Int, slot: Int)
    case entries(repeat: Int)
    case current
    case negate(BoundExpression)
    case binary(BinaryOperator, BoundExpression, BoundExpression)
    case call(Function, [BoundExpression])
    case literalRegex(BoundExpression, CompiledRegex)
    /// `previous(${name})`: the top-level value at this slot in the same
    /// unit's survey of the previous period (the baseline), empty without one.
    case previous(Int)
    /// A column of the choice a `choice_filter` tests, by its position in
    /// `ChoiceList.columnNames`.
    case choiceColumn(Int)
    /// `position(..)`: the number of the repeat entry, from 1.
    case position
    /// `indexed-repeat(${field}, ${repeat}, n)`: the field in entry n.
    case indexedRepeat(repeat: Int, slot: Int, index: BoundExpression)
    /// `once(x)`: the value already held (a calculation's value as sent),
    /// else x.
    case once(BoundExpression)
    /// `uuid()` (a random UUID) or `uuid(n)` (n random letters and digits).
    case uuid(BoundExpression?)
    /// `jr:choice-name(value, '${field}')`: the label of a choice of the
    /// field's list, in Chinese.
    case choiceName(BoundExpression, ChoiceList)
}

/// Binds syntax trees against a resolver. `scope` is the repeat the
/// expression lives in, or nil at the top level.
public struct ExpressionBinder {
    public var resolve: (String) -> Symbol?
    public var scope: Int?
    /// The columns a bare name may name, in a `choice_filter`.
    public var choiceColumns: [String]?
    /// The choice list of a field, for `jr:choice-name()`.
    public var choiceList: ((String) -> ChoiceList?)?

    /// Functions bound here, not as `Function`: their arguments name fields
    /// or repeat entries instead of being values.
    public static let structuralNames: Set<String> = ["previous", "position", "indexed-repeat", "once", "uuid", "jr:choice-name"]

    /// The function that reads last period's answer: bound here rather
    /// than as a `Function`, since its argument names a field instead of
    /// being evaluated.
    public static let previousName = "previous"

    public init(scope: Int? = nil, resolve: @escaping (String) -> Symbol?) {
        self.scope = scope
        self.resolve = resolve
    }

    /// Binds `tree`, collecting every problem rather than stopping at the
    /// first. The expression is usable only when the list is empty.
    public func bind(_ tree: SyntaxTree) -> (expression: BoundExpression, errors: [ExpressionError]) {
        var errors: [ExpressionError] = []
        let bound = bind(tree, errors: &errors)
        return (bound, errors)
    }

    private func bind(_ tree: SyntaxTree, errors: inout [ExpressionError]) -> BoundExpression {
        switch tree {
        case .number(let value): return .constant(.number(value))
        case .string(let value): return .constant(.string(value))
        case .current: return .current
        case .parent(let column):
            errors.append(ExpressionError(column: column, message: L("“..” 只能用在 position(..) 中", "'..' can only be used as position(..)")))
            return .constant(.empty)
        case .choiceColumn(let name, let column):
            if let columns = choiceColumns, let index = columns.firstIndex(of: name) { return .choiceColumn(index) }
            if let columns = choiceColumns {
                errors.append(
                    ExpressionError(
                        column: column,
                        message: L(
                            "选项表没有 “\(name)” 列(可用:\(columns.joined(separator: "、")));引用字段请写 ${\(name)}",
                            "the choice list has no column '\(name)' (it has \(columns.joined(separator: ", "))); to refer to a field write ${\(name)}")))
            } else {
                errors.append(
                    ExpressionError(column: column, message: L("“\(name)” 不是函数调用;引用字段请写 ${\(name)}", "'\(name)' is not a function call; to refer to a field write ${\(name)}")))
            }
            return .constant(.empty)
        case .call(let name, let arguments, let column) where Self.structuralNames.contains(name) && name != Self.previousName:
            return bindStructural(name, arguments, column: column, errors: &errors)
        case .reference(let name, let column):
            switch resolve(name) {
            case .top(let slot): return .top(slot)
            case .inner(let repeatIndex, let slot):
                return repeatIndex == scope ? .sameEntry(slot) : .acrossEntries(repeat: repeatIndex, slot: slot)
            case .repeatGroup(let index): return .entries(repeat: index)
            case .constant(let value): return .constant(value)
            case nil:
                errors.append(ExpressionError(column: column, message: L("引用了不存在的字段 ${\(name)}", "refers to ${\(name)}, which does not exist")))
                return .constant(.empty)
            }
        case .negate(let operand):
            return .negate(bind(operand, errors: &errors))
        case .binary(let op, let lhs, let rhs):
            return .binary(op, bind(lhs, errors: &errors), bind(rhs, errors: &errors))
        case .call(let name, let arguments, let column) where name == Self.previousName:
            guard arguments.count == 1, case .reference(let target, let targetColumn) = arguments[0] else {
                errors.append(
                    ExpressionError(
                        column: column,
                        message: L("previous() 需要一个字段引用,如 previous(${members_total})", "previous() takes one field reference, such as previous(${members_total})")))
                return .constant(.empty)
            }
            switch resolve(target) {
            case .top(let slot): return .previous(slot)
            case .inner, .repeatGroup:
                errors.append(
                    ExpressionError(
                        column: targetColumn,
                        message: L("previous() 只能读取重复组以外的字段,${\(target)} 在重复组中", "previous() reads only fields outside repeats; ${\(target)} is in a repeat")))
            case .constant:
                errors.append(ExpressionError(column: targetColumn, message: L("previous() 读取的是字段,${\(target)} 是常量", "previous() reads a field; ${\(target)} is a constant")))
            case nil:
                errors.append(ExpressionError(column: targetColumn, message: L("引用了不存在的字段 ${\(target)}", "refers to ${\(target)}, which does not exist")))
            }
            return .constant(.empty)
        case .call(let name, let arguments, let column):
            guard let function = Function(rawValue: name) else {
                errors.append(ExpressionError(column: column, message: L("未知函数 \(name)()", "unknown function \(name)()")))
                return .constant(.empty)
            }
            let (least, most) = function.arity
            if arguments.count < least || (most.map { arguments.count > $0 } ?? false) {
                errors.append(
                    ExpressionError(
                        column: column,
                        message: L(
                            "\(name)() 需要\(function.arityText.zh),实际为 \(arguments.count) 个",
                            "\(name)() takes \(function.arityText.en ?? ""), not \(arguments.count)")))
                return .constant(.empty)
            }
            let bound = arguments.map { bind($0, errors: &errors) }
            if function == .regex, case .string(let pattern) = arguments[1] {
                do {
                    return .literalRegex(bound[0], CompiledRegex(try NSRegularExpression(pattern: pattern)))
                } catch {
                    errors.append(ExpressionError(column: column, message: L("正则表达式无效:\(pattern)", "invalid regular expression: \(pattern)")))
                    return .constant(.empty)
                }
            }
            return .call(function, bound)
        }
    }

    private func bindStructural(_ name: String, _ arguments: [SyntaxTree], column: Int, errors: inout [ExpressionError]) -> BoundExpression {
        func fail(_ message: LocalizedText) -> BoundExpression {
            errors.append(ExpressionError(column: column, message: message))
            return .constant(.empty)
        }
        switch name {
        case "position":
            guard arguments.isEmpty || (arguments.count == 1 && { if case .parent = arguments[0] { true } else { false } }()) else {
                return fail(L("position() 只接受 .. :position(..) 是当前重复组条目的序号", "position() takes only ..: position(..) is the number of the current repeat entry"))
            }
            guard scope != nil else { return fail(L("position(..) 只能用在重复组内的字段上", "position(..) can only be used by a field inside a repeat")) }
            return .position
        case "indexed-repeat":
            guard arguments.count == 3, case .reference(let fieldName, let fieldColumn) = arguments[0], case .reference(let repeatName, let repeatColumn) = arguments[1]
            else {
                return fail(
                    L("indexed-repeat() 的写法是 indexed-repeat(${字段}, ${重复组}, 序号)", "indexed-repeat() is written indexed-repeat(${field}, ${repeat}, number)"))
            }
            guard case .repeatGroup(let repeatIndex) = resolve(repeatName) else {
                errors.append(ExpressionError(column: repeatColumn, message: L("${\(repeatName)} 不是重复组", "${\(repeatName)} is not a repeat")))
                return .constant(.empty)
            }
            guard case .inner(let fieldRepeat, let slot) = resolve(fieldName), fieldRepeat == repeatIndex else {
                errors.append(
                    ExpressionError(column: fieldColumn, message: L("${\(fieldName)} 不在重复组 ${\(repeatName)} 中", "${\(fieldName)} is not in the repeat ${\(repeatName)}")))
                return .constant(.empty)
            }
            return .indexedRepeat(repeat: repeatIndex, slot: slot, index: bind(arguments[2], errors: &errors))
        case "once":
            guard arguments.count == 1 else { return fail(L("once() 需要 1 个参数", "once() takes 1 argument")) }
            return .once(bind(arguments[0], errors: &errors))
        case "uuid":
            guard arguments.count <= 1 else { return fail(L("uuid() 需要 0 或 1 个参数", "uuid() takes 0 or 1 argument")) }
            return .uuid(arguments.first.map { bind($0, errors: &errors) })
        default:  // jr:choice-name
            guard arguments.count == 2, case .string(let target) = arguments[1] else {
                return fail(
                    L("jr:choice-name() 的写法是 jr:choice-name(值, '${字段}')", "jr:choice-name() is written jr:choice-name(value, '${field}')"))
            }
            var fieldName = target.trimmingCharacters(in: .whitespaces)
            if fieldName.hasPrefix("${"), fieldName.hasSuffix("}") { fieldName = String(fieldName.dropFirst(2).dropLast()) }
            guard let list = choiceList?(fieldName) else {
                return fail(L("jr:choice-name() 的第二个参数应为选择题,如 '${\(fieldName)}'", "the second argument of jr:choice-name() must name a select question, such as '${\(fieldName)}'"))
            }
            return .choiceName(bind(arguments[0], errors: &errors), list)
        }
    }
}

extension BoundExpression {
    /// Whether `once()` occurs anywhere in the expression.
    static func usesOnce(_ expression: BoundExpression) -> Bool {
        switch expression {
        case .once: return true
        case .negate(let inner), .literalRegex(let inner, _), .choiceName(let inner, _), .indexedRepeat(_, _, let inner): return usesOnce(inner)
        case .uuid(let inner): return inner.map(usesOnce) ?? false
        case .binary(_, let lhs, let rhs): return usesOnce(lhs) || usesOnce(rhs)
        case .call(_, let arguments): return arguments.contains(where: usesOnce)
        case .constant, .top, .sameEntry, .acrossEntries, .entries, .current, .previous, .choiceColumn, .position: return false
        }
    }
}
