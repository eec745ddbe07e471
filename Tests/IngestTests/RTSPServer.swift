import Foundation
import TestSupport
import XCTest
@testable import Ingest
import Synchronization

/// A real gst-rtsp-server (scripts/rtsp_server.py under Debian's /usr/bin/python3) on 127.0.0.1.
final class RTSPServer {
    let port: Int
    private let arguments: [String]
    private var process: Process?

    var url: String { "rtsp://127.0.0.1:\(port)/test" }

    init(fps: Int = 30, user: String? = nil, password: String? = nil) throws {
        port = freeLocalPort()
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
}

/// Consumes a source on its own task, keeping every frame, so a test can watch stats meanwhile.
final class Collector: Sendable {
    /// What the consuming task has seen: every frame, and the error that ended the source.
    private final class Inbox: Sendable {
        let state = Mutex<(frames: [Frame], failure: Error?)>(([], nil))
    }
    private let inbox: Inbox
    private let task: Task<Void, Never>

    init(_ source: FrameSource, delay: TimeInterval = 0) {
        let inbox = Inbox()
        self.inbox = inbox
        task = Task {
            do {
                for try await frame in source {
                    inbox.state.withLock { $0.frames.append(frame) }
                    if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
                }
            } catch {
                inbox.state.withLock { $0.failure = error }
            }
        }
    }

    var frames: [Frame] { inbox.state.withLock { $0.frames } }
    var error: Error? { inbox.state.withLock { $0.failure } }

    /// Cancels the consuming task and returns how long it took to finish.
    func cancel() async -> TimeInterval {
        let start = Date()
        task.cancel()
        await task.value
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
