import Foundation
import TestSupport
import XCTest

/// Two daemons given one state_dir (two configurations `check` cannot compare): the second one's pipeline fails
/// on the directory's lock, naming it and the first daemon's pid, and goes through the restart back-off; the first
/// keeps its model and runs on. Before the lock, the second loaded the first one's model and ran it as its own.
final class StateDirLockTests: XCTestCase {
    func testASecondDaemonOnTheSameStateDirFailsAndLeavesTheFirstAlone() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try ServiceHarness.video(in: dir)
        let state = dir.appendingPathComponent("state").path
        func config(_ name: String) throws -> String {
            try ServiceHarness.tinyLiveConfig(in: dir, video: video, zmqPort: freeLocalPort(), stateDir: state, file: name)
        }
        let first = try ServiceHarness.Daemon(config: try config("first"), environment: [:], log: dir.appendingPathComponent("first.log").path)
        defer { first.stop() }
        let current = state + "/models/current"
        func model() -> String? { try? FileManager.default.destinationOfSymbolicLink(atPath: current) }
        var deadline = Date().addingTimeInterval(150)
        while model() == nil, Date() < deadline, first.process.isRunning { usleep(200_000) }
        let learnt = try XCTUnwrap(model(), "the first daemon learns a model: \(first.output)")
        let stored = try FileManager.default.contentsOfDirectory(atPath: state + "/models").sorted()

        let second = try ServiceHarness.Daemon(config: try config("second"), environment: [:], log: dir.appendingPathComponent("second.log").path)
        defer { second.stop() }
        func failures() -> Int { second.output.components(separatedBy: "pipeline failed; restarting").count - 1 }
        deadline = Date().addingTimeInterval(30)
        while failures() < 2, Date() < deadline, second.process.isRunning { usleep(200_000) }
        XCTAssertGreaterThanOrEqual(failures(), 2, "the second daemon's pipeline fails and is restarted: \(second.output)")
        XCTAssertTrue(second.output.contains("\(state) (state_dir of pipeline 'cam') is in use by process \(first.process.processIdentifier)"),
                      "the error names the state_dir and the holder: \(second.output)")
        XCTAssertTrue(second.output.contains("retry_in_s=2"), "the restarts back off: \(second.output)")
        XCTAssertFalse(second.output.contains("detecting"), "the second daemon never runs the first one's model: \(second.output)")
        XCTAssertTrue(second.process.isRunning)

        XCTAssertTrue(first.process.isRunning)
        XCTAssertEqual(model(), learnt, "the first daemon's model stays current")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: state + "/models").sorted(), stored)
        XCTAssertFalse(first.output.contains("pipeline failed"), "the first daemon runs on: \(first.output)")
        second.stop()
        first.stop()
        XCTAssertEqual(first.process.terminationStatus, 0, first.output)
    }
}
