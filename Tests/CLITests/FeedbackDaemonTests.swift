import Foundation
import TestSupport
import XCTest

/// Operator feedback end to end, real components throughout: the daemon on a belt recording paced as a live camera,
/// where an orange disc passes three times and a green triangle once; a pyzmq subscriber; Debian's headless chromium
/// on the review page; `anomalyd feedback` on the command line. Once the first disc's episode has ended, the browser
/// sees it on the page with its snapshot and clicks "Not an anomaly": the second disc opens no episode (the feedback
/// topic reports its suppression), the triangle still does. Then `anomalyd feedback ... undo` takes the verdict back,
/// and the third disc opens an episode again.
final class FeedbackDaemonTests: XCTestCase {
    func testDismissingOnThePageSuppressesThatKindOnlyAndUndoRestoresIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-feedback-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // 118 s of belt at 640x360: discs enter at 62, 82 and 106 s, the triangle at 94 s (video time). Learning takes
        // the first 24 s and the fit ~20 s more on two cores, while the camera goes on; the first disc comes once the
        // pipeline has caught up, so that its dismissal reaches the daemon before the second disc does.
        let video = dir.appendingPathComponent("belt.mp4").path
        let render = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                                    [video, "--seconds", "118", "--novel", "62,82,94,106", "--novel-kinds", "disc,disc,triangle,disc",
                                     "--width", "640", "--height", "360"])
        XCTAssertEqual(render.status, 0, render.stderr)
        let truth = (try JSONSerialization.jsonObject(with: Data(render.stdout.utf8)) as! [String: Any])["novel"] as! [[String: Any]]
        let spans = truth.map { ($0["start"] as! Double, $0["end"] as! Double) }

        let zmqPort = freeLocalPort(), uiPort = freeLocalPort()
        let config = dir.appendingPathComponent("feedback.yaml").path
        try """
        publisher:
          endpoint: tcp://127.0.0.1:\(zmqPort)
        ui:
          listen: 127.0.0.1:\(uiPort)
        pipelines:
          belt:
            source: \(video)
            realtime: true
            teacher: \(CLI.teacher)
            sample_fps: 5
            state_dir: \(dir.path)/state
            learning: {frames: 120}
            decision: {frames_to_start: 2, frames_to_end: 3}
        """.write(toFile: config, atomically: true, encoding: .utf8)

        let collected = dir.appendingPathComponent("messages.jsonl").path
        let subscriber = try CLI.Child("/usr/bin/python3", [CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path,
                                                         "tcp://127.0.0.1:\(zmqPort)", collected])
        XCTAssertTrue(subscriber.waitFor("READY"))
        let daemon = try CLI.Child(CLI.binary, ["run", "--config", config])
        defer {
            daemon.stop()
            subscriber.stop()
        }
        func events(_ kind: String) -> [[String: Any]] {
            CLI.messages(collected).filter { ($0["topic"] as? String) == "anomaly/belt/\(kind)" }.compactMap { $0["message"] as? [String: Any] }
        }
        func pts(_ m: [String: Any]) -> Double { (m["frame"] as! [String: Any])["pts_seconds"] as! Double }
        func waitUntil(_ seconds: Double, _ what: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !what(), Date() < deadline, daemon.process.isRunning { usleep(200_000) }
            return what()
        }

        // The first disc's episode ends; the browser dismisses it from the page.
        XCTAssertTrue(waitUntil(240) { events("event").contains { ($0["type"] as? String) == "end" } }, "no first episode")
        let first = try XCTUnwrap(events("event").first { ($0["type"] as? String) == "end" })
        let dismissed = try XCTUnwrap(first["id"] as? String)
        XCTAssertLessThan(pts(first), spans[1].0 - 4, "the first episode ended too late to dismiss it before the next disc")
        let screenshot = dir.appendingPathComponent("page.png").path
        let browser = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/review_browser.py"), encoding: .utf8),
                                     ["--url", "http://127.0.0.1:\(uiPort)/", "--pipeline", "belt",
                                      "--dismiss", dismissed, "--screenshot", screenshot])
        XCTAssertEqual(browser.status, 0, browser.stdout + browser.stderr)
        let seen = try XCTUnwrap(browser.stdout.split(separator: "\n").last.flatMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, browser.stdout + browser.stderr)
        XCTAssertEqual(seen["ok"] as? Bool, true, browser.stdout)
        let dismissal = try XCTUnwrap(seen["dismissed"] as? [String: Any], browser.stdout)
        XCTAssertEqual(dismissal["id"] as? String, dismissed)
        XCTAssertEqual(dismissal["feedback"] as? String, "normal", browser.stdout)
        XCTAssertEqual(dismissal["seen_after_reload"] as? String, "normal", "the verdict is the daemon's: \(browser.stdout)")
        let views = try XCTUnwrap(seen["views"] as? [String: [String: Any]])
        for view in ["phone", "desktop"] {
            let cards = try XCTUnwrap(views[view]?["episodes"] as? [[String: Any]])
            let card = try XCTUnwrap(cards.first { ($0["id"] as? String) == dismissed }, "\(view): \(cards)")
            XCTAssertEqual((card["snapshot"] as? [Int])?.first, 640, "\(view): the full-resolution snapshot loaded")
            XCTAssertEqual(views[view]?["fits_width"] as? Bool, true, view)
            XCTAssertGreaterThan((try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("page-\(view).png").path)[.size] as? Int) ?? 0,
                                 10_000, "\(view) screenshot")
        }

        // Kept for the README (out/ is not committed; benchmarks/feedback/review-page.png is a copy).
        let kept = CLI.root.appendingPathComponent("out/tests")
        try? FileManager.default.createDirectory(at: kept, withIntermediateDirectories: true)
        for view in ["phone", "desktop"] {
            let target = kept.appendingPathComponent("review-page-\(view).png")
            try? FileManager.default.removeItem(at: target)
            try? FileManager.default.copyItem(at: dir.appendingPathComponent("page-\(view).png"), to: target)
        }

        // The triangle opens an episode; then the verdict is taken back on the command line.
        XCTAssertTrue(waitUntil(120) { events("event").contains { ($0["type"] as? String) == "new" && pts($0) >= spans[2].0 - 1 } },
                      "the triangle opened no episode")
        let undo = try CLI.run(["feedback", "--config", config, "--pipeline", "belt", "--episode", dismissed, "undo"])
        XCTAssertEqual(undo.status, 0, undo.stderr)
        XCTAssertTrue(undo.stdout.contains("\"normal\""), undo.stdout)
        XCTAssertTrue(waitUntil(120) { !daemon.process.isRunning }, "the daemon did not finish the recording")
        XCTAssertEqual(daemon.process.terminationStatus, 0)

        // By video time: the first disc, the triangle and the third disc (after the undo) each opened one episode;
        // the second disc none, and its suppression was reported naming the dismissed episode.
        var starts: [String: Double] = [:]
        for e in events("event") where starts[e["id"] as! String] == nil { starts[e["id"] as! String] = pts(e) }
        let opened = spans.map { span in starts.values.filter { $0 >= span.0 - 1 && $0 <= span.1 + 1 }.count }
        XCTAssertEqual(opened, [1, 0, 1, 1], "episodes per object (disc, disc, triangle, disc): \(starts.sorted { $0.value < $1.value })")
        XCTAssertEqual(starts.count, 3, "episodes where no novel object was: \(starts)")
        let notices = events("feedback")
        let suppressed = notices.filter { ($0["type"] as? String) == "suppressed" }
        XCTAssertTrue(suppressed.contains { ($0["episode"] as? String) == dismissed && pts($0) >= spans[1].0 - 1 && pts($0) <= spans[1].1 + 1 },
                      "no suppression reported for the second disc: \(notices)")
        XCTAssertEqual(notices.filter { ["verdict", "undo"].contains($0["type"] as? String) }.map { $0["type"] as! String }, ["verdict", "undo"])
    }
}
