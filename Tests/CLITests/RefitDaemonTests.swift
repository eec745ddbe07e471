import Foundation
import TestSupport
import XCTest

/// Learning while running in the real daemon: a looping recording paced as a camera, a pyzmq subscriber, a refit
/// killed midway with SIGKILL, the restart, a completed refit announced on `anomaly/belt/model`, and a rollback
/// from the command line that the running daemon picks up.
final class RefitDaemonTests: XCTestCase {
    /// The daemon with its output in a file (a pipe nobody drains could block it).
    final class Daemon {
        let process = Process()
        let log: String
        init(config: String, log: String) throws {
            self.log = log
            // Appended to across restarts: the test counts log lines of both runs.
            if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
            let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            out.seekToEndOfFile()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["run", "--config", config]
            process.currentDirectoryURL = CLI.root
            process.standardOutput = out
            process.standardError = out
            try process.run()
        }
        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        func waitFor(_ text: String, occurrences: Int = 1, seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && process.isRunning {
                if output.components(separatedBy: text).count - 1 >= occurrences { return true }
                usleep(100_000)
            }
            return output.components(separatedBy: text).count - 1 >= occurrences
        }
        func stop(_ signal: Int32 = SIGTERM) {
            if process.isRunning { kill(process.processIdentifier, signal) }
            process.waitUntilExit()
        }
    }

    func testKilledRefitLeavesModelAndBufferIntactThenRefitAndRollback() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-refit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = dir.appendingPathComponent("belt.mp4").path
        let render = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                                    [video, "--seconds", "20", "--novel", "", "--width", "320", "--height", "240", "--fps", "10"])
        XCTAssertEqual(render.status, 0, render.stderr)

        let zmqPort = freeLocalPort()
        let state = dir.appendingPathComponent("state").path
        let config = dir.appendingPathComponent("refit.yaml").path
        // Refit after 60 buffered frames, with enough epochs that the kill lands inside the refit. The validation
        // itself is RefitSceneTests' subject; here its margin is wide, since a candidate calibrated on a few dozen
        // frames can raise a handful of false alarms on 16 held-out ones.
        try """
        publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", heartbeat_s: 1}
        pipelines:
          belt:
            source: \(video)
            realtime: true
            loop: true
            teacher: \(CLI.teacher)
            sample_fps: 5
            state_dir: \(state)
            learning: {frames: 40}
            detector: {student_depth: 1, epochs: 2, holdout: 0.3}
            refit: {enabled: true, every_new_frames: 60, min_frames: 60, sample_interval_s: 0, epochs: 30,
                    false_alarm_margin: 0.5}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let collected = dir.appendingPathComponent("messages.jsonl").path
        let subscriber = try CLI.Child("/usr/bin/python3", [CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path,
                                                         "tcp://127.0.0.1:\(zmqPort)", collected])
        XCTAssertTrue(subscriber.waitFor("READY"))
        defer { subscriber.stop() }

        let log = dir.appendingPathComponent("daemon.log").path
        var daemon = try Daemon(config: config, log: log)
        defer { daemon.stop() }
        XCTAssertTrue(daemon.waitFor("refit started", seconds: 180), "no refit started:\n\(daemon.output)")
        usleep(500_000)
        daemon.stop(SIGKILL)

        func current() -> String? { try? FileManager.default.destinationOfSymbolicLink(atPath: state + "/models/current") }
        func bufferFiles() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: state + "/normal")) ?? []).filter { $0.hasSuffix(".rgb") }.sorted()
        }
        let live = try XCTUnwrap(current())
        let buffered = bufferFiles()
        XCTAssertGreaterThanOrEqual(buffered.count, 60)
        XCTAssertFalse(daemon.output.contains("refit promoted"), "the kill was meant to land inside the refit")
        for name in buffered {
            let size = try FileManager.default.attributesOfItem(atPath: state + "/normal/" + name)[.size] as? Int
            XCTAssertEqual(size, 224 * 224 * 3, name)
        }

        // Restart: the same model runs at once (no learning), the buffer is all there, and the refit runs again.
        daemon = try Daemon(config: config, log: log)
        XCTAssertTrue(daemon.waitFor("refit started", occurrences: 2, seconds: 60), daemon.output)
        XCTAssertEqual(current(), live)
        XCTAssertTrue(Set(bufferFiles()).isSuperset(of: buffered), "frames buffered before the kill are kept")
        XCTAssertFalse(daemon.output.components(separatedBy: "refit started")[1].contains("learning: training"),
                       "the restarted daemon relearned instead of loading the live model")

        func modelMessages() -> [[String: Any]] {
            CLI.messages(collected).filter { ($0["topic"] as? String) == "anomaly/belt/model" }.compactMap { $0["message"] as? [String: Any] }
        }
        let deadline = Date().addingTimeInterval(150)
        while modelMessages().isEmpty && Date() < deadline && daemon.process.isRunning { usleep(200_000) }
        let outcome = try XCTUnwrap(modelMessages().first, "no model message:\n\(daemon.output)")
        XCTAssertEqual(outcome["schema"] as? String, "anomalyd.model/1")
        XCTAssertEqual(outcome["previous_version"] as? String, live)
        let validation = try XCTUnwrap(outcome["validation"] as? [String: Any])
        XCTAssertGreaterThan(validation["holdout_frames"] as? Int ?? 0, 0)
        XCTAssertEqual(outcome["action"] as? String, "promoted", "\(outcome)")
        let refitted = try XCTUnwrap(outcome["version"] as? String)
        XCTAssertEqual(current(), refitted)

        // Rollback from the command line; the running daemon switches and says so.
        let list = try CLI.run(["model", "list", "--config", config, "--pipeline", "belt"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("* \(refitted)") && list.stdout.contains("~ \(live)"), list.stdout)
        let rollback = try CLI.run(["model", "rollback", "--config", config, "--pipeline", "belt"])
        XCTAssertEqual(rollback.status, 0, rollback.stderr)
        XCTAssertEqual(current(), live)
        let rollbackDeadline = Date().addingTimeInterval(20)
        while !modelMessages().contains(where: { ($0["action"] as? String) == "rolled_back" }) && Date() < rollbackDeadline { usleep(200_000) }
        let rolledBack = try XCTUnwrap(modelMessages().first { ($0["action"] as? String) == "rolled_back" }, daemon.output)
        XCTAssertEqual(rolledBack["version"] as? String, live)
        XCTAssertEqual(rolledBack["previous_version"] as? String, refitted)
        let unknown = try CLI.run(["model", "list", "--config", config, "--pipeline", "nope"])
        XCTAssertEqual(unknown.status, 78)
        XCTAssertTrue(unknown.stderr.contains("no pipeline named 'nope'"), unknown.stderr)
    }
}
