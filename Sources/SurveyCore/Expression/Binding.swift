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
}

/// Binds syntax trees against a resolver. `scope` is the repeat the
/// expression lives in, or nil at the top level.
public struct ExpressionBinder {
    public var resolve: (String) -> Symbol?
    public var scope: Int?

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
}
