import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A running `vsurvey` whose input is written line by line and whose output
/// is read as it comes, like a person at a terminal: through pipes, or
/// (`terminal: true`) through a pseudo-terminal, as a person meets it, with
/// the terminal's echo, colours and line discipline (the transcript has the
/// colour codes and carriage returns taken out).
public final class InteractiveProcess: @unchecked Sendable {
    public let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lock = NSLock()
    private var received = Data()
    /// The terminal's controlling side, when there is one.
    private var master: Int32 = -1

    public init(_ arguments: [String], environment: [String: String], terminal: Bool = false, binary: URL? = nil) throws {
        process.executableURL = try binary ?? Binaries.url("vsurvey")
        process.arguments = arguments
        process.currentDirectoryURL = Fixtures.root
        var env = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
        if terminal { env["TERM"] = "xterm-256color" }
        env.merge(environment) { _, new in new }
        process.environment = env
        let reading: FileHandle
        var slaveDescriptor: Int32 = -1
        if terminal {
            // posix_openpt and ptsname are not in Swift's Glibc module: open
            // /dev/ptmx, unlock it (TIOCSPTLCK) and ask its number (TIOCGPTN).
            master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
            var unlock: Int32 = 0
            var number: UInt32 = 0
            guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no pseudo-terminal"])
            }
            let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
            var size = winsize(ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
            _ = ioctl(slave, UInt(TIOCSWINSZ), &size)
            slaveDescriptor = slave
            let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
            process.standardInput = handle
            process.standardOutput = handle
            process.standardError = handle
            reading = FileHandle(fileDescriptor: master, closeOnDealloc: false)
        } else {
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            reading = output.fileHandleForReading
        }
        try process.run()
        // The child has the terminal now; without this copy, the end of the child ends the output.
        if slaveDescriptor >= 0 { close(slaveDescriptor) }
        // Output is collected as it arrives by a thread of its own that reads
        // until end of file, so waiting never blocks on a read. (Not
        // `readabilityHandler`: its dispatch source can outlive the pipe's
        // descriptor, and a reused descriptor then crashes libdispatch.)
        Thread { [self] in
            while let data = PipeReader.readSome(reading), !data.isEmpty {
                self.lock.withLock { self.received.append(data) }
            }
        }.start()
    }

    deinit { if master >= 0 { close(master) } }

    public var transcript: String {
        lock.lock()
        defer { lock.unlock() }
        let text = String(decoding: received, as: UTF8.self)
        guard master >= 0 else { return text }
        return text.replacing(/\x1B\[[0-9;]*[A-Za-z]/, with: "").replacingOccurrences(of: "\r\n", with: "\n")
    }

    public func send(_ line: String) {
        if master >= 0 {
            let bytes = Array((line + "\r").utf8)
            _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        } else {
            input.fileHandleForWriting.write(Data((line + "\n").utf8))
        }
    }

    /// Waits until `text` has appeared `count` times in the output.
    @discardableResult
    public func waitFor(_ text: String, count: Int = 1, timeout: TimeInterval = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let seen = transcript
            if seen.components(separatedBy: text).count - 1 >= count { return seen }
            guard Date() < deadline else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "timed out waiting for '\(text)'; output so far:\n\(seen)"])
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// The number of prompts shown so far.
    public var prompts: Int { transcript.components(separatedBy: "> ").count - 1 }

    public func finish() -> Int32 {
        if master >= 0 {
            // Ctrl-D at the start of a line: the end of input.
            var eof: UInt8 = 4
            _ = write(master, &eof, 1)
        }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.05)
        return process.terminationStatus
    }

    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
