import Foundation
import TestSupport
import XCTest

/// The systemd notify contract (CONVENTIONS.md §5) against the real daemon, with NOTIFY_SOCKET a Unix datagram
/// socket bound by the test as systemd binds it: READY=1 once the publisher is bound, WATCHDOG=1 only while
/// frames move, RELOADING=1/READY=1 around a SIGHUP reload, and a bad file on SIGHUP keeps the running pipelines.
final class SystemdContractTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-systemd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// Learns a tiny model, detects, then the inference stage is wedged by the test-only fault injection
    /// (ANOMALYD_FAULT_INJECT): pings flow while learning and detecting and stop once no frame moves.
    func testReadyAfterBindThenWatchdogOnlyWhileFramesFlow() throws {
        let video = try ServiceHarness.video(in: dir)
        let zmqPort = freeLocalPort()
        let config = try ServiceHarness.tinyLiveConfig(in: dir, video: video, zmqPort: zmqPort, stateDir: "\(dir.path)/state")
        let notify = ServiceHarness.NotifySocket()
        defer { notify.close() }
        // WATCHDOG_USEC of 2 s: a ping every second, none once the pipeline has been still for 2 s.
        let daemon = try ServiceHarness.Daemon(config: config, environment: [
            "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000", "ANOMALYD_FAULT_INJECT": "wedge-infer-after:40",
        ], log: dir.appendingPathComponent("daemon.log").path)
        defer { daemon.stop() }

        let ready = try XCTUnwrap(notify.waitFor("READY=1", timeout: 60), "no READY=1: \(daemon.output)")
        XCTAssertTrue(ServiceHarness.accepts(port: zmqPort), "READY=1 came before the publisher was bound")
        XCTAssertEqual(ready, 0, "READY=1 is the first message: \(notify.datagrams.map(\.text))")
        XCTAssertTrue(notify.datagrams[ready].text.contains("STATUS=publishing on tcp://127.0.0.1:\(zmqPort)"))

        // Learning (collecting, then training) and detecting: pings keep coming.
        let deadline = Date().addingTimeInterval(120)
        while !daemon.output.contains("fault injection: wedging") && Date() < deadline && daemon.process.isRunning { usleep(100_000) }
        let wedgedAt = Date()
        XCTAssertTrue(daemon.output.contains("learning done: detecting"), daemon.output)
        XCTAssertTrue(daemon.output.contains("fault injection: wedging"), "the pipeline never got to detect 40 frames: \(daemon.output)")
        let pings = notify.datagrams.filter { $0.text == "WATCHDOG=1\n" }.map(\.at)
        let readyAt = notify.datagrams[ready].at
        XCTAssertGreaterThanOrEqual(pings.count, Int(wedgedAt.timeIntervalSince(readyAt)) - 2, "about one ping a second while frames flow")
        let gaps = zip(pings.dropFirst(), pings).map { $0.timeIntervalSince($1) }
        XCTAssertLessThan(gaps.max() ?? 99, 2.0, "pings closer than WATCHDOG_USEC while learning and detecting: \(gaps)")

        // Wedged: pings stop once nothing went through for the 2 s tolerance (plus a tick), and none come after.
        Thread.sleep(forTimeInterval: 6)
        let late = notify.datagrams.filter { $0.text == "WATCHDOG=1\n" && $0.at > wedgedAt.addingTimeInterval(4) }
        XCTAssertEqual(late.count, 0, "pings continued \(late.map { $0.at.timeIntervalSince(wedgedAt) }) s after the wedge")
        XCTAssertTrue(daemon.output.contains("pipeline wedged"), daemon.output)
        XCTAssertNotNil(notify.waitFor("STATUS=wedged: cam", timeout: 0))
        XCTAssertTrue(daemon.process.isRunning, "the daemon does not kill itself: systemd acts on the missing pings")

        // SIGTERM still drains a wedged stage (it waits cancellably) and says STOPPING=1.
        daemon.stop()
        XCTAssertEqual(daemon.process.terminationStatus, 0, daemon.output)
        XCTAssertNotNil(notify.waitFor("STOPPING=1", timeout: 2))
    }

    /// SIGHUP with a broken file: RELOADING=1 with MONOTONIC_USEC, READY=1 again, the log names the file, line and
    /// field, and the pipeline keeps publishing. Then good files: a new pipeline starts while the unchanged one
    /// runs on, and a changed one restarts.
    func testSIGHUPReloadsAndABadFileKeepsTheOldConfiguration() throws {
        let video = try ServiceHarness.video(in: dir)
        let zmqPort = freeLocalPort()
        let config = dir.appendingPathComponent("cam.yaml").path
        // Learning never completes (10000 frames, the most allowed): only collecting, which is cheap.
        func write(_ pipelines: String) throws {
            try """
            publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", heartbeat_s: 1, status_s: 1}
            defaults:
              source: \(video)
              loop: true
              realtime: true
              teacher: \(CLI.teacher)
              state_dir: \(dir.path)/state
              learning: {frames: 10000}
            pipelines:
            \(pipelines)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write("  cam: {sample_fps: 5}")
        let collected = dir.appendingPathComponent("messages.jsonl").path
        let subscriber = try CLI.Child("/usr/bin/python3", [
            CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path, "tcp://127.0.0.1:\(zmqPort)", collected])
        XCTAssertTrue(subscriber.waitFor("READY"))
        let notify = ServiceHarness.NotifySocket()
        defer { notify.close() }
        let daemon = try ServiceHarness.Daemon(config: config, environment: ["NOTIFY_SOCKET": notify.path],
                                               log: dir.appendingPathComponent("daemon.log").path)
        defer {
            daemon.stop()
            subscriber.stop()
        }
        XCTAssertNotNil(notify.waitFor("READY=1", timeout: 60), daemon.output)

        func decoded(_ pipeline: String) -> [Int] {
            CLI.messages(collected).filter { ($0["topic"] as? String) == "anomaly/\(pipeline)/status" }
                .compactMap { (($0["message"] as? [String: Any])?["counters"] as? [String: Any])?["frames_decoded"] as? Int }
        }
        func reload(expecting status: String) throws -> String {
            let before = notify.datagrams.count
            let sentAt = ServiceHarness.monotonicMicroseconds()
            daemon.signal(SIGHUP)
            let r = try XCTUnwrap(notify.waitFor("RELOADING=1", from: before, timeout: 10), daemon.output)
            let stamp = try XCTUnwrap(notify.datagrams[r].text.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") })
            let usec = try XCTUnwrap(UInt64(stamp.dropFirst("MONOTONIC_USEC=".count)))
            XCTAssertTrue(usec >= sentAt && usec < sentAt + 10_000_000, "MONOTONIC_USEC is CLOCK_MONOTONIC at the reload")
            let ready = try XCTUnwrap(notify.waitFor("READY=1", from: r + 1, timeout: 30), daemon.output)
            let text = notify.datagrams[ready].text
            XCTAssertTrue(text.contains("STATUS=\(status)"), text)
            return text
        }

        // A broken file: the type of a field is wrong.
        try write("  cam: {sample_fps: fast}")
        _ = try reload(expecting: "reload failed, running the previous configuration")
        XCTAssertTrue(daemon.output.contains("reload failed; keeping the running configuration"), daemon.output)
        XCTAssertTrue(daemon.output.contains(config) && daemon.output.contains("sample_fps"), "the log names file and field: \(daemon.output)")
        let afterBad = decoded("cam").count
        Thread.sleep(forTimeInterval: 3)
        let cam = decoded("cam")
        XCTAssertGreaterThan(cam.count, afterBad, "the old pipeline keeps publishing")
        XCTAssertGreaterThan(cam.last ?? 0, cam[max(0, afterBad - 1)], "and keeps decoding frames")

        // Good: add a pipeline, with a teacher not loaded yet (another path); cam is unchanged and keeps its counters.
        let teacher2 = dir.appendingPathComponent("teacher2.safetensors").path
        try FileManager.default.createSymbolicLink(atPath: teacher2, withDestinationPath: CLI.teacher)
        try write("  cam: {sample_fps: 5}\n  second: {sample_fps: 5, teacher: \(teacher2), state_dir: \(dir.path)/second}")
        _ = try reload(expecting: "reloaded: added: second; unchanged: cam")
        let deadline = Date().addingTimeInterval(20)
        while decoded("second").filter({ $0 > 0 }).isEmpty && Date() < deadline { usleep(200_000) }
        XCTAssertFalse(decoded("second").filter { $0 > 0 }.isEmpty, "the added pipeline streams")
        let camCounts = decoded("cam")
        XCTAssertEqual(camCounts, camCounts.sorted(), "cam was not restarted (its counters never went back)")

        // Changed cam, removed second.
        let beforeRestart = decoded("cam").last ?? 0
        try write("  cam: {sample_fps: 4}")
        _ = try reload(expecting: "reloaded: removed: second; restarted: cam")
        Thread.sleep(forTimeInterval: 3)
        XCTAssertLessThan(decoded("cam").last ?? .max, beforeRestart, "the restarted cam counts from zero again")
        XCTAssertTrue(daemon.process.isRunning)
        daemon.stop()
        XCTAssertEqual(daemon.process.terminationStatus, 0, daemon.output)
    }
}
