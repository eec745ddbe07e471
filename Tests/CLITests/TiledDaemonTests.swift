import Foundation
import TestSupport
import XCTest

/// The daemon with a region of interest scored as two tiles and an ignored area: a recorded belt in which, after
/// the learning phase, a red square blinks inside the ignored area (a clock, a walkway). Each novel object opens
/// exactly one episode whose box is in source pixels, on the object, inside the roi, naming its tiles; the
/// blinking square opens none.
final class TiledDaemonTests: XCTestCase {
    func testRoiTilesAndIgnoreCatchTheObjectsInSourcePixelsAndNotTheIgnoredBlink() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-tiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // 34 s at 640x360 (belt y 90...270); novel objects enter at 20 s and 26 s (video time).
        let plain = dir.appendingPathComponent("plain.mp4").path, video = dir.appendingPathComponent("belt.mp4").path
        let render = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                                    [plain, "--seconds", "34", "--novel", "20,26", "--width", "640", "--height", "360", "--fps", "10"])
        XCTAssertEqual(render.status, 0, render.stderr)
        let truth = (try JSONSerialization.jsonObject(with: Data(render.stdout.utf8)) as! [String: Any])["novel"] as! [[String: Any]]
        let spans = truth.map { ($0["start"] as! Double, $0["end"] as! Double) }
        // From 14 s (after the 12 s of learning frames), a red 50x50 square at x 20...69, y 150...199, on for 1.5 s
        // of every 3.
        let blink = Process()
        blink.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        blink.arguments = ["-v", "error", "-y", "-i", plain, "-vf",
                           "drawbox=x=20:y=150:w=50:h=50:color=red:t=fill:enable='gt(t,14)*lt(mod(t,3),1.5)'",
                           "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", video]
        try blink.run()
        blink.waitUntilExit()
        XCTAssertEqual(blink.terminationStatus, 0)

        let zmqPort = freeLocalPort()
        let config = dir.appendingPathComponent("tiles.yaml").path
        try """
        publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", heartbeat_s: 1}
        pipelines:
          belt:
            source: \(video)
            teacher: \(CLI.teacher)
            sample_fps: 5
            roi: [0, 80, 640, 200]
            tiles: [2, 1]
            ignore:
              - [[0, 130], [100, 130], [100, 220], [0, 220]]
            state_dir: \(dir.path)/state
            learning: {frames: 60}
            detector: {student_depth: 0, patch_memory: 1024}
            decision: {frames_to_start: 2, frames_to_end: 3}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try CLI.run(["check", "--config", config])
        XCTAssertEqual(check.status, 0, check.stderr)

        let collected = dir.appendingPathComponent("messages.jsonl").path
        let subscriber = try CLI.Child("/usr/bin/python3", [
            CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path, "tcp://127.0.0.1:\(zmqPort)", collected])
        XCTAssertTrue(subscriber.waitFor("READY"))
        let daemon = try CLI.Child(CLI.binary, ["run", "--config", config])
        defer {
            daemon.stop()
            subscriber.stop()
        }
        func states() -> [String] {
            CLI.messages(collected).filter { ($0["topic"] as? String) == "anomaly/belt/status" }
                .compactMap { ($0["message"] as? [String: Any])?["state"] as? String }
        }
        let deadline = Date().addingTimeInterval(240)
        while !states().contains("stopping") && Date() < deadline && daemon.process.isRunning { usleep(200_000) }
        XCTAssertTrue(states().contains("stopping"), "the pipeline ran to the end of its file: \(states())")
        XCTAssertFalse(states().contains("failed"))
        daemon.stop()
        Thread.sleep(forTimeInterval: 0.5)
        subscriber.stop()

        let events = CLI.messages(collected).filter { ($0["topic"] as? String) == "anomaly/belt/event" }
            .map { ($0["message"] as! [String: Any], $0["parts"] as! Int) }
        var episodes: [String: (start: Double, end: Double?)] = [:]
        for (e, parts) in events {
            let id = e["id"] as! String, type = e["type"] as! String
            let pts = (e["frame"] as! [String: Any])["pts_seconds"] as! Double
            if episodes[id] == nil { episodes[id] = (pts, nil) }
            if type == "end" { episodes[id]!.end = pts; continue }
            XCTAssertEqual(parts, 3, "new/update events carry the evidence of the peak's tile")
            let region = try XCTUnwrap(e["region"] as? [String: Any], "\(e)")
            XCTAssertEqual(region["grid"] as? [Int], [14, 28])
            let box = try XCTUnwrap(region["bbox"] as? [Int])
            let tiles = try XCTUnwrap(region["tiles"] as? [Int], "a tiled frame's region names its tiles")
            XCTAssertFalse(tiles.isEmpty)
            XCTAssertTrue(tiles.allSatisfy { (0...1).contains($0) }, "\(tiles)")
            // Inside the roi, and on the belt's objects (y 120...240 around the belt's centre line at 180).
            XCTAssertTrue(box[0] >= 0 && box[1] >= 80 && box[2] <= 640 && box[3] <= 280 && box[0] < box[2] && box[1] < box[3], "\(box)")
            XCTAssertTrue(box[1] < 240 && box[3] > 120, "the box \(box) is on the belt's objects")
            XCTAssertFalse(box[2] <= 100 && box[1] >= 130 && box[3] <= 220, "a box inside the ignored area: \(box)")
        }
        for (start, end) in spans {
            let matching = episodes.values.filter { $0.start <= end + 1 && ($0.end ?? .infinity) >= start - 1 }
            XCTAssertEqual(matching.count, 1, "novel object in view \(start)-\(end) s: episodes \(episodes)")
        }
        XCTAssertEqual(episodes.count, spans.count, "episodes where nothing novel appears (the blink is ignored): \(episodes)")
    }
}
