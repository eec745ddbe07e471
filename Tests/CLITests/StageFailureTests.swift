import Foundation
import TestSupport
import XCTest

/// A stage that fails ends its pipeline: the error is logged and published as a `failed` status, and the supervisor
/// restarts the pipeline with back-off. Before, the task group waited for the ingest task of a live (here: looping,
/// paced) source forever, with nothing logged, `/readyz` green and the watchdog still pinging.
final class StageFailureTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-stagefail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// The learnt model cannot be saved (the state directory's `models` is a regular file, which even root cannot
    /// write into): learning fails after training, and the pipeline must fail and restart rather than hang.
    func testAFailedLearningStageEndsThePipelineAndTheSupervisorRestartsIt() throws {
        let video = try ServiceHarness.video(in: dir)
        let state = dir.appendingPathComponent("state").path
        let blocker = state + "/models"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try "a file".write(toFile: blocker, atomically: true, encoding: .utf8)
        let zmqPort = freeLocalPort()
        let config = try ServiceHarness.tinyLiveConfig(in: dir, video: video, zmqPort: zmqPort, stateDir: state)
        let statuses = dir.appendingPathComponent("status.jsonl").path
        let subscriber = Process()
        subscriber.executableURL = URL(fileURLWithPath: CLI.binary)
        subscriber.arguments = ["subscribe", "--endpoint", "tcp://127.0.0.1:\(zmqPort)", "--pipeline", "cam", "--kind", "status"]
        _ = FileManager.default.createFile(atPath: statuses, contents: nil)
        subscriber.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: statuses))
        subscriber.standardError = FileHandle.nullDevice
        let daemon = try ServiceHarness.Daemon(config: config, environment: [:], log: dir.appendingPathComponent("daemon.log").path)
        defer { daemon.stop() }
        try subscriber.run()
        defer { subscriber.terminate() }

        // Learning takes the 40 frames (4 s at 10 fps), trains briefly, then cannot save: the pipeline fails and
        // is started again (it learns afresh, and fails the same way, with a longer back-off).
        let deadline = Date().addingTimeInterval(150)
        func failures() -> Int { daemon.output.components(separatedBy: "pipeline failed; restarting").count - 1 }
        while failures() < 2, Date() < deadline, daemon.process.isRunning { usleep(200_000) }
        XCTAssertGreaterThanOrEqual(failures(), 2, "the failed pipeline was not restarted: \(daemon.output)")
        XCTAssertTrue(daemon.output.contains(blocker), "the error names the state directory: \(daemon.output)")
        XCTAssertTrue(daemon.process.isRunning, "one failing pipeline never takes the process down")
        let published = (try? String(contentsOfFile: statuses, encoding: .utf8)) ?? ""
        XCTAssertTrue(published.contains("\"state\":\"failed\""), "a failed status is published: \(published.suffix(2000))")
    }
}
