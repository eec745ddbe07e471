import Foundation
import XCTest
@testable import Service

/// The notify protocol against a real Unix datagram socket bound by the test, as systemd binds NOTIFY_SOCKET.
final class SystemdNotifierTests: XCTestCase {
    func bindDatagramSocket(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(rc, 0)
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    func receive(_ fd: Int32) -> String? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buf, buf.count, 0)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    func testSendsReadyStatusWatchdogAndReloading() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let fd = bindDatagramSocket(path)
        defer { close(fd); unlink(path) }
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"])
        XCTAssertEqual(n.watchdogInterval, .seconds(2))
        n.ready(status: "detecting on 2 pipelines")
        XCTAssertEqual(receive(fd), "READY=1\nSTATUS=detecting on 2 pipelines\n")
        n.watchdog()
        XCTAssertEqual(receive(fd), "WATCHDOG=1\n")
        n.reloading()
        let r = receive(fd) ?? ""
        XCTAssertTrue(r.hasPrefix("RELOADING=1\nMONOTONIC_USEC="), r)
        XCTAssertNotNil(UInt64(r.split(separator: "=").last!.dropLast()))
    }

    func testAbstractSocketAndAbsence() {
        XCTAssertFalse(SystemdNotifier(environment: [:]).send(["READY=1"]))
        XCTAssertNil(SystemdNotifier(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"]).watchdogInterval)
        // An abstract socket: bind "\0name", address it as "@name".
        let name = "anomalyd-test-\(getpid())"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)) }
        }
        XCTAssertEqual(rc, 0)
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        XCTAssertTrue(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name]).send(["STOPPING=1"]))
        XCTAssertEqual(receive(fd), "STOPPING=1\n")
    }
}
