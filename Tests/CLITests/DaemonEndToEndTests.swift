import Foundation
import TestSupport
import XCTest

/// The whole daemon against real components: a generated conveyor-belt recording served by gst-rtsp-server, the
/// daemon learning from the stream and then detecting, and a pyzmq subscriber receiving the events. The RTSP
/// server is restarted once the model is ready; the replay that follows (same video from the start) is what the
/// detection is judged on, and the restart must cost a reconnect, not the pipeline. The detector is a small student
/// and the Gaussian: the default one learns these 12 s in about 5 s, so it detects the first pass's objects before
/// the restart, and from so few frames its patch memory opened a false episode (benchmarks judge the detector).
final class DaemonEndToEndTests: XCTestCase {
    func testLearnsThenDetectsNovelObjectsOverRTSP() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // 36 s of belt at 640x360: novel objects enter at 24 s and 30 s (video time).
        let video = dir.appendingPathComponent("belt.mp4").path
        let render = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                                    [video, "--seconds", "36", "--novel", "24,30", "--width", "640", "--height", "360"])
        XCTAssertEqual(render.status, 0, render.stderr)
        let truth = (try JSONSerialization.jsonObject(with: Data(render.stdout.utf8)) as! [String: Any])["novel"] as! [[String: Any]]
        let spans = truth.map { ($0["start"] as! Double, $0["end"] as! Double) }

        let rtspPort = freeLocalPort(), zmqPort = freeLocalPort()
        let serverArgs = [CLI.root.appendingPathComponent("scripts/rtsp_server.py").path, "--port", "\(rtspPort)",
                          "--path", "/belt", "--file", video]
        var server = try CLI.Child("/usr/bin/python3", serverArgs)
        XCTAssertTrue(server.waitFor("READY"), "RTSP server did not start")
        let config = dir.appendingPathComponent("e2e.yaml").path
        try """
        publisher:
          endpoint: tcp://127.0.0.1:\(zmqPort)
          heartbeat_s: 1
        pipelines:
          belt:
            source: rtsp://${CAM_USER}:${CAM_PASS}@127.0.0.1:\(rtspPort)/belt
            teacher: \(CLI.teacher)
            sample_fps: 5
            state_dir: \(dir.path)/state
            learning: {frames: 60}
            detector: {student_depth: 2, epochs: 4, patch_memory: 0}
            decision: {frames_to_start: 2, frames_to_end: 3}
        """.write(toFile: config, atomically: true, encoding: .utf8)

        let collected = dir.appendingPathComponent("messages.jsonl").path
        let subscriber = try CLI.Child("/usr/bin/python3", [CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path,
                                                         "tcp://127.0.0.1:\(zmqPort)", collected])
        XCTAssertTrue(subscriber.waitFor("READY"))
        // The server ignores credentials it does not ask for; the point is that they come from the environment.
        var env = ProcessInfo.processInfo.environment
        env["CAM_USER"] = "viewer"
        env["CAM_PASS"] = "s3cret"
        let daemon = try CLI.Child(CLI.binary, ["run", "--config", config], environment: env)
        defer {
            daemon.stop()
            subscriber.stop()
            server.stop()
        }

        // Wait for the model, then restart the RTSP server: the stream starts over from the first frame.
        let deadline = Date().addingTimeInterval(120)
        func state() -> String? {
            CLI.messages(collected).last { ($0["topic"] as? String) == "anomaly/belt/status" }
                .flatMap { ($0["message"] as? [String: Any])?["state"] as? String }
        }
        while state() != "detecting" && Date() < deadline && daemon.process.isRunning { usleep(200_000) }
        XCTAssertEqual(state(), "detecting", "the daemon did not finish learning")
        let beforeRestart = CLI.messages(collected).count
        server.stop(SIGKILL)
        server = try CLI.Child("/usr/bin/python3", serverArgs)
        XCTAssertTrue(server.waitFor("READY"), "RTSP server did not restart")

        // The replay: 36 s of video, plus a margin for the reconnect.
        Thread.sleep(forTimeInterval: 42)
        XCTAssertTrue(daemon.process.isRunning, "the pipeline must survive the server restart")
        daemon.stop()
        XCTAssertEqual(daemon.process.terminationStatus, 0, "a SIGTERM shutdown exits cleanly")
        Thread.sleep(forTimeInterval: 0.5)
        subscriber.stop()

        let all = CLI.messages(collected)
        // seq has no gaps. (The very first messages may precede the subscription's arrival at the publisher:
        // ZeroMQ's slow joiner. That is not a gap in what the subscriber receives.)
        let seqs = all.compactMap { ($0["message"] as? [String: Any])?["seq"] as? Int }
        XCTAssertFalse(seqs.isEmpty)
        XCTAssertEqual(seqs, Array(seqs.first!...(seqs.first! + seqs.count - 1)), "seq gaps")

        // A reconnect was counted, and the pipeline kept its model (no relearning after the restart).
        let statuses = all.filter { ($0["topic"] as? String) == "anomaly/belt/status" }.map { $0["message"] as! [String: Any] }
        let reconnects = statuses.compactMap { ($0["source"] as? [String: Any])?["reconnects"] as? Int }.max() ?? 0
        XCTAssertGreaterThanOrEqual(reconnects, 1)
        XCTAssertFalse(statuses.dropFirst(beforeRestart).contains { ($0["state"] as? String) == "learning" })
        XCTAssertFalse(statuses.contains { ($0["state"] as? String) == "failed" })

        // Episodes after the restart, by video time: exactly one per novel object, overlapping its span, none elsewhere.
        let events = all.dropFirst(beforeRestart).filter { ($0["topic"] as? String) == "anomaly/belt/event" }
            .map { ($0["message"] as! [String: Any], $0["parts"] as! Int) }
        var episodes: [String: (start: Double, end: Double?, types: [String])] = [:]
        for (e, parts) in events {
            let id = e["id"] as! String, type = e["type"] as! String
            let pts = (e["frame"] as! [String: Any])["pts_seconds"] as! Double
            XCTAssertEqual(e["schema"] as? String, "anomalyd.event/1")
            if type != "end" { XCTAssertEqual(parts, 3, "new/update events carry the JPEG evidence") }
            var ep = episodes[id] ?? (pts, nil, [])
            ep.types.append(type)
            if type == "end" { ep.end = pts }
            episodes[id] = ep
        }
        for ep in episodes.values {
            XCTAssertEqual(ep.types.first, "new")
            XCTAssertEqual(ep.types.last, "end")
        }
        for (start, end) in spans {
            let matching = episodes.values.filter { $0.start <= end && ($0.end ?? .infinity) >= start }
            XCTAssertEqual(matching.count, 1, "novel object in view \(start)-\(end) s: episodes \(episodes)")
        }
        XCTAssertEqual(episodes.count, spans.count, "episodes where nothing novel appears: \(episodes)")
        // Credentials never reach subscribers.
        XCTAssertFalse(all.contains { "\($0)".contains("s3cret") })
    }
}
