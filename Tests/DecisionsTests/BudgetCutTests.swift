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
    func testTheBurnInTakesQuietFramesAndBlipsNotEpisodes() {
        var burnIn = BurnIn<Int>(frames: 6)
        XCTAssertEqual(burnIn.observe(1, phase: .quiet), [1])
        XCTAssertEqual(burnIn.observe(2, phase: .building), [], "undecided")
        XCTAssertEqual(burnIn.observe(3, phase: .building), [])
        XCTAssertEqual(burnIn.observe(4, phase: .quiet), [2, 3, 4], "a blip: its frames and the quiet one")
        XCTAssertEqual(burnIn.observe(50, phase: .building), [])
        XCTAssertEqual(burnIn.observe(51, phase: .episode), [])
        XCTAssertEqual(burnIn.observe(52, phase: .episode), [])
        XCTAssertEqual(burnIn.observe(5, phase: .quiet), [5], "the episode and its build-up are left out")
        XCTAssertFalse(burnIn.isOver)
        XCTAssertEqual(burnIn.observe(6, phase: .building), [])
        XCTAssertEqual(burnIn.observe(7, phase: .quiet), [6], "no more than its length")
        XCTAssertTrue(burnIn.isOver)
        XCTAssertEqual(burnIn.accepted, 6)
        XCTAssertEqual(burnIn.observe(8, phase: .quiet), [], "over")
        XCTAssertTrue(BurnIn<Int>(frames: 0).isOver, "burn_in_s: 0 keeps the model's calibration")
    }
}
