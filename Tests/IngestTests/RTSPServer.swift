import Foundation
import XCTest
@testable import Ingest

/// A real gst-rtsp-server (scripts/rtsp_server.py under Debian's /usr/bin/python3) on 127.0.0.1.
final class RTSPServer {
    let port: Int
    private let arguments: [String]
    private var process: Process?

    var url: String { "rtsp://127.0.0.1:\(port)/test" }

    init(fps: Int = 30, user: String? = nil, password: String? = nil) throws {
        port = try RTSPServer.freePort()
        var arguments = ["--fps", "\(fps)"]
        if let user, let password { arguments += ["--user", user, "--password", password] }
        self.arguments = arguments
        try start()
    }

    deinit { kill() }

    /// Starts (or restarts, on the same port) and waits until the server listens.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Media.packageRoot.appendingPathComponent("scripts/rtsp_server.py").path,
                             "--port", "\(port)"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        self.process = process
        // The script prints "READY <port>" once attached; read it off the main flow so a hang cannot block.
        let ready = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let line = out.fileHandleForReading.availableData
            if String(decoding: line, as: UTF8.self).hasPrefix("READY") { ready.signal() }
        }
        guard ready.wait(timeout: .now() + 15) == .success else {
            kill()
            throw NSError(domain: "RTSPServer", code: 1,
                          userInfo: [NSLocalizedDescriptionKey: "rtsp_server.py did not become ready on port \(port)"])
        }
    }

    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// SIGSTOP: the TCP connection stays open but nothing more arrives, like a hung camera.
    func freeze() { if let process { Foundation.kill(process.processIdentifier, SIGSTOP) } }
    func thaw() { if let process { Foundation.kill(process.processIdentifier, SIGCONT) } }

    /// A port nothing listens on right now: bind port 0, read what the kernel chose, release it.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw NSError(domain: "RTSPServer", code: 2) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Consumes a source on its own task, keeping every frame, so a test can watch stats meanwhile.
final class Collector: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [Frame] = []
    private var failure: Error?
    private var task: Task<Void, Never>?

    init(_ source: FrameSource, delay: TimeInterval = 0) {
        task = Task { [self] in
            do {
                for try await frame in source {
                    lock.withLock { received.append(frame) }
                    if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
                }
            } catch {
                lock.withLock { failure = error }
            }
        }
    }

    var frames: [Frame] { lock.withLock { received } }
    var error: Error? { lock.withLock { failure } }

    /// Cancels the consuming task and returns how long it took to finish.
    func cancel() async -> TimeInterval {
        let start = Date()
        task?.cancel()
        await task?.value
        return Date().timeIntervalSince(start)
    }
}

/// Polls until `condition` holds or `timeout` passes; returns whether it held.
func eventually(within timeout: TimeInterval, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return condition()
}
