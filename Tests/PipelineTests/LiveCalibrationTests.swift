import Decisions
import Detector
import Foundation
import XCTest
@testable import Pipeline

final class LiveCalibrationTests: XCTestCase {
    private var state: UInt64 = 17
    private func uniform() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Double(state >> 11) + 0.5) / Double(1 << 53)
    }
    private func gaussian() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
    private func exponential() -> Double { -log(uniform()) }

    /// Burn-in adaptation: the student's learning scores promise a lighter tail than the live scene gives (its live
    /// normal scores are twice as spread, as under changing light); the Gaussian's are right. Under the model's
    /// calibration many live normal frames cross a cut at surprise 2.3; after a burn-in on the live quiet frames
    /// about as many as promised do, a novel frame still crosses it, and an episode's frames taught it nothing.
    func testTheBurnInRefitsEachComponentOnTheLiveSceneThenHolds() throws {
        let model = try Calibration.fit(normal: [.gaussian: (0..<600).map { _ in gaussian() },
                                                 .mkd: (0..<120).map { _ in exponential() }], holdoutCount: 120)
        func live() -> [ScoreComponent: Double] { [.gaussian: gaussian(), .mkd: 2 * exponential()] }
        let cut = 2.3
        func shareAbove(_ c: LiveCalibration) throws -> Double {
            let frames = (0..<20_000).map { _ in live() }
            return Double(try frames.filter { try c.surprise($0) >= cut }.count) / Double(frames.count)
        }
        var calibration = LiveCalibration(model: model, version: "m1", burnInFrames: 3000, burnInMargin: 0)
        var withEpisodes = calibration
        let before = try shareAbove(calibration)
        XCTAssertGreaterThan(before, 0.02, "over-confident before the burn-in")
        while calibration.burningIn {
            let frame = live()
            try calibration.observe(frame, phase: .quiet)
            try withEpisodes.observe(frame, phase: .quiet)
            try withEpisodes.observe([.gaussian: 40, .mkd: 90], phase: .building)   // a novel object's build-up...
            try withEpisodes.observe([.gaussian: 40, .mkd: 90], phase: .episode)    // ...and its episode
        }
        XCTAssertEqual(withEpisodes.calibration, calibration.calibration, "the episodes taught the tails nothing")
        XCTAssertFalse(withEpisodes.burningIn)
        XCTAssertGreaterThan(calibration.refits, 5)
        XCTAssertLessThan(calibration.refits, 40, "refits as the live scores grow by a quarter, not every frame")
        let after = try shareAbove(calibration)
        XCTAssertLessThan(after, 0.012, "p = 10^-2.3 = 0.005 promised; before the burn-in \(before)")
        XCTAssertGreaterThanOrEqual(try calibration.surprise([.gaussian: 0, .mkd: 40]), 4, "a novel frame still crosses")
        let held = calibration.calibration
        for _ in 0..<500 { try calibration.observe([.gaussian: 9, .mkd: 30], phase: .quiet) }
        XCTAssertEqual(calibration.calibration, held, "after the burn-in the calibration holds")
        XCTAssertEqual(try LiveCalibration(model: model, version: "m2", burnInFrames: 3000, burnInMargin: 0).surprise([.gaussian: 0, .mkd: 6]),
                       try model.evaluate([.gaussian: 0, .mkd: 6]).surprise, "a new model starts from its own calibration")
    }
}
