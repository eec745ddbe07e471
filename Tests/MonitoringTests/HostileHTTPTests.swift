import Foundation
import HTTPServing
import XCTest
@testable import Monitoring

/// Kept cases of issue 14 on the metrics server's HTTP stack: path traversal gets a 404 and nothing of the file
/// system; a flood of headers, an endless request line and bytes that are not HTTP end their connection, and the
/// server answers the next client.
final class HostileHTTPTests: XCTestCase {
    func testPathTraversalFindsNothing() async throws {
        let server = try await TestServer.start(HTTPServer.Limits())
        defer { Task { await server.stop() } }
        for path in ["/../../../../etc/passwd", "/healthz/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                     "/..%2f..%2f..%2fetc%2fpasswd", "//etc/passwd", "/healthz%00.txt", "/etc/passwd"] {
            let answer = await Task.detached { httpGet(port: server.port, path, timeout: 10) }.value
            let response = try XCTUnwrap(answer, path)
            XCTAssertTrue([400, 404].contains(response.status), "\(path): \(response.status)")
            XCTAssertFalse(response.body.contains("root:"), "\(path) served a file")
        }
        let health = await Task.detached { httpGet(port: server.port, "/healthz", timeout: 10) }.value
        XCTAssertEqual(health?.status, 200)
    }

    /// Each attack on its own connection; after each, the connection is closed (or refused with an error status)
    /// within the request timeout and `/healthz` still answers.
    func testHeaderFloodsLongLinesAndGarbageEndTheirConnection() async throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeout = .seconds(3)
        let server = try await TestServer.start(limits)
        defer { Task { await server.stop() } }
        let header = "X-Flood: " + String(repeating: "f", count: 1000) + "\r\n"
        let attacks: [(String, String)] = [
            ("4 MB of headers", "GET /healthz HTTP/1.1\r\nHost: t\r\n" + String(repeating: header, count: 4000)),
            ("a 1 MB request line", "GET /" + String(repeating: "a", count: 1 << 20) + " HTTP/1.1\r\n"),
            ("bytes that are not HTTP", String(repeating: "\u{1}\u{2}garbage\r\n\r\n", count: 10_000)),
            ("a header without end", "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: " + String(repeating: "x", count: 2 << 20)),
        ]
        for (name, bytes) in attacks {
            let closed = await Task.detached { () -> Bool in
                guard let fd = try? connectLoopback(server.port) else { return false }
                defer { close(fd) }
                send(fd, bytes)
                let deadline = Date().addingTimeInterval(15)
                while Date() < deadline {
                    if closedByPeer(fd) { return true }
                    usleep(50_000)
                }
                return false
            }.value
            XCTAssertTrue(closed, "\(name): the server ended the connection")
            let health = await Task.detached { httpGet(port: server.port, "/healthz", timeout: 10) }.value
            XCTAssertEqual(health?.status, 200, "after \(name)")
        }
    }
}
