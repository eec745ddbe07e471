import Foundation
import XCTest
@testable import Decisions

final class BudgetCutTests: XCTestCase {
    /// 1 false episode an hour at 10 frames/s, each episode needing 5 above frames: at most 36,000·q/5 episodes an
    /// hour, so q = 5/36,000 and, perfectly calibrated, the cut lies at s = −log10 q = 3.857.
    func testTheBudgetBecomesThePerFrameCut() {
        var settings = DecisionSettings()
        settings.falseAlarmsPerHour = 1
        settings.framesToStart = 5
        let cut = BudgetCut(settings: settings, framesPerSecond: 10)
        XCTAssertEqual(cut.frameProbability, 5.0 / 36_000, accuracy: 1e-15)
        XCTAssertEqual(cut.level, -log10(5.0 / 36_000), accuracy: 1e-12)
        XCTAssertEqual(cut.normalized(surprise: cut.level), 0.5, accuracy: 1e-12)
        XCTAssertEqual(cut.normalized(surprise: 0), 0)
        XCTAssertEqual(cut.normalized(surprise: 3 * cut.level), 1, "clamped")
        settings.falseAlarmsPerHour = 10
        settings.framesToStart = 3
        XCTAssertEqual(BudgetCut(settings: settings, framesPerSecond: 25).frameProbability, 30.0 / 90_000, accuracy: 1e-15)
        XCTAssertEqual(BudgetCut.frameProbability(falseAlarmsPerHour: 3600, framesPerSecond: 1, framesToStart: 5), 0.5,
                       "never above one frame in two")
    }

    /// The burn-in learns from quiet frames and blips (a run of evidence that falls back joins with the frame that
    /// ends it); an episode and the run that built up to it do not; it stops at its length.
    func testTheBurnInTakesQuietFramesAwayFromEvidence() {
        var burnIn = BurnIn<Int>(frames: 4, margin: 0)
        XCTAssertEqual(burnIn.observe(1, phase: .quiet), 1, "no margin: a quiet frame joins at once")
        XCTAssertNil(burnIn.observe(2, phase: .building), "evidence: never")
        XCTAssertNil(burnIn.observe(3, phase: .episode))
        XCTAssertEqual(burnIn.observe(4, phase: .quiet), 4)

        var margined = BurnIn<Int>(frames: 3, margin: 2)
        XCTAssertNil(margined.observe(10, phase: .quiet), "held: evidence may follow within the margin")
        XCTAssertNil(margined.observe(11, phase: .quiet))
        XCTAssertEqual(margined.observe(12, phase: .quiet), 10, "two quiet frames after it: 10 joins")
        XCTAssertNil(margined.observe(20, phase: .building), "a blip voids the frames held before it...")
        XCTAssertNil(margined.observe(21, phase: .quiet), "...and the margin after it")
        XCTAssertNil(margined.observe(22, phase: .quiet))
        XCTAssertNil(margined.observe(23, phase: .quiet), "held again")
        XCTAssertNil(margined.observe(24, phase: .quiet))
        XCTAssertEqual(margined.observe(25, phase: .quiet), 23)
        XCTAssertFalse(margined.isOver)
        XCTAssertEqual(margined.observe(26, phase: .quiet), 24, "no more than its length")
        XCTAssertTrue(margined.isOver)
        XCTAssertEqual(margined.accepted, 3)
        XCTAssertNil(margined.observe(27, phase: .quiet), "over")
        XCTAssertEqual(BudgetCut(settings: DecisionSettings(), framesPerSecond: 10).burnInMargin, 50, "5 s at 10 frames/s")
        XCTAssertTrue(BurnIn<Int>(frames: 0, margin: 0).isOver, "burn_in_s: 0 keeps the model's calibration")
    }
}
