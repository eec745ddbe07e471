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

    /// Burn-in: live surprises 1.5 times what the calibration promised move the cut to 1.5 times the ideal level;
    /// frames inside episodes are left out; after the burn-in the cut stays where it is.
    func testBurnInAdaptsTheCutToTheLiveTailThenHoldsIt() {
        var settings = DecisionSettings()
        settings.burnInSeconds = 600
        var heavy = BudgetCut(settings: settings, framesPerSecond: 10)
        var calibrated = heavy
        let ideal = heavy.level
        var state: UInt64 = 11
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        for _ in 0..<heavy.burnInFrames {
            let s = -log10(uniform())
            heavy.observe(surprise: 1.5 * s, inEpisode: false)
            calibrated.observe(surprise: s, inEpisode: false)
            heavy.observe(surprise: 50, inEpisode: true)   // a novel object: not part of the tail
        }
        XCTAssertEqual(heavy.observed, 6000)
        XCTAssertFalse(heavy.burningIn)
        XCTAssertEqual(heavy.level, 1.5 * ideal, accuracy: 0.2 * ideal)
        XCTAssertEqual(calibrated.level, ideal, accuracy: 0.15 * ideal)
        let held = heavy.level
        for _ in 0..<1000 { heavy.observe(surprise: 20, inEpisode: false) }
        XCTAssertEqual(heavy.level, held, "after the burn-in the cut holds")
    }
}
