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
    /// frames inside episodes, and those that built up to one, are left out; after the burn-in the cut stays.
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
            heavy.observe(surprise: 1.5 * s, phase: .quiet)
            calibrated.observe(surprise: s, phase: .quiet)
            heavy.observe(surprise: 50, phase: .building)   // a novel object's first frames...
            heavy.observe(surprise: 50, phase: .episode)    // ...and its episode: not part of the tail
        }
        XCTAssertEqual(heavy.observed, 6000)
        XCTAssertFalse(heavy.burningIn)
        XCTAssertEqual(heavy.level, 1.5 * ideal, accuracy: 0.2 * ideal)
        XCTAssertEqual(calibrated.level, ideal, accuracy: 0.15 * ideal)
        let held = heavy.level
        for _ in 0..<1000 { heavy.observe(surprise: 20, phase: .quiet) }
        XCTAssertEqual(heavy.level, held, "after the burn-in the cut holds")
    }

    /// A run of evidence that falls back (a blip) joins the tail with the frame that ends it; one that opens an
    /// episode does not.
    func testABlipJoinsTheTailAndAnEpisodesBuildUpDoesNot() {
        var cut = BudgetCut(settings: DecisionSettings(), framesPerSecond: 10)
        cut.observe(surprise: 5, phase: .building)
        cut.observe(surprise: 5, phase: .building)
        XCTAssertEqual(cut.observed, 0, "undecided")
        cut.observe(surprise: 0.1, phase: .quiet)
        XCTAssertEqual(cut.observed, 3, "a blip: its frames and the quiet one")
        cut.observe(surprise: 40, phase: .building)
        cut.observe(surprise: 40, phase: .episode)
        cut.observe(surprise: 0.2, phase: .quiet)
        XCTAssertEqual(cut.observed, 4, "the episode and its build-up are left out")
    }
}
