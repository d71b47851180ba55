import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reading a child process's pipe in tests. Foundation's
/// `readDataToEndOfFile()` and `availableData` stop the whole test process
/// (a `try!`) when a read is interrupted by a signal (EINTR), which happens
/// when another test's child exits at that moment; these read with
/// `read(2)` and try again.
public enum PipeReader {
    /// Everything until end of file.
    public static func readAll(_ handle: FileHandle) -> Data {
        var data = Data()
        while let chunk = readSome(handle), !chunk.isEmpty { data.append(chunk) }
        return data
    }

    /// What is there now, up to 64 KiB (empty at end of file); nil on an error other than EINTR.
    public static func readSome(_ handle: FileHandle) -> Data? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count >= 0 { return Data(buffer[0..<count]) }
            if errno != EINTR { return nil }
        }
    }
}
