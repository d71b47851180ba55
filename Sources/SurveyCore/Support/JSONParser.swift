import Foundation

/// Where and why a JSON text could not be read.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: LocalizedText

    public var description: String { "\(line):\(column): \(message.text(.en))" }
}

/// A strict JSON reader (RFC 8259) over bytes. It reports the line and
/// column of the first problem, refuses invalid UTF-8, duplicate keys,
/// nesting deeper than `maxDepth` and numbers that do not fit a Double,
/// so that a bad answer file or request body gets a message a person can
/// act on.
public struct JSONParser: Sendable {
    public var maxDepth: Int
    /// Whether a key repeated in an object is refused. Only JSON this
    /// program wrote itself (answers kept in its own database, read again
    /// for an export) may skip the check, which costs a hash per key.
    public var refusesDuplicateKeys: Bool

    public init(maxDepth: Int = 64, refusesDuplicateKeys: Bool = true) {
        self.maxDepth = maxDepth
        self.refusesDuplicateKeys = refusesDuplicateKeys
    }

    public func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    public func parse(_ data: Data) throws(JSONParseError) -> JSONValue {
        try parse([UInt8](data))
    }

    public func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in try parse(buffer) }
    }

    /// Parses bytes that stay valid for the duration of the call.
    public func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var reader = Reader(bytes: bytes, maxDepth: maxDepth, refusesDuplicateKeys: refusesDuplicateKeys)
        // A UTF-8 byte order mark, as Windows editors write it, is allowed.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
        reader.skipWhitespace()
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        if reader.index < bytes.count {
            throw reader.error(L("JSON 值之后还有多余内容", "unexpected content after the JSON value"))
        }
        return value
    }

    /// Keys to pick out of an object (`members(of:keys:)`), prepared once:
    /// their UTF-8 bytes, grouped by length so that most keys of the
    /// object are passed over by one look-up.
    public struct MemberKeys: Sendable {
        let utf8: [[UInt8]]
        let byLength: [[Int]]

        public init(_ keys: [String]) {
            utf8 = keys.map { Array($0.utf8) }
            var byLength = [[Int]](repeating: [], count: (utf8.map(\.count).max() ?? 0) + 1)
            for (position, key) in utf8.enumerated() { byLength[key.count].append(position) }
            self.byLength = byLength
        }
    }

    /// The members of a top-level object whose keys are among `keys`; the
    /// other members are read over (their syntax checked, nothing built),
    /// so that picking a few answers out of a long stored survey costs a
    /// scan of its bytes rather than a whole tree. A key repeated is kept
    /// once, the first time.
    public func members(of bytes: UnsafeBufferPointer<UInt8>, keys: MemberKeys) throws(JSONParseError) -> JSONObject {
        var reader = Reader(bytes: bytes, maxDepth: maxDepth, refusesDuplicateKeys: false)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
        reader.skipWhitespace()
        let object = try reader.pickMembers(keys)
        reader.skipWhitespace()
        if reader.index < bytes.count {
            throw reader.error(L("JSON 值之后还有多余内容", "unexpected content after the JSON value"))
        }
        return object
    }

    public func members(of text: String, keys: MemberKeys) throws(JSONParseError) -> JSONObject {
        try Array(text.utf8).withUnsafeBufferPointer { buffer throws(JSONParseError) in try members(of: buffer, keys: keys) }
    }

    public func members(of text: String, keys: [String]) throws(JSONParseError) -> JSONObject {
        try members(of: text, keys: MemberKeys(keys))
    }
}

private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    let refusesDuplicateKeys: Bool
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, refusesDuplicateKeys: Bool) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.refusesDuplicateKeys = refusesDuplicateKeys
    }

    func error(_ message: LocalizedText, at position: Int? = nil) -> JSONParseError {
        let end = min(position ?? index, bytes.count)
        var line = 1
        var lineStart = 0
        for i in 0..<end where bytes[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        // Columns count characters, not bytes, so that Chinese text lines up.
        var column = 1
        var i = lineStart
        while i < end {
            if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        return JSONParseError(line: line, column: column, message: message)
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else {
            throw error(L("JSON 意外结束", "unexpected end of JSON"))
        }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default:
            throw error(L("此处应为 JSON 值", "expected a JSON value here"))
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        guard index + count <= bytes.count else {
            throw error(L("无法识别的值", "unrecognised value"))
        }
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            throw error(L("无法识别的值", "unrecognised value"))
        }
        index += count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else {
            throw error(L("嵌套层数超过 \(maxDepth)", "nesting deeper than \(maxDepth) levels"))
        }
        index += 1
        var object = JSONObject()
        // Duplicate keys: small objects are scanned, larger ones hashed.
        var seen: Set<String>?
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error(L("此处应为用双引号括起的键名", "expected a key in double quotes"))
            }
            let keyStart = index
            let key = try parseString()
            let duplicate: Bool
            if !refusesDuplicateKeys {
                duplicate = false
            } else if object.count < 16 {
                duplicate = object.pairs.contains { $0.key == key }
            } else {
                if seen == nil {
                    // Room for a survey's answers without growing.
                    seen = Set(minimumCapacity: 128)
                    for pair in object.pairs { seen!.insert(pair.key) }
                }
                duplicate = !seen!.insert(key).inserted
            }
            if duplicate {
                throw error(L("键 \"\(key)\" 重复", "duplicate key \"\(key)\""), at: keyStart)
            }
            try colon()
            object.appendUnique(key, try parseValue(depth: depth))
            if try !another(closing: UInt8(ascii: "}")) { return .object(object) }
        }
    }

    /// After a key: the colon, with white space either side.
    mutating func colon() throws(JSONParseError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
            throw error(L("键名后应为冒号", "expected ':' after the key"))
        }
        index += 1
        skipWhitespace()
    }

    /// After a member or an element: true at a comma (another follows),
    /// false at the closing bracket; both are read.
    mutating func another(closing close: UInt8) throws(JSONParseError) -> Bool {
        skipWhitespace()
        let isObject = close == UInt8(ascii: "}")
        guard index < bytes.count else {
            throw error(
                isObject
                    ? L("JSON 意外结束,对象缺少 }", "unexpected end of JSON: the object lacks '}'")
                    : L("JSON 意外结束,数组缺少 ]", "unexpected end of JSON: the array lacks ']'"))
        }
        if bytes[index] == UInt8(ascii: ",") {
            index += 1
            return true
        }
        if bytes[index] == close {
            index += 1
            return false
        }
        throw error(isObject ? L("此处应为逗号或 }", "expected ',' or '}'") : L("此处应为逗号或 ]", "expected ',' or ']'"))
    }

    /// A top-level object's members named in `keys`, the rest read over.
    mutating func pickMembers(_ keys: JSONParser.MemberKeys) throws(JSONParseError) -> JSONObject {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            throw error(L("此处应为 JSON 对象", "expected a JSON object here"))
        }
        index += 1
        let wanted = keys.utf8
        let byLength = keys.byLength
        var object = JSONObject(minimumCapacity: wanted.count)
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return object
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error(L("此处应为用双引号括起的键名", "expected a key in double quotes"))
            }
            // A key without escapes is compared as bytes; one with escapes
            // is decoded first.
            var end = index + 1
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\") { end += 1 }
            var match: Int?
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                let start = index + 1
                let length = end - start
                if length < byLength.count {
                    for candidate in byLength[length]
                    where wanted[candidate].withUnsafeBufferPointer({ memcmp($0.baseAddress!, bytes.baseAddress! + start, length) == 0 }) {
                        match = candidate
                        break
                    }
                }
                index = end + 1
            } else {
                let key = Array(try parseString().utf8)
                match = wanted.firstIndex(of: key)
            }
            try colon()
            if let match {
                let value = try parseValue(depth: 1)
                let key = String(decoding: wanted[match], as: UTF8.self)
                if object[key] == nil { object.appendUnique(key, value) }
            } else {
                try skipValue(depth: 1)
            }
            if try !another(closing: UInt8(ascii: "}")) { return object }
        }
    }

    /// Reads over one value, checking its structure without building it.
    mutating func skipValue(depth: Int) throws(JSONParseError) {
        guard index < bytes.count else {
            throw error(L("JSON 意外结束", "unexpected end of JSON"))
        }
        switch bytes[index] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = bytes[index] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            guard depth < maxDepth else {
                throw error(L("嵌套层数超过 \(maxDepth)", "nesting deeper than \(maxDepth) levels"))
            }
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == close {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                if isObject {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        throw error(L("此处应为用双引号括起的键名", "expected a key in double quotes"))
                    }
                    try skipString()
                    try colon()
                }
                try skipValue(depth: depth + 1)
                if try !another(closing: close) { return }
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try parseNumber()
        default:
            throw error(L("此处应为 JSON 值", "expected a JSON value here"))
        }
    }

    /// Reads over a string (index on its opening quote): escapes are
    /// stepped over, control characters refused; its text is not decoded.
    mutating func skipString() throws(JSONParseError) {
        let start = index
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            }
            if byte < 0x20 {
                throw error(L("字符串中有未转义的控制字符", "unescaped control character in a string"))
            }
            index += byte == UInt8(ascii: "\\") ? 2 : 1
        }
        throw error(L("字符串没有结束引号", "unterminated string"), at: start)
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else {
            throw error(L("嵌套层数超过 \(maxDepth)", "nesting deeper than \(maxDepth) levels"))
        }
        index += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(array)
        }
        while true {
            skipWhitespace()
            array.append(try parseValue(depth: depth))
            if try !another(closing: UInt8(ascii: "]")) { return .array(array) }
        }
    }

    /// Reads a string. A string without escapes is one run of bytes; one
    /// with escapes is built as UTF-8 bytes in one buffer (each run checked,
    /// each escape encoded), so the time stays linear in its length
    /// whatever it holds.
    mutating func parseString() throws(JSONParseError) -> String {
        let start = index
        index += 1
        var utf8: [UInt8] = []
        var runStart = index
        var simple = true
        while true {
            guard index < bytes.count else {
                throw error(L("字符串没有结束引号", "unterminated string"), at: start)
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                break
            }
            if byte < 0x20 {
                throw error(L("字符串中有未转义的控制字符", "unescaped control character in a string"))
            }
            if byte == UInt8(ascii: "\\") {
                if simple {
                    simple = false
                    utf8.reserveCapacity(bytes.count - start < 1 << 16 ? bytes.count - start : 1 << 16)
                }
                try appendRun(runStart..<index, to: &utf8)
                index += 1
                guard index < bytes.count else {
                    throw error(L("字符串没有结束引号", "unterminated string"), at: start)
                }
                switch bytes[index] {
                case UInt8(ascii: "\""): utf8.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): utf8.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): utf8.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    UTF8.encode(try parseUnicodeEscape()) { utf8.append($0) }
                    runStart = index
                    continue
                default:
                    throw error(L("无效的转义字符", "invalid escape sequence"))
                }
                index += 1
                runStart = index
                continue
            }
            index += 1
        }
        let end = index
        index += 1
        if simple {
            return try text(runStart..<end)
        }
        try appendRun(runStart..<end, to: &utf8)
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Appends a run of bytes without escapes, refusing invalid UTF-8 at
    /// the byte where it starts.
    func appendRun(_ range: Range<Int>, to utf8: inout [UInt8]) throws(JSONParseError) {
        guard !range.isEmpty, let base = bytes.baseAddress else { return }
        let run = UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
        if !Self.isValidUTF8(run) {
            _ = try decodeUTF8(range)
            throw error(L("无效的 UTF-8 编码", "invalid UTF-8"), at: range.lowerBound)
        }
        utf8.append(contentsOf: run)
    }

    /// A run of bytes with no escapes as a String. ASCII, the common case,
    /// needs one scan; other text is checked as UTF-8 first, and the slow
    /// decoder runs only to find where invalid UTF-8 starts.
    func text(_ range: Range<Int>) throws(JSONParseError) -> String {
        guard !range.isEmpty, let base = bytes.baseAddress else { return "" }
        let run = UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
        var ascii = true
        for byte in run where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii || Self.isValidUTF8(run) { return String(decoding: run, as: UTF8.self) }
        return String(try decodeUTF8(range))
    }

    /// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates,
    /// nothing above U+10FFFF.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        @inline(__always) func continuation(_ offset: Int) -> Bool { index + offset < count && bytes[index + offset] & 0xC0 == 0x80 }
        while index < count {
            let lead = bytes[index]
            switch lead {
            case 0x00...0x7F:
                index += 1
            case 0xC2...0xDF:
                guard continuation(1) else { return false }
                index += 2
            case 0xE0...0xEF:
                guard continuation(1), continuation(2) else { return false }
                let second = bytes[index + 1]
                if lead == 0xE0 && second < 0xA0 { return false }
                if lead == 0xED && second >= 0xA0 { return false }
                index += 3
            case 0xF0...0xF4:
                guard continuation(1), continuation(2), continuation(3) else { return false }
                let second = bytes[index + 1]
                if lead == 0xF0 && second < 0x90 { return false }
                if lead == 0xF4 && second >= 0x90 { return false }
                index += 4
            default:
                return false
            }
        }
        return true
    }

    /// Reads `\uXXXX` (index on the `u`), joining surrogate pairs.
    mutating func parseUnicodeEscape() throws(JSONParseError) -> Unicode.Scalar {
        let high = try readHex4()
        if (0xD800...0xDBFF).contains(high) {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else {
                throw error(L("不成对的 UTF-16 代理项", "unpaired UTF-16 surrogate"))
            }
            index += 1
            let low = try readHex4()
            guard (0xDC00...0xDFFF).contains(low) else {
                throw error(L("不成对的 UTF-16 代理项", "unpaired UTF-16 surrogate"))
            }
            let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            return Unicode.Scalar(value)!
        }
        guard let scalar = Unicode.Scalar(high) else {
            throw error(L("不成对的 UTF-16 代理项", "unpaired UTF-16 surrogate"))
        }
        return scalar
    }

    /// Reads four hex digits after a `u` at `index`, leaving index after them.
    mutating func readHex4() throws(JSONParseError) -> UInt32 {
        index += 1
        guard index + 4 <= bytes.count else {
            throw error(L("\\u 之后应为 4 位十六进制数", "expected 4 hex digits after \\u"))
        }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error(L("\\u 之后应为 4 位十六进制数", "expected 4 hex digits after \\u"))
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    func decodeUTF8(_ range: Range<Int>) throws(JSONParseError) -> String.UnicodeScalarView {
        var view = String.UnicodeScalarView()
        if range.isEmpty { return view }
        var iterator = bytes[range].makeIterator()
        var decoder = UTF8()
        var offset = range.lowerBound
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                view.append(scalar)
                offset += UTF8.width(scalar)
            case .emptyInput:
                return view
            case .error:
                throw error(L("无效的 UTF-8 编码", "invalid UTF-8"), at: offset)
            }
        }
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw error(L("无效的数字", "invalid number"), at: start)
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) {
                throw error(L("数字不能以 0 开头", "numbers may not have leading zeros"), at: start)
            }
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error(L("小数点后应有数字", "expected digits after the decimal point"))
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error(L("指数部分应有数字", "expected digits in the exponent"))
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if isInteger, index - start <= 18 {
            // Up to 18 digits cannot overflow: add them up directly.
            var value = 0
            var position = bytes[start] == UInt8(ascii: "-") ? start + 1 : start
            while position < index {
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                position += 1
            }
            return .integer(bytes[start] == UInt8(ascii: "-") ? -value : value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let value = Int(text) {
            return .integer(value)
        }
        guard let value = Double(text), value.isFinite else {
            throw error(L("数字超出范围", "number out of range"), at: start)
        }
        // Too small for a double (1e-400): refused rather than read as 0.
        if value == 0,
            text.utf8.prefix(while: { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") }).contains(where: {
                $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9")
            })
        {
            throw error(L("数字太小,超出范围", "number out of range (too small to keep)"), at: start)
        }
        return .number(value)
    }

    @inline(__always) func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
