import Foundation
import SurveyCore
import SurveyFixtures
import SurveyHTTP
import SurveyServer
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback port that accepts connections and never answers, for timeouts.
final class SilentListener: @unchecked Sendable {
    private(set) var socket: Int32
    let port: Int

    init() {
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(descriptor, 8)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        socket = descriptor
        port = Int(UInt16(bigEndian: bound.sin_port))
    }

    /// Stops listening: the port refuses connections from now on. Closed
    /// once only: a second close(2) of the number would close whatever the
    /// process opened under it since (another test's server socket).
    func close() {
        if socket >= 0 { Glibc.close(socket) }
        socket = -1
    }

    deinit { close() }
}

@Suite("SurveyHTTP: the libcurl client against the real server")
struct HTTPClientTests {
    @Test("handshake by GET and HEAD, a gzip batch, and one connection kept for several requests")
    func exchanges() async throws {
        try await LiveServer.with { server in
            let token = try await server.token(.collector)
            let base = "http://127.0.0.1:\(server.port)"
            let client = HTTPClient()
            var maker = SurveyMaker(seed: 60)
            let plain = Array(batch((0..<50).map { maker.survey(village: $0) }).utf8)
            let plainSize = plain.count
            // libcurl blocks: on a thread of its own, not one of the few
            // Swift concurrency threads the in-process server answers on
            // (a detached task would hold one of them while it waits).
            let results = try await offPool { () throws -> [HTTPResponse] in
                let handshake = try client.send(HTTPRequest(url: base + "/api/v1/handshake"))
                let head = try client.send(HTTPRequest(method: "HEAD", url: base + "/api/v1/handshake"))
                let post = try client.send(
                    HTTPRequest(method: "POST", url: base + "/api/v1/surveys", headers: [("Authorization", "Bearer \(token)")], body: plain, gzipBody: true))
                return [handshake, head, post]
            }
            let (handshake, head, post) = (results[0], results[1], results[2])
            #expect(handshake.status == 200)
            #expect(try JSONParser().parse(handshake.body)["service"]?.stringValue == "vsurvey-server")
            #expect(head.status == 200 && head.body.isEmpty)
            #expect(head.header("x-vsurvey-max-batch") == "500")
            #expect(post.status == 200)
            #expect(try JSONParser().parse(post.body).at("summary", "created")?.int == 50)
            #expect(post.bytesSent < plainSize / 4, "gzip: \(post.bytesSent) bytes sent for \(plainSize) of JSON")
            // The reply comes back compressed too, and arrives decompressed.
            #expect(post.header("Content-Encoding") == "gzip")
            #expect(post.bytesReceived < post.body.count / 3, "\(post.bytesReceived) bytes received for a \(post.body.count)-byte reply")
            #expect(handshake.newConnections == 1)
            #expect(head.newConnections == 0 && post.newConnections == 0, "the connection was not reused")
        }
    }

    @Test("failures are said in words: refused, no such host, timeout, bad address")
    func failures() async throws {
        let listener = SilentListener()
        // A port nobody listens on: the listener's, after it is closed, is not
        // safe to reuse, so take a fresh one and close it at once.
        let closed = SilentListener()
        let closedPort = closed.port
        closed.close()
        // libcurl blocks: the requests go on a thread of their own.
        let failed = try await offPool { () -> [HTTPClientError?] in
            var quick = HTTPClientOptions()
            quick.totalTimeout = .milliseconds(800)
            let client = HTTPClient(options: quick)
            return ["http://127.0.0.1:\(closedPort)/", "http://no-such-host.invalid/", "http://127.0.0.1:\(listener.port)/", "notaurl://x"].map { url -> HTTPClientError? in
                do throws(HTTPClientError) {
                    _ = try client.send(HTTPRequest(url: url))
                    return nil
                } catch {
                    return error
                }
            }
        }
        let (refused, noHost, timeout, invalid) = (failed[0], failed[1], failed[2], failed[3])
        #expect(refused?.kind == .refused)
        #expect(refused.map { $0.message.text(.en).contains("cannot connect") } == true)
        #expect(noHost?.kind == .dns)
        #expect(timeout?.kind == .timeout)
        #expect(timeout?.isTransient == true)
        #expect(invalid?.kind == .invalid)
        withExtendedLifetime(listener) {}
    }
}
