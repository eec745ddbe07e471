import Foundation
import Hummingbird
import Logging
@testable import Monitoring
import ServiceLifecycle
import HTTPServing
import XCTest

/// The metrics server's limits with real loopback connections (issue 14: 20,000 idle connections exhausted the
/// descriptors and `/metrics` and `/healthz` stopped answering). Short limits, so each case takes seconds.
final class ConnectionLimitsTests: XCTestCase {
    /// 300 idle connections against a cap of 50: the server never holds many more than 50, closes each after the
    /// idle timeout, and `/healthz`, asked after all of them, is answered once its turn comes.
    func testIdleConnectionsAreClosedAndTheCapHolds() async throws {
        var limits = HTTPServer.Limits()
        limits.idleTimeout = .seconds(1)
        limits.maxConnections = 50
        let server = try await TestServer.start(limits)
        let idle = try (0..<300).map { _ in try connectLoopback(server.port) }
        defer { idle.forEach { close($0) } }

        let answer = Task.detached { httpGet(port: server.port, "/healthz", timeout: 30) }
        var most = 0
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline, idle.contains(where: { !closedByPeer($0) }) {
            most = max(most, acceptedConnections(port: server.port))
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let health = await answer.value
        await server.stop()
        XCTAssertEqual(health?.status, 200, "/healthz did not answer behind 300 idle connections")
        XCTAssertEqual(idle.filter { !closedByPeer($0) }.count, 0, "idle connections still open after the idle timeout")
        // The cap stops further reads of the listening socket, and one read accepts up to 4 connections (NIO's
        // maxMessagesPerRead for server channels): a few over it at most.
        XCTAssertLessThanOrEqual(most, limits.maxConnections + 4, "connections held at once")
        XCTAssertGreaterThan(most, 0)
    }

    /// A request whose body arrives a byte at a time keeps resetting the idle timeout; the request timeout ends it.
    func testARequestTrickledInIsCutAtTheRequestTimeout() async throws {
        var limits = HTTPServer.Limits()
        limits.idleTimeout = .seconds(1)
        limits.requestTimeout = .seconds(2)
        let server = try await TestServer.start(limits)
        let fd = try connectLoopback(server.port)
        defer { close(fd) }
        let started = Date()
        send(fd, "GET /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n")
        while !closedByPeer(fd), Date().timeIntervalSince(started) < 8 {
            send(fd, "x")
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        let held = Date().timeIntervalSince(started)
        await server.stop()
        XCTAssertTrue(closedByPeer(fd), "a trickled request held its connection for \(held) s")
        XCTAssertGreaterThanOrEqual(held, 1.5, "closed before the request timeout: something else ended it")
        XCTAssertLessThan(held, 6)
    }
}

/// The monitoring server's HTTP stack with a `/healthz` route, on a free loopback port.
struct TestServer {
    let port: Int
    let group: ServiceGroup

    static func start(_ limits: HTTPServer.Limits) async throws -> TestServer {
        let router = Router()
        router.get("healthz") { _, _ in HTTPServer.text(.ok, "ok\n") }
        let logger = Logger(label: "test")
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let app = HTTPServer.application(host: "127.0.0.1", port: 0, router: router, limits: limits, logger: logger,
                                               onListening: { listening.yield($0) })
        let group = ServiceGroup(services: [app], logger: logger)
        Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()
        return TestServer(port: try XCTUnwrap(port), group: group)
    }

    func stop() async { await group.triggerGracefulShutdown() }
}

func connectLoopback(_ port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        throw NSError(domain: "connect", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(errno))])
    }
    return fd
}

func send(_ fd: Int32, _ text: String) {
    _ = text.utf8CString.withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
}

/// Whether the server has ended the connection (end of stream or reset); reads away anything it sent.
func closedByPeer(_ fd: Int32) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        if n > 0 { continue }
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
    }
}

/// One GET on a fresh connection, waiting up to `timeout` seconds for the whole answer.
func httpGet(port: Int, _ path: String, timeout: Int) -> (status: Int, body: String)? {
    guard let fd = try? connectLoopback(port) else { return nil }
    defer { close(fd) }
    var limit = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    send(fd, "GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    var response = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let status = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
    return (status, text.components(separatedBy: "\r\n\r\n").dropFirst().joined())
}

/// Established connections to `port` that this process has accepted (sockets still in the listen backlog have no
/// inode yet), from /proc/self/net/tcp.
func acceptedConnections(port: Int) -> Int {
    // Read to the end with read(2): procfs reports a size of 0, and a read by size stops at the first page.
    let fd = open("/proc/self/net/tcp", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var bytes = [UInt8](), buffer = [UInt8](repeating: 0, count: 65536)
    while case let n = read(fd, &buffer, buffer.count), n > 0 { bytes += buffer[0..<n] }
    let table = String(decoding: bytes, as: UTF8.self)
    let local = String(format: ":%04X", port)
    return table.split(separator: "\n").dropFirst().filter { line in
        let fields = line.split(separator: " ")
        return fields.count > 9 && fields[1].hasSuffix(local) && fields[3] == "01" && fields[9] != "0"
    }.count
}
