import Foundation
import TestSupport
import XCTest

/// One failing camera never stops another: a pipeline whose source is missing fails and is restarted on its own,
/// while a healthy pipeline in the same daemon learns, detects and finishes; SIGTERM then stops the daemon cleanly.
final class PipelineIsolationTests: XCTestCase {
    func testFailingPipelineDoesNotStopAHealthyOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-iso-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = dir.appendingPathComponent("belt.mp4").path
        let render = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                                    [video, "--seconds", "14", "--novel", "", "--width", "320", "--height", "180"])
        XCTAssertEqual(render.status, 0, render.stderr)
        let zmqPort = freeLocalPort()
        let config = dir.appendingPathComponent("two.yaml").path
        try """
        publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", heartbeat_s: 1}
        defaults:
          teacher: \(CLI.teacher)
          sample_fps: 5
          learning: {frames: 50}
          detector: {student_depth: 1, epochs: 2}
        pipelines:
          broken:
            source: \(dir.path)/missing-camera.mp4
            state_dir: \(dir.path)/broken
          healthy:
            source: \(video)
            state_dir: \(dir.path)/healthy
        """.write(toFile: config, atomically: true, encoding: .utf8)

        let collected = dir.appendingPathComponent("messages.jsonl").path
        let subscriber = try CLI.Child("/usr/bin/python3", [
            CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path, "tcp://127.0.0.1:\(zmqPort)", collected])
        XCTAssertTrue(subscriber.waitFor("READY"))
        let daemon = try CLI.Child(CLI.binary, ["run", "--config", config])
        defer {
            daemon.stop()
            subscriber.stop()
        }
        func states(_ pipeline: String) -> [String] {
            CLI.messages(collected)
                .filter { ($0["topic"] as? String) == "anomaly/\(pipeline)/status" }
                .compactMap { ($0["message"] as? [String: Any])?["state"] as? String }
        }
        let deadline = Date().addingTimeInterval(90)
        while !states("healthy").contains("stopping") && Date() < deadline && daemon.process.isRunning { usleep(200_000) }
        let healthy = states("healthy")
        XCTAssertTrue(healthy.contains("learning"), "\(healthy)")
        XCTAssertTrue(healthy.contains("detecting"), "\(healthy)")
        XCTAssertTrue(healthy.contains("stopping"), "the healthy pipeline ran to the end of its source: \(healthy)")
        XCTAssertFalse(healthy.contains("failed"))
        XCTAssertTrue(states("broken").contains("failed"), "the broken pipeline reports its failure")
        XCTAssertTrue(daemon.process.isRunning, "the daemon keeps retrying the broken pipeline")
        daemon.stop()
        XCTAssertEqual(daemon.process.terminationStatus, 0)
        let failure = CLI.messages(collected).first {
            ($0["topic"] as? String) == "anomaly/broken/status" && (($0["message"] as? [String: Any])?["state"] as? String) == "failed"
        }
        let detail = (failure?["message"] as? [String: Any])?["detail"] as? String ?? ""
        XCTAssertTrue(detail.contains("missing-camera.mp4"), "the failure names the source: \(detail)")
    }
}
