extension JSONValue {
    /// Serialises the value as compact JSON, or indented when `pretty`.
    /// Keys keep their order; integers print without a fraction; non-ASCII
    /// text is written as UTF-8, not escaped, so Chinese stays readable.
    public func serialized(pretty: Bool = false) -> String {
        String(decoding: serializedBytes(pretty: pretty), as: UTF8.self)
    }

    /// The same as `serialized`, as UTF-8 bytes: what goes on the wire.
    public func serializedBytes(pretty: Bool = false) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(1024)
        write(into: &output, pretty: pretty, indent: 0)
        return output
    }

    /// An object written compactly twice in one pass: whole, and without
    /// the top-level members `leftOut` names. Each member is written once
    /// and copied; both results equal `serializedBytes()` of the object
    /// and of the object without those members.
    public static func serializedBytes(_ object: JSONObject, andWithout leftOut: (String) -> Bool) -> (whole: [UInt8], without: [UInt8]) {
        var whole: [UInt8] = []
        var without: [UInt8] = []
        whole.reserveCapacity(1024)
        without.reserveCapacity(1024)
        whole.append(UInt8(ascii: "{"))
        without.append(UInt8(ascii: "{"))
        for (key, value) in object {
            let start = whole.count
            if start > 1 { whole.append(UInt8(ascii: ",")) }
            let member = whole.count
            JSONValue.writeString(key, into: &whole)
            whole.append(UInt8(ascii: ":"))
            value.write(into: &whole, pretty: false, indent: 0)
            if !leftOut(key) {
                if without.count > 1 { without.append(UInt8(ascii: ",")) }
                without.append(contentsOf: whole[member...])
            }
        }
        whole.append(UInt8(ascii: "}"))
        without.append(UInt8(ascii: "}"))
        return (whole, without)
    }

    private static func newline(_ output: inout [UInt8], indent: Int) {
        output.append(10)
        for _ in 0..<indent {
            output.append(32)
            output.append(32)
        }
    }

    private func write(into output: inout [UInt8], pretty: Bool, indent: Int) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): output.append(contentsOf: String(value).utf8)
        case .number(let value): output.append(contentsOf: JSONValue.format(value).utf8)
        case .string(let value): JSONValue.writeString(value, into: &output)
        case .array(let array):
            if array.isEmpty {
                output.append(contentsOf: "[]".utf8)
                return
            }
            output.append(UInt8(ascii: "["))
            for (offset, element) in array.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                if pretty { JSONValue.newline(&output, indent: indent + 1) }
                element.write(into: &output, pretty: pretty, indent: indent + 1)
            }
            if pretty { JSONValue.newline(&output, indent: indent) }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty {
                output.append(contentsOf: "{}".utf8)
                return
            }
            output.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in object {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                if pretty { JSONValue.newline(&output, indent: indent + 1) }
                JSONValue.writeString(key, into: &output)
                output.append(UInt8(ascii: ":"))
                if pretty { output.append(32) }
                value.write(into: &output, pretty: pretty, indent: indent + 1)
            }
            if pretty { JSONValue.newline(&output, indent: indent) }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// Formats a double the way a person writes it: `42`, `0.5`, `1e+21`.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 {
            return String(Int64(value))
        }
        return "\(value)"
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `value` as a JSON string: runs of text that need no escaping
    /// are copied whole.
    static func writeString(_ value: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if start < index { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index])) }
                start = index + 1
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
                case 10: output.append(UInt8(ascii: "n"))
                case 13: output.append(UInt8(ascii: "r"))
                case 9: output.append(UInt8(ascii: "t"))
                default:
                    output.append(contentsOf: "u00".utf8)
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 15)])
                }
            }
            if start < bytes.count { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count])) }
        }
        output.append(UInt8(ascii: "\""))
    }
}
