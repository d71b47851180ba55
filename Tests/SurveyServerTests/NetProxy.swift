import Foundation
import SurveyFixtures

#if canImport(Glibc)
    import Glibc
#endif

/// `Tests/Tools/netproxy.py` in front of a server port: a TLS endpoint with
/// the test's own certificate, or a slow link that breaks connections.
final class NetProxy: @unchecked Sendable {
    let process = Process()
    let port: Int
    private let output: FileHandle

    static let script = Fixtures.root.appendingPathComponent("Tests/Tools/netproxy.py")

    private init(upstream: Int, arguments: [String]) throws {
        (output, port) = try startTool(process, Self.script, ["--upstream", String(upstream)] + arguments)
    }

    static func start(upstream: Int, arguments: [String] = []) async throws -> NetProxy {
        try await offPool { try NetProxy(upstream: upstream, arguments: arguments) }
    }

    /// Stops the relay and returns its fault counts (`cut`, `lose`, `refuse`, `connections`).
    func stop() async throws -> [String: Int] {
        let (process, output) = (process, output)
        return try await offPool {
            kill(process.processIdentifier, SIGTERM)
            let text = String(decoding: PipeReader.readAll(output), as: UTF8.self)
            process.waitUntilExit()
            guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("faults ") }) else { return [:] }
            var counts: [String: Int] = [:]
            for pair in line.dropFirst("faults ".count).split(separator: " ") {
                let parts = pair.split(separator: "=")
                if parts.count == 2 { counts[String(parts[0])] = Int(parts[1]) }
            }
            return counts
        }
    }

    deinit { if process.isRunning { process.terminate() } }
}

/// A self-signed certificate for 127.0.0.1 made with `openssl`, and the
/// `sha256//…` pin of its public key.
struct TLSMaterial {
    let certificate: URL
    let key: URL
    let pin: String

    static func make(in directory: URL, name: String = "server") async throws -> TLSMaterial {
        try await offPool {
            let certificate = directory.appendingPathComponent("\(name)-cert.pem")
            let key = directory.appendingPathComponent("\(name)-key.pem")
            let made = try CommandRun.run(
                URL(fileURLWithPath: "/usr/bin/openssl"),
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.path, "-out",
                    certificate.path, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                ], in: directory)
            guard made.status == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "openssl req failed: \(made.stderr)"])
            }
            let pin = try CommandRun.run(
                URL(fileURLWithPath: "/bin/sh"),
                [
                    "-c",
                    "openssl x509 -in '\(certificate.path)' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
                ], in: directory)
            guard pin.status == 0 else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "openssl pin failed: \(pin.stderr)"])
            }
            return TLSMaterial(
                certificate: certificate, key: key, pin: "sha256//" + pin.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

/// `Tests/Tools/newer_server.py`: a server of a newer release that answers
/// every survey with an outcome this client does not know.
final class NewerServer: @unchecked Sendable {
    let process = Process()
    let port: Int

    private init() throws {
        (_, port) = try startTool(process, Fixtures.root.appendingPathComponent("Tests/Tools/newer_server.py"), [])
    }

    static func start() async throws -> NewerServer { try await offPool { try NewerServer() } }

    /// Stops the server and waits for it, off the concurrency threads.
    func stop() async {
        let process = process
        _ = try? await offPool {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { if process.isRunning { process.terminate() } }
}

/// Starts one of the Python tools in `Tests/Tools` in `process` and reads
/// the port from its first line (`listening <port>`); returns its output.
func startTool(_ process: Process, _ script: URL, _ arguments: [String]) throws -> (output: FileHandle, port: Int) {
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-u", script.path] + arguments
    process.environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let output = out.fileHandleForReading
    let first = String(decoding: ServerProcess.readLine(output), as: UTF8.self)
    guard first.hasPrefix("listening "), let port = Int(first.dropFirst("listening ".count)) else {
        process.terminate()
        throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "\(script.lastPathComponent) did not start: '\(first)'"])
    }
    return (output, port)
}
