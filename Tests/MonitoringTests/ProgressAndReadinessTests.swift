import Foundation
@testable import Ingest
@testable import Monitoring
@testable import Pipeline
import Publisher
import XCTest

/// The watchdog's progress rule and the readiness rule on probes built by hand (the daemon-level tests in
/// CLITests run them for real; these pin down each case, quickly).
final class ProgressAndReadinessTests: XCTestCase {
    func probe(_ state: PipelineState = .detecting, source: Ingest.SourceState? = .streaming, decided: Int = 0,
               lastFrame: Date? = Date(), reconnects: Int = 0, fitSteps: Int = 0) -> PipelineSnapshot {
        var counters = PipelineCounters.Snapshot()
        counters.framesDecided = decided
        counters.fitSteps = fitSteps
        var stats: SourceStats?
        if let source {
            stats = SourceStats()
            stats!.state = source
            stats!.lastFrameTime = lastFrame
            stats!.reconnects[.error] = reconnects
        }
        return PipelineSnapshot(name: "cam", state: state, detail: nil, failure: nil, source: stats, displaySource: "cam.mp4",
                                counters: counters, queues: [], model: nil, sensitivity: 0.5)
    }

    func testStreamingPipelineIsWedgedOnlyAfterTheToleranceWithoutDecisions() {
        var tracker = ProgressTracker(tolerance: .seconds(2))
        let t0 = ContinuousClock.now
        XCTAssertTrue(tracker.check([probe(decided: 1)], now: t0).isEmpty)
        XCTAssertTrue(tracker.check([probe(decided: 2)], now: t0 + .seconds(1.5)).isEmpty, "frames went through")
        XCTAssertTrue(tracker.check([probe(decided: 2)], now: t0 + .seconds(3)).isEmpty, "still within 2 s of the last")
        XCTAssertEqual(tracker.check([probe(decided: 2)], now: t0 + .seconds(4))["cam"], .milliseconds(2500))
        XCTAssertTrue(tracker.check([probe(decided: 3)], now: t0 + .seconds(5)).isEmpty, "moving again")
    }

    /// A learning phase moves by frames collected and fit steps; one that reports neither for the tolerance is stuck
    /// (it used to count as legitimately idle, so a hung fit kept the watchdog pinging forever).
    func testLearningIsWedgedWhenItsFitReportsNoStep() {
        var tracker = ProgressTracker(tolerance: .seconds(2))
        let t0 = ContinuousClock.now
        XCTAssertTrue(tracker.check([probe(.learning, fitSteps: 1)], now: t0).isEmpty)
        XCTAssertTrue(tracker.check([probe(.learning, fitSteps: 9)], now: t0 + .seconds(30)).isEmpty, "training steps")
        XCTAssertNotNil(tracker.check([probe(.learning, fitSteps: 9)], now: t0 + .seconds(33))["cam"], "no step for 3 s")
        XCTAssertTrue(tracker.check([probe(.learning, source: .reconnecting, fitSteps: 9)], now: t0 + .seconds(34)).isEmpty,
                      "collecting frames from a source that is reconnecting")
    }

    func testRestartingAndReconnectingAreNotWedged() {
        for p in [probe(.failed, source: nil), probe(source: .reconnecting), probe(source: .stalled),
                  probe(source: .connecting), probe(.starting, source: nil)] {
            var tracker = ProgressTracker(tolerance: .seconds(2))
            let t0 = ContinuousClock.now
            _ = tracker.check([p], now: t0)
            XCTAssertTrue(tracker.check([p], now: t0 + .seconds(60)).isEmpty, "\(p.state) \(p.source?.state as Any)")
        }
        // Back to streaming after a long reconnect: the tolerance counts from the reconnect, not the last frame.
        var tracker = ProgressTracker(tolerance: .seconds(2))
        let t0 = ContinuousClock.now
        _ = tracker.check([probe(decided: 5)], now: t0)
        XCTAssertTrue(tracker.check([probe(source: .reconnecting, decided: 5)], now: t0 + .seconds(60)).isEmpty)
        XCTAssertTrue(tracker.check([probe(decided: 5)], now: t0 + .seconds(61)).isEmpty)
        XCTAssertNotNil(tracker.check([probe(decided: 5)], now: t0 + .seconds(63))["cam"], "streaming, yet nothing went through")
    }

    func testReadiness() {
        XCTAssertTrue(Readiness([probe()]).isReady)
        XCTAssertTrue(Readiness([probe(source: .reconnecting, lastFrame: Date().addingTimeInterval(-5))]).isReady,
                      "a camera that rebooted a moment ago is reconnecting legitimately")
        let quiet = Readiness([probe(source: .reconnecting, lastFrame: Date().addingTimeInterval(-600))])
        XCTAssertEqual(quiet.notReady["cam"], "source reconnecting")
        XCTAssertEqual(Readiness([probe(source: nil)]).notReady["cam"], "source not open yet")
        XCTAssertEqual(Readiness([probe(source: .connecting)]).text, "cam: source connecting\n")
        var failed = probe(.failed, source: nil)
        failed.failure = "no such file"
        XCTAssertEqual(Readiness([failed]).notReady["cam"], "restarting after a failure: no such file")
    }
}
