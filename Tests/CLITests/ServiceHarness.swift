import Foundation
import Synchronization
import XCTest

/// What the systemd and metrics tests need around a real daemon: the notify socket systemd would bind, the
/// daemon's log in a file, a raw HTTP GET and a test video.
enum ServiceHarness {
    /// A Unix datagram socket bound by the test and handed to the daemon as NOTIFY_SOCKET, as systemd does. A
    /// thread records every datagram with its arrival time.
    final class NotifySocket {
        struct Datagram: Sendable { let at: Date; let text: String }
        /// What the receiving thread has recorded.
        private final class Inbox: Sendable {
            let datagrams = Mutex<[Datagram]>([])
        }
        let path: String
        private let fd: Int32
        private let inbox = Inbox()
        private var thread: Thread?

        init() {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))").path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            precondition(rc == 0, "cannot bind \(path)")
            var tv = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let t = Thread { [fd, inbox] in
                var buf = [UInt8](repeating: 0, count: 4096)
                while !Thread.current.isCancelled {
                    let n = recv(fd, &buf, buf.count, 0)
                    if n > 0 {
                        let d = Datagram(at: Date(), text: String(decoding: buf[0..<n], as: UTF8.self))
                        inbox.datagrams.withLock { $0.append(d) }
                    }
                }
            }
            thread = t
            t.start()
        }

        var datagrams: [Datagram] { inbox.datagrams.withLock { $0 } }

        /// Waits for a datagram after index `from` containing `line`; returns its index.
        func waitFor(_ line: String, from: Int = 0, timeout: TimeInterval) -> Int? {
            let deadline = Date().addingTimeInterval(timeout)
            repeat {
                let all = datagrams
                if from < all.count, let i = all[from...].firstIndex(where: { $0.text.split(separator: "\n").contains { $0.hasPrefix(line) } }) {
                    return i
                }
                usleep(50_000)
            } while Date() < deadline
            return nil
        }

        func close() {
            thread?.cancel()
            usleep(300_000)
            Glibc.close(fd)
            unlink(path)
        }
    }

    /// The daemon with its output in a file (a pipe nobody reads would block it).
    final class Daemon {
        let process = Process()
        let log: String
        init(config: String, environment extra: [String: String], log: String) throws {
            self.log = log
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["run", "--config", config]
            process.currentDirectoryURL = CLI.root
            process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }
        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        func signal(_ s: Int32) { kill(process.processIdentifier, s) }
        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            process.waitUntilExit()
        }
    }

    /// GET http://127.0.0.1:port/path; (status, body), or nil when nothing answers.
    static func get(port: Int, _ path: String) -> (status: Int, body: String)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, port: port) else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let head = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return (status, String(text[head.upperBound...]))
    }

    /// Whether a TCP connection to 127.0.0.1:port is accepted.
    static func connect(_ fd: Int32, port: Int) -> Bool {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        return connect(fd, port: port)
    }

    /// A short belt recording (no novel objects) at 320x180, 25 fps.
    static func video(in dir: URL, seconds: Int = 6) throws -> String {
        let video = dir.appendingPathComponent("belt.mp4").path
        let render = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                                    [video, "--seconds", "\(seconds)", "--novel", "", "--width", "320", "--height", "180"])
        XCTAssertEqual(render.status, 0, render.stderr)
        return video
    }

    /// Writes `<file>.yaml` in `dir`: one pipeline `cam` on a looping, paced recording that learns a tiny model (40
    /// frames, one student block, one epoch) in `stateDir`, publishing on `zmqPort` with a heartbeat every second.
    static func tinyLiveConfig(in dir: URL, video: String, zmqPort: Int, stateDir: String, file: String = "cam") throws -> String {
        let config = dir.appendingPathComponent("\(file).yaml").path
        try """
        publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", heartbeat_s: 1}
        pipelines:
          cam:
            source: \(video)
            loop: true
            realtime: true
            teacher: \(CLI.teacher)
            sample_fps: 10
            state_dir: \(stateDir)
            learning: {frames: 40}
            detector: {student_depth: 1, epochs: 1}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    /// The value of the Prometheus sample `name` with (at least) these labels, whatever their order.
    static func sample(_ metrics: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        metrics.split(separator: "\n").first { line in
            (line.hasPrefix(name + "{") || line.hasPrefix(name + " ")) && labels.allSatisfy { line.contains("\($0.key)=\"\($0.value)\"") }
        }.flatMap { Double($0.split(separator: " ").last!) }
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
