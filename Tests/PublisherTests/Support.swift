import Decisions
import Foundation
import XCTest
@testable import Publisher
import Synchronization

/// A child process whose output is collected as it arrives, so a test can wait for lines while it works.
final class Subprocess: Sendable {
    let process = Process()
    private let input = Pipe()
    private let output = Mutex((out: Data(), err: Data()))

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let o = Pipe(), e = Pipe()
        process.standardOutput = o
        process.standardError = e
        process.standardInput = input
        o.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, toErr: false) }
        e.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, toErr: true) }
        try process.run()
    }

    // SIGKILL, not SIGTERM: a child started from a concurrency thread inherits its blocked signals, SIGTERM among
    // them, and would otherwise live on, reconnecting to whatever later binds its old port.
    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    private func append(_ d: Data, toErr: Bool) {
        output.withLock { if toErr { $0.err.append(d) } else { $0.out.append(d) } }
    }

    /// Complete stdout lines so far.
    var lines: [String] {
        let out = output.withLock { $0.out }
        return String(decoding: out, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    var stderr: String { String(decoding: output.withLock { $0.err }, as: UTF8.self) }

    func send(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

    /// Polls until `done` holds for the stdout lines; fails with the child's stderr after `timeout` seconds.
    @discardableResult
    func waitFor(_ what: String, timeout: Double = 15, file: StaticString = #filePath, line: UInt = #line,
                 _ done: ([String]) -> Bool) async -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let l = lines
            if done(l) { return l }
            if !process.isRunning { break }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let l = lines
        if !done(l) {
            XCTFail("timed out waiting for \(what); \(l.count) lines; stderr: \(stderr)", file: file, line: line)
        }
        return l
    }

    /// Waits for the process to exit, up to `timeout` seconds; returns its status or nil if it is still running.
    func waitForExit(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try? await Task.sleep(nanoseconds: 20_000_000) }
        return process.isRunning ? nil : process.terminationStatus
    }
}

/// A real pyzmq SUB socket in a Python child process (Debian's python3-zmq), printing one JSON line per message:
/// {"topic", "parts", "jpeg" (frame 2 length or null), "raw" (frame 1 as text), "message" (frame 1 parsed)}.
/// With `stalled`, it uses tiny receive buffers and reads nothing until it gets a line on stdin.
enum PythonSubscriber {
    static let script = #"""
import json, sys, zmq
endpoint, prefixes, stalled = sys.argv[1], sys.argv[2].split(","), sys.argv[3] == "stalled"
sub = zmq.Context.instance().socket(zmq.SUB)
if stalled:
    sub.setsockopt(zmq.RCVHWM, 10)
    sub.setsockopt(zmq.RCVBUF, 4096)
sub.connect(endpoint)
for p in prefixes:
    sub.setsockopt(zmq.SUBSCRIBE, p.encode())
if stalled:
    sys.stdin.readline()
while True:
    topic, payload, *rest = sub.recv_multipart()
    print(json.dumps({"topic": topic.decode(), "parts": 2 + len(rest), "jpeg": len(rest[0]) if rest else None,
                      "raw": payload.decode(), "message": json.loads(payload)}), flush=True)
"""#

    static func start(endpoint: String, prefixes: [String], stalled: Bool = false) throws -> Subprocess {
        try Subprocess("/usr/bin/python3", ["-c", script, endpoint, prefixes.joined(separator: ","), stalled ? "stalled" : "reading"])
    }
}

/// A pyzmq SUB that connects from 127.0.0.2 (another peer address than the other subscribers' 127.0.0.1),
/// subscribes to `count` distinct prefixes as fast as it can (its send queue unbounded, so none is dropped on its
/// side), prints SENT, and stays connected until it gets a line on stdin.
enum PythonFlooder {
    static let script = #"""
import sys, zmq
sub = zmq.Context.instance().socket(zmq.SUB)
sub.setsockopt(zmq.SNDHWM, 0)
sub.setsockopt(zmq.LINGER, 0)
sub.connect(sys.argv[1].replace("tcp://", "tcp://127.0.0.2:0;"))
for i in range(int(sys.argv[2])):
    sub.setsockopt(zmq.SUBSCRIBE, b"anomaly/flood-%d/" % i)
print("SENT", flush=True)
sys.stdin.readline()
"""#

    static func start(endpoint: String, count: Int) throws -> Subprocess {
        try Subprocess("/usr/bin/python3", ["-c", script, endpoint, "\(count)"])
    }
}

/// Tests/CLITests/Fixtures/zmtp_frame.py: a raw ZMTP peer that declares one huge frame; prints CLOSED or OPEN.
enum ZMTPFramePeer {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CLITests/Fixtures/zmtp_frame.py").path

    /// Whether the server at `endpoint` (tcp://HOST:PORT) dropped the connection after the frame header.
    static func run(endpoint: String, declaring declared: UInt64, sending body: Int) async throws -> String {
        let address = endpoint.replacingOccurrences(of: "tcp://", with: "")
        let colon = try XCTUnwrap(address.lastIndex(of: ":"))
        let peer = try Subprocess("/usr/bin/python3", [path, String(address[..<colon]), String(address[address.index(after: colon)...]),
                                                       "\(declared)", "\(body)"])
        let status = await peer.waitForExit(timeout: 30)
        XCTAssertEqual(status, 0, peer.stderr)
        return peer.lines.last ?? ""
    }
}

/// One line printed by PythonSubscriber.
struct Received {
    let topic: String
    let parts: Int
    let jpeg: Int?
    let raw: String
    let message: [String: Any]

    init(_ line: String) throws {
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        topic = try XCTUnwrap(o["topic"] as? String)
        parts = try XCTUnwrap(o["parts"] as? Int)
        jpeg = o["jpeg"] as? Int
        raw = try XCTUnwrap(o["raw"] as? String)
        message = try XCTUnwrap(o["message"] as? [String: Any])
    }

    var seq: Int { message["seq"] as? Int ?? -1 }
}

extension EventPublisher {
    /// Binds a publisher on a free loopback port.
    static func loopback(_ configure: (inout PublisherSettings) -> Void = { _ in }) throws -> EventPublisher {
        var s = PublisherSettings()
        s.endpoint = "tcp://127.0.0.1:*"
        configure(&s)
        return try EventPublisher(settings: s, host: "test-host")
    }

    /// Waits until `count` subscriptions have arrived, so nothing published afterwards is lost to a slow joiner.
    func waitForSubscriptions(_ count: Int, timeout: Double = 15) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while subscriptionCount() < count {
            guard Date() < deadline else {
                throw PublisherError.socketFailed(endpoint: endpoint, operation: "waiting for \(count) subscriptions",
                                                  reason: "only \(subscriptionCount()) after \(timeout) s")
            }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
    }
}

/// Episode messages made by a real decision stage from a scripted score sequence.
enum Episodes {
    static let model = ModelInfo(version: "20261122T030000Z-3c9e1a", teacher: "vit_tiny_patch16_224.augreg_in21k_ft_in1k")
    static let latency = Latency(decode: 6.1, infer: 41)

    static func decisions(pipeline: String = "line3", scores: [Double]) throws -> [EpisodeDecision] {
        var settings = DecisionSettings()
        settings.framesToStart = 2
        settings.framesToEnd = 2
        settings.updateIntervalSeconds = 0
        var stage = try DecisionStage(pipeline: pipeline, settings: settings)
        var map = [Float](repeating: 0.1, count: 196)
        map[6 * 14 + 9] = 2
        return scores.enumerated().compactMap { i, s in
            stage.process(ScoredFrame(score: s, rawScore: s * 20, index: 98_000 + i, pts: Double(i) / 25,
                                      captureTime: Date(), patchErrors: map, grid: 14, sourceWidth: 1920, sourceHeight: 1080))
        }
    }

    /// new, update, end.
    static func full(pipeline: String = "line3") throws -> [EpisodeDecision] {
        let d = try decisions(pipeline: pipeline, scores: [0.6, 0.7, 0.9, 0.1, 0.1])
        precondition(d.map(\.type) == [.new, .update, .end])
        return d
    }

    static let status = PipelineStatus(state: .detecting, source: SourceStatus(state: .up, url: "rtsp://***@cam/stream"),
                                       counters: Counters(framesDecoded: 10, framesScored: 5), model: model, sensitivity: 0.5)
}

/// Runs `body`, returning nil if it has not finished after `seconds` (an upper bound for "does not block").
/// The body runs in a detached task, so a body that really blocks fails the test instead of hanging it.
func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    let box = ResultBox<T>()
    Task.detached { box.set(await Result(catching: body)) }
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let r = box.get() { return try r.get() }
        try await Task.sleep(nanoseconds: 5_000_000)
    }
    return try box.get()?.get()
}

final class ResultBox<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, Error>?>(nil)
    func set(_ r: Result<T, Error>) { result.withLock { $0 = r } }
    func get() -> Result<T, Error>? { result.withLock { $0 } }
}

extension Result where Failure == Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
