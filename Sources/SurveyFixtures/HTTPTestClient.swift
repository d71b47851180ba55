import Foundation
import SurveyCore

#if canImport(Glibc)
    import Glibc
#endif

/// One HTTP response as received.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON; fails the caller loudly when it is not.
    public func json() throws -> JSONValue { try JSONParser().parse(body) }
}

/// A plain HTTP/1.1 client over a blocking loopback socket, for tests and
/// benchmarks of the server: it sends exactly the bytes it is given, so it
/// can also send what no well-behaved client would. One connection, kept
/// alive across requests, used by one thread at a time (a test may hand it
/// from one to another, never share it).
public final class HTTPConnection: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case connect(Int32)
        case closed
        case malformed(String)

        public var description: String {
            switch self {
            case .connect(let code): return "cannot connect: \(String(cString: strerror(code)))"
            case .closed: return "the server closed the connection"
            case .malformed(let what): return "malformed response: \(what)"
            }
        }
    }

    public let port: Int
    private var socket: Int32 = -1
    private var pending: [UInt8] = []

    public init(port: Int) throws {
        self.port = port
        try connect()
    }

    deinit { if socket >= 0 { Glibc.close(socket) } }

    private func connect() throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            let code = errno
            Glibc.close(socket)
            socket = -1
            throw Failure.connect(code)
        }
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        pending = []
    }

    public func close() {
        if socket >= 0 { Glibc.close(socket) }
        socket = -1
    }

    /// Sends a request and reads the whole response. A `Content-Length` is
    /// added for a body unless `headers` has one. Write errors are ignored so
    /// that a response sent before the body was read (413) still arrives.
    public func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> HTTPReply {
        if socket < 0 { try connect() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, !headers.contains(where: { $0.0.lowercased() == "content-length" || $0.0.lowercased() == "transfer-encoding" }) {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        writeAll(bytes)
        let reply = try readReply(head: method == "HEAD")
        if reply.header("connection")?.lowercased() == "close" { close() }
        return reply
    }

    /// Sends `bytes` exactly as given (a request the client would never
    /// frame that way) and reads the response.
    public func sendRaw(_ bytes: [UInt8]) throws -> HTTPReply {
        try write(bytes)
        return try readReply()
    }

    /// Writes part of a request (its head, some of its body) and returns
    /// without waiting for an answer.
    public func write(_ bytes: [UInt8]) throws {
        if socket < 0 { try connect() }
        writeAll(bytes)
    }

    /// Reads the answer to what `write` sent.
    public func readReply() throws -> HTTPReply {
        let reply = try readReply(head: false)
        if reply.header("connection")?.lowercased() == "close" { close() }
        return reply
    }

    private func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    private func fill() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
        if count <= 0 { return false }
        pending += buffer[0..<count]
        return true
    }

    private func readReply(head isHead: Bool) throws -> HTTPReply {
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = pending.firstRange(of: [13, 10, 13, 10])?.lowerBound
            if headerEnd == nil, try !fill() { throw Failure.closed }
        }
        let headText = String(decoding: pending[0..<headerEnd!], as: UTF8.self)
        pending.removeFirst(headerEnd! + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure.malformed(headText) }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var reply = HTTPReply(status: status, headers: headers, body: [])
        if isHead || status == 204 || status == 304 || (100..<200).contains(status) { return reply }
        if let length = reply.header("content-length").flatMap(Int.init) {
            while pending.count < length { if try !fill() { throw Failure.closed } }
            reply.body = Array(pending[0..<length])
            pending.removeFirst(length)
        } else if reply.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                var lineEnd = pending.firstRange(of: [13, 10])?.lowerBound
                while lineEnd == nil {
                    if try !fill() { throw Failure.closed }
                    lineEnd = pending.firstRange(of: [13, 10])?.lowerBound
                }
                let sizeText = String(decoding: pending[0..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw Failure.malformed("chunk size") }
                pending.removeFirst(lineEnd! + 2)
                while pending.count < size + 2 { if try !fill() { throw Failure.closed } }
                reply.body += pending[0..<size]
                pending.removeFirst(size + 2)
                if size == 0 { break }
            }
        } else {
            while try fill() {}
            reply.body = pending
            pending = []
            close()
        }
        return reply
    }
}

/// Requests on their own thread, so that a blocking socket never holds up
/// the Swift concurrency threads an in-process server needs.
public enum HTTPTestClient {
    public static func send(
        port: Int, _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) async throws -> HTTPReply {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    let connection = try HTTPConnection(port: port)
                    continuation.resume(returning: try connection.send(method, path, headers: headers, body: body))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    /// `bytes` sent as they are, on a connection of their own.
    public static func raw(port: Int, _ bytes: [UInt8]) async throws -> HTTPReply {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do {
                    continuation.resume(returning: try HTTPConnection(port: port).sendRaw(bytes))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }
}
