import CZMQ
import Foundation
import XCTest

/// Runs the built `anomalyd subscribe` against a raw ZeroMQ XPUB socket that sends hand-made seq numbers.
final class SubscribeCommandTests: XCTestCase {
    /// The test bundle sits beside the executables in the build products directory.
    static var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("anomalyd").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    func testPrintsJSONLinesReportsGapsAndStopsOnSIGINT() async throws {
        let ctx = try XCTUnwrap(zmq_ctx_new())
        let xpub = try XCTUnwrap(zmq_socket(ctx, ZMQ_XPUB))
        defer { zmq_close(xpub); zmq_ctx_term(ctx) }
        var zero: Int32 = 0, timeout: Int32 = 15_000
        zmq_setsockopt(xpub, ZMQ_LINGER, &zero, 4)
        zmq_setsockopt(xpub, ZMQ_RCVTIMEO, &timeout, 4)
        XCTAssertEqual(zmq_bind(xpub, "tcp://127.0.0.1:*"), 0)
        var buf = [CChar](repeating: 0, count: 256)
        var len = buf.count
        zmq_getsockopt(xpub, ZMQ_LAST_ENDPOINT, &buf, &len)
        let endpoint = String(decoding: buf.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)

        let cli = try Subprocess(Self.binary, ["subscribe", "--endpoint", endpoint, "--pipeline", "line3"])
        // XPUB hands us the subscription: proof the subscriber is connected before anything is sent.
        var sub = [UInt8](repeating: 0, count: 64)
        let n = zmq_recv(xpub, &sub, sub.count, 0)
        XCTAssertGreaterThan(n, 0, "no subscription from anomalyd subscribe; stderr: \(cli.stderr)")
        XCTAssertEqual(String(decoding: sub[1..<Int(max(n, 1))], as: UTF8.self), "anomaly/line3/")
        XCTAssertEqual(sub[0], 1)

        func send(_ topic: String, _ json: String) {
            XCTAssertEqual(zmq_send(xpub, topic, topic.utf8.count, ZMQ_SNDMORE), Int32(topic.utf8.count))
            XCTAssertEqual(zmq_send(xpub, json, json.utf8.count, 0), Int32(json.utf8.count))
        }
        let messages = [1, 2, 5].map { #"{"schema":"anomalyd.heartbeat/1","seq":\#($0),"pipeline":"line3"}"# }
        send("anomaly/line3/heartbeat", messages[0])
        send("anomaly/line3/heartbeat", messages[1])
        send("anomaly/line30/heartbeat", #"{"seq":99,"pipeline":"line30"}"#)
        send("anomaly/line3/heartbeat", messages[2])

        let lines = await cli.waitFor("3 JSON lines") { $0.count >= 3 }
        XCTAssertEqual(lines, messages, "each message's JSON on one line, line30 filtered out")
        let deadline = Date().addingTimeInterval(10)
        while !cli.stderr.contains("gap:") && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        XCTAssertEqual(cli.stderr, "gap: pipeline line3 seq 2 -> 5 (2 lost)\n")

        kill(cli.process.processIdentifier, SIGINT)
        let status = await cli.waitForExit(timeout: 10)
        XCTAssertEqual(status, 0, "anomalyd subscribe must exit cleanly on SIGINT")
    }

    func testRejectsAnInvalidPipelineName() async throws {
        let cli = try Subprocess(Self.binary, ["subscribe", "--endpoint", "tcp://127.0.0.1:1", "--pipeline", "Line3"])
        let status = await cli.waitForExit(timeout: 10)
        XCTAssertNotNil(status)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(cli.stderr.contains("invalid --pipeline 'Line3'"), cli.stderr)
    }
}
