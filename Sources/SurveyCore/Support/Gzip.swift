import CGzip

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// gzip for request and response bodies (zlib underneath).
public enum Gzip {
    public enum Failure: Error, Sendable, Equatable {
        /// Not a complete gzip stream; `offset` is how far it read.
        case corrupt(offset: Int)
        /// Would decompress to more than the limit.
        case tooLarge(limit: Int)
        case noMemory
    }

    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = bytes.withUnsafeBufferPointer { input in
            czlib_gzip(input.baseAddress, input.count, level, &output, &length)
        }
        guard status == 0, let output else { fatalError("gzip compression failed (out of memory)") }
        defer { free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }

    /// Decompresses a gzip (or zlib) stream of at most `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        try bytes.withUnsafeBufferPointer { input throws(Failure) in try decompress(input, limit: limit) }
    }

    public static func decompress(_ input: UnsafeBufferPointer<UInt8>, limit: Int) throws(Failure) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        var consumed = 0
        let status = czlib_gunzip(input.baseAddress, input.count, limit, &output, &length, &consumed)
        switch Int(status) {
        case Int(CZLIB_OK):
            guard let output else { return [] }
            defer { free(output) }
            return Array(UnsafeBufferPointer(start: output, count: length))
        case Int(CZLIB_TOO_LARGE): throw .tooLarge(limit: limit)
        case Int(CZLIB_NO_MEMORY): throw .noMemory
        default: throw .corrupt(offset: consumed)
        }
    }

    /// Whether the bytes start with gzip's magic number.
    public static func looksCompressed(_ bytes: some Collection<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        return iterator.next() == 0x1f && iterator.next() == 0x8b
    }
}
