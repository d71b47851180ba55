import Foundation

/// The project's built executables and a way to run them, for the tests of
/// every target and the benchmarks: one locator, one runner, one kind of
/// scratch directory.
public enum Binaries {
    /// The executable `name` (`vsurvey`, `vsurvey-server`) that SwiftPM built
    /// beside the running test bundle or benchmark.
    public static func url(_ name: String) throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name),
            Bundle.main.bundleURL.appendingPathComponent(name),
            Fixtures.root.appendingPathComponent(".build/debug/\(name)"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates[0].path])
        }
        return found
    }
}

/// What one run of a command printed, and how it ended.
public struct CommandRun: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Runs `binary` to its end from `directory`, in a clean environment
    /// (`PATH`, `LANG=C.UTF-8` and a 90 s `VSURVEY_DB_WAIT` for a busy test machine) plus `environment`; with `input`, that is
    /// its standard input.
    public static func run(_ binary: URL, _ arguments: [String], in directory: URL, environment: [String: String] = [:], input: String? = nil) throws
        -> CommandRun
    {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "VSURVEY_DB_WAIT": "90"]
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let feed = input.map { _ in Pipe() }
        if let feed { process.standardInput = feed }
        try process.run()
        if let feed, let input {
            feed.fileHandleForWriting.write(Data(input.utf8))
            try? feed.fileHandleForWriting.close()
        }
        let stdout = PipeReader.readAll(out.fileHandleForReading)
        let stderr = PipeReader.readAll(err.fileHandleForReading)
        process.waitUntilExit()
        return CommandRun(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// Runs blocking work on a thread of its own, so that waiting for a child
/// process never holds one of the few threads that Swift concurrency (and
/// the in-process servers of other tests) run on.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }.start()
    }
}

/// A new, empty directory under the system's temporary directory for one
/// test or benchmark run; `label` says whose it is.
public func scratchDirectory(_ label: String = "test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

extension String {
    /// The text between the first `start` and the next `end` after it;
    /// empty when either is missing (a page's hidden field, say).
    public func between(_ start: String, _ end: String) -> String {
        guard let from = range(of: start), let to = self[from.upperBound...].range(of: end) else { return "" }
        return String(self[from.upperBound..<to.lowerBound])
    }
}
