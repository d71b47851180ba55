import Foundation

/// A problem in an expression, at a 1-based column (counted in characters).
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var column: Int
    public var message: LocalizedText

    public init(column: Int, message: LocalizedText) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message.text(.en))" }
}

/// The binary operators, in XPath 1.0 spelling.
public enum BinaryOperator: String, Sendable, CaseIterable {
    case or, and
    case equal = "="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case plus = "+"
    case minus = "-"
    case times = "*"
    case div, mod

    /// Binding strength: a larger number binds tighter (XPath 1.0 §3).
    var precedence: Int {
        switch self {
        case .or: return 1
        case .and: return 2
        case .equal, .notEqual: return 3
        case .less, .lessOrEqual, .greater, .greaterOrEqual: return 4
        case .plus, .minus: return 5
        case .times, .div, .mod: return 6
        }
    }
}

/// An expression as written, before its references are bound to a form.
public indirect enum SyntaxTree: Sendable, Equatable {
    case number(Double)
    case string(String)
    /// `${name}`, with the column of the `$`.
    case reference(String, column: Int)
    /// `.`: the answer being checked or computed.
    case current(column: Int)
    case negate(SyntaxTree)
    case binary(BinaryOperator, SyntaxTree, SyntaxTree)
    case call(String, [SyntaxTree], column: Int)
    /// A bare name in a `choice_filter`: a column of the choice being
    /// tested (`township = ${township}`).
    case choiceColumn(String, column: Int)
    /// `..`: the repeat entry `.` is in, as `position(..)` reads it.
    case parent(column: Int)

    /// Every `${name}` the expression mentions, in order of appearance.
    public var references: [String] {
        var names: [String] = []
        collectReferences(into: &names)
        return names
    }

    /// The names read through `previous(…)`: last period's answers, which
    /// this survey's order of computation does not depend on.
    public var previousReferences: [String] {
        var names: [String] = []
        collectReferences(into: &names, previous: true)
        return names
    }

    private func collectReferences(into names: inout [String], previous: Bool = false, inPrevious: Bool = false) {
        switch self {
        case .number, .string, .current, .choiceColumn, .parent: break
        case .reference(let name, _): if previous == inPrevious { names.append(name) }
        case .negate(let operand): operand.collectReferences(into: &names, previous: previous, inPrevious: inPrevious)
        case .binary(_, let lhs, let rhs):
            lhs.collectReferences(into: &names, previous: previous, inPrevious: inPrevious)
            rhs.collectReferences(into: &names, previous: previous, inPrevious: inPrevious)
        case .call(let name, let arguments, _):
            let inside = inPrevious || name == ExpressionBinder.previousName
            for argument in arguments { argument.collectReferences(into: &names, previous: previous, inPrevious: inside) }
        }
    }
}

/// Tokens of the expression language.
enum Token: Equatable {
    case number(Double)
    case string(String)
    case reference(String)
    case dot
    case dotDot
    case name(String)
    case leftParen, rightParen, comma
    case op(BinaryOperator)
    case end
}

struct PositionedToken {
    var token: Token
    var column: Int
}

/// Splits an expression into tokens. Columns count Unicode characters from 1.
struct Lexer {
    private let characters: [Character]
    private var index = 0

    init(_ text: String) {
        characters = Array(text)
    }

    mutating func tokenize() throws(ExpressionError) -> [PositionedToken] {
        var tokens: [PositionedToken] = []
        while true {
            let token = try next(previous: tokens.last?.token)
            tokens.append(token)
            if token.token == .end { return tokens }
        }
    }

    /// Whether the previous token ends an operand, which decides if a name
    /// such as `div` or `and` is an operator (XPath 1.0 §3.7).
    private static func endsOperand(_ token: Token?) -> Bool {
        switch token {
        case .number, .string, .reference, .dot, .dotDot, .rightParen: return true
        default: return false
        }
    }

    private mutating func next(previous: Token?) throws(ExpressionError) -> PositionedToken {
        while index < characters.count, characters[index].isWhitespace { index += 1 }
        let column = index + 1
        guard index < characters.count else { return PositionedToken(token: .end, column: column) }
        let c = characters[index]
        func single(_ token: Token) -> PositionedToken {
            index += 1
            return PositionedToken(token: token, column: column)
        }
        switch c {
        case "(": return single(.leftParen)
        case ")": return single(.rightParen)
        case ",": return single(.comma)
        case "+": return single(.op(.plus))
        case "-": return single(.op(.minus))
        case "*": return single(.op(.times))
        case "=":
            if peek(1) == "=" {
                throw ExpressionError(column: column, message: L("请用 = 表示相等,而不是 ==", "use = for equality, not =="))
            }
            return single(.op(.equal))
        case "!":
            if peek(1) == "=" {
                index += 2
                return PositionedToken(token: .op(.notEqual), column: column)
            }
            throw ExpressionError(column: column, message: L("请用 not(...) 表示否定,而不是 !", "use not(...) for negation, not !"))
        case "<":
            if peek(1) == "=" {
                index += 2
                return PositionedToken(token: .op(.lessOrEqual), column: column)
            }
            return single(.op(.less))
        case ">":
            if peek(1) == "=" {
                index += 2
                return PositionedToken(token: .op(.greaterOrEqual), column: column)
            }
            return single(.op(.greater))
        case "&", "|":
            let word = c == "&" ? "and" : "or"
            throw ExpressionError(column: column, message: L("请用 \(word),而不是 \(c)", "use \(word), not \(c)"))
        case "/":
            throw ExpressionError(column: column, message: L("除法请用 div;不支持路径表达式", "use div for division; paths are not supported"))
        case "\"", "'":
            return PositionedToken(token: .string(try readString(quote: c, column: column)), column: column)
        case "$":
            return PositionedToken(token: .reference(try readReference(column: column)), column: column)
        case ".":
            if let next = peek(1), next.isASCII, next.isNumber {
                return PositionedToken(token: .number(try readNumber(column: column)), column: column)
            }
            if peek(1) == "." {
                index += 2
                return PositionedToken(token: .dotDot, column: column)
            }
            return single(.dot)
        case _ where c.isASCII && c.isNumber:
            return PositionedToken(token: .number(try readNumber(column: column)), column: column)
        case _ where c.isLetter || c == "_":
            let name = readName()
            if Lexer.endsOperand(previous) {
                switch name {
                case "and": return PositionedToken(token: .op(.and), column: column)
                case "or": return PositionedToken(token: .op(.or), column: column)
                case "div": return PositionedToken(token: .op(.div), column: column)
                case "mod": return PositionedToken(token: .op(.mod), column: column)
                default: break
                }
            }
            return PositionedToken(token: .name(name), column: column)
        default:
            throw ExpressionError(column: column, message: L("无法识别的字符 “\(c)”", "unexpected character '\(c)'"))
        }
    }

    private func peek(_ offset: Int) -> Character? {
        index + offset < characters.count ? characters[index + offset] : nil
    }

    private mutating func readString(quote: Character, column: Int) throws(ExpressionError) -> String {
        index += 1
        var value = ""
        while index < characters.count {
            if characters[index] == quote {
                index += 1
                return value
            }
            value.append(characters[index])
            index += 1
        }
        throw ExpressionError(column: column, message: L("字符串缺少结束引号 \(quote)", "string lacks its closing \(quote)"))
    }

    private mutating func readReference(column: Int) throws(ExpressionError) -> String {
        guard peek(1) == "{" else {
            throw ExpressionError(column: column, message: L("$ 之后应为 {字段名}", "expected {name} after $"))
        }
        index += 2
        var name = ""
        while index < characters.count, characters[index] != "}" {
            name.append(characters[index])
            index += 1
        }
        guard index < characters.count else {
            throw ExpressionError(column: column, message: L("${ 缺少结束的 }", "${ lacks its closing }"))
        }
        index += 1
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard FieldName.isValid(trimmed) else {
            throw ExpressionError(column: column, message: L("“\(name)” 不是有效的字段名", "'\(name)' is not a valid field name"))
        }
        return trimmed
    }

    private mutating func readNumber(column: Int) throws(ExpressionError) -> Double {
        var text = ""
        while index < characters.count, characters[index].isASCII, characters[index].isNumber || characters[index] == "." {
            text.append(characters[index])
            index += 1
        }
        guard let value = Double(text) else {
            throw ExpressionError(column: column, message: L("无效的数字 “\(text)”", "invalid number '\(text)'"))
        }
        return value
    }

    private mutating func readName() -> String {
        var name = ""
        while index < characters.count {
            let c = characters[index]
            guard c.isLetter || c.isNumber || c == "_" || c == "-" || c == ":" else { break }
            // A '-' ends a name when no name character follows it: `x-1` style
            // arithmetic on names does not occur, but `max(a)-1` must lex.
            if c == "-", let next = peek(1), !(next.isLetter) { break }
            name.append(c)
            index += 1
        }
        return name
    }
}

/// Field names: a letter or underscore, then letters, digits, `_`, `-` or `.`,
/// as XLSForm allows.
public enum FieldName {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        guard first.properties.isAlphabetic || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" || $0 == "." }
    }
}

/// A recursive-descent parser with XPath 1.0 operator precedence.
public struct ExpressionParser {
    private var tokens: [PositionedToken]
    private var position = 0

    /// Whether a bare name is a choice's column (in a `choice_filter`).
    private var bareNames = false

    /// Parses `text`, or throws the first problem with its column. With
    /// `choiceColumns`, a bare name such as `township` is a column of the
    /// choice being tested, as XLSForm's `choice_filter` writes it.
    public static func parse(_ text: String, choiceColumns: Bool = false) throws(ExpressionError) -> SyntaxTree {
        var lexer = Lexer(text)
        var parser = ExpressionParser(tokens: try lexer.tokenize())
        parser.bareNames = choiceColumns
        if parser.current.token == .end {
            throw ExpressionError(column: 1, message: L("表达式为空", "the expression is empty"))
        }
        let tree = try parser.parseBinary(minimumPrecedence: 1)
        guard parser.current.token == .end else {
            throw parser.unexpected()
        }
        return tree
    }

    private init(tokens: [PositionedToken]) {
        self.tokens = tokens
    }

    private var current: PositionedToken { tokens[position] }

    private mutating func advance() { position += 1 }

    private func unexpected() -> ExpressionError {
        let token = current
        switch token.token {
        case .end:
            return ExpressionError(column: token.column, message: L("表达式意外结束", "the expression ends too early"))
        case .rightParen:
            return ExpressionError(column: token.column, message: L("多余的 )", "unmatched ')'"))
        case .name(let name):
            return ExpressionError(column: token.column, message: L("此处不应出现 “\(name)”", "unexpected '\(name)' here"))
        default:
            return ExpressionError(column: token.column, message: L("此处缺少运算符", "an operator is missing here"))
        }
    }

    private mutating func parseBinary(minimumPrecedence: Int) throws(ExpressionError) -> SyntaxTree {
        var lhs = try parseUnary()
        while case .op(let op) = current.token, op.precedence >= minimumPrecedence {
            advance()
            let rhs = try parseBinary(minimumPrecedence: op.precedence + 1)
            lhs = .binary(op, lhs, rhs)
        }
        return lhs
    }

    private mutating func parseUnary() throws(ExpressionError) -> SyntaxTree {
        if current.token == .op(.minus) {
            advance()
            return .negate(try parseUnary())
        }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws(ExpressionError) -> SyntaxTree {
        let token = current
        switch token.token {
        case .number(let value):
            advance()
            return .number(value)
        case .string(let value):
            advance()
            return .string(value)
        case .reference(let name):
            advance()
            return .reference(name, column: token.column)
        case .dot:
            advance()
            return .current(column: token.column)
        case .dotDot:
            advance()
            return .parent(column: token.column)
        case .leftParen:
            advance()
            let inner = try parseBinary(minimumPrecedence: 1)
            guard current.token == .rightParen else {
                if current.token == .end {
                    throw ExpressionError(column: token.column, message: L("( 缺少对应的 )", "'(' lacks its closing ')'"))
                }
                throw unexpected()
            }
            advance()
            return inner
        case .name(let name):
            advance()
            if bareNames, current.token != .leftParen, !["and", "or", "div", "mod", "true", "false"].contains(name) {
                return .choiceColumn(name, column: token.column)
            }
            guard current.token == .leftParen else {
                switch name {
                case "and", "or", "div", "mod":
                    throw ExpressionError(column: token.column, message: L("“\(name)” 之前缺少操作数", "'\(name)' needs an operand before it"))
                case "true", "false":
                    throw ExpressionError(column: token.column, message: L("请写 \(name)()", "write \(name)()"))
                default:
                    throw ExpressionError(
                        column: token.column,
                        message: L("“\(name)” 不是函数调用;引用字段请写 ${\(name)}", "'\(name)' is not a function call; to refer to a field write ${\(name)}"))
                }
            }
            let open = current
            advance()
            var arguments: [SyntaxTree] = []
            if current.token != .rightParen {
                while true {
                    arguments.append(try parseBinary(minimumPrecedence: 1))
                    if current.token == .comma {
                        advance()
                        continue
                    }
                    if current.token == .rightParen { break }
                    if current.token == .end {
                        throw ExpressionError(column: open.column, message: L("( 缺少对应的 )", "'(' lacks its closing ')'"))
                    }
                    throw unexpected()
                }
            }
            advance()
            return .call(name, arguments, column: token.column)
        case .op(let op):
            throw ExpressionError(column: token.column, message: L("“\(op.rawValue)” 之前缺少操作数", "'\(op.rawValue)' needs an operand before it"))
        default:
            throw unexpected()
        }
    }
}
