import Decisions
@testable import Detector
import Foundation
import XCTest
@testable import Pipeline

final class CellLevelsTests: XCTestCase {
    private var state: UInt64 = 29
    private func uniform() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float((Double(state >> 11) + 0.5) / Double(1 << 53))
    }

    /// 16 cells learnt at level 1; live normal cells spread over [0, 1), cell 3 over [0, 2.5) (a floor the light made
    /// noisier).
    private func normal(noisy: Bool = true) -> [Float] { (0..<16).map { $0 == 3 && noisy ? 2.5 * uniform() : uniform() } }
    private let learnt = [Float](repeating: 1, count: 16)

    /// The lift against the 0.99 quantile written out: the kept frames' cell 3 sorted, the value at ⌊0.99 n⌋, less
    /// the learnt level. No lifts before `minimum` frames are kept; a blip's build-up that falls back teaches (a place
    /// that got noisier makes blips), an episode, its build-up and the margin either side teach nothing; the other
    /// cells, whose level did not rise, are never lifted.
    func testEachCellIsLiftedByHowFarItsRecentLevelRoseAboveItsLearntOne() {
        var levels = CellLevels(learnt: learnt, window: 400, minimum: 200, every: 50, margin: 3)
        // 190 quiet frames, then a blip's 2 build-up frames and 7 quiet ones: the margin holds each frame back 3
        // frames, so frames 0-195 of these 199 are kept and 196-198 still held.
        let first = (0..<199).map { _ in normal() }
        for (i, cells) in first.enumerated() { levels.observe(cells: cells, phase: (190..<192).contains(i) ? .building : .quiet) }
        XCTAssertNil(levels.lifts, "196 frames kept, fewer than the minimum")
        // A novel object's build-up and episode (9 everywhere): the build-up frame goes in the hold and pushes frame 196
        // out into the kept ones; the episode voids the rest of the hold and the next 3 quiet frames.
        for phase in [DecisionPhase.building, .episode, .episode] { levels.observe(cells: [Float](repeating: 9, count: 16), phase: phase) }
        var second: [[Float]] = []
        while levels.lifts == nil {
            second.append(normal())
            levels.observe(cells: second.last!, phase: .quiet)
        }
        XCTAssertEqual(second.count, 9, "3 skipped, 3 held, then the 3 kept frames that reach the minimum")
        let kept = first[0..<197] + second[3..<6]
        let lifts = levels.lifts!
        let column = kept.map { $0[3] }.sorted()
        XCTAssertEqual(lifts[3], column[Int(0.99 * Double(column.count))] - 1, accuracy: 1e-6)
        XCTAssertGreaterThan(lifts[3], 1.2)
        XCTAssertLessThan(lifts[3], 1.5, "the 9s of the episode taught nothing")
        XCTAssertEqual(lifts.enumerated().filter { $0.offset != 3 }.map(\.element).max(), 0)
    }

    /// Levelled frames: a normal frame whose largest cell is the noisy one scores as its other cells do; a novel cell
    /// elsewhere keeps its whole score and its map cell; and once the window has turned over with the scene quiet
    /// again, the lift is gone.
    func testALiftedCellNoLongerScoresTheFrameButANovelCellElsewhereStillDoes() {
        var levels = CellLevels(learnt: learnt, window: 300, minimum: 100, every: 25, margin: 0)
        while levels.lifts == nil { levels.observe(cells: normal(), phase: .quiet) }
        for _ in 0..<300 { levels.observe(cells: normal(), phase: .quiet) }
        let lift = levels.lifts![3]
        XCTAssertGreaterThan(lift, 1.2)
        let weights = [Float](repeating: 0.8, count: 16)
        let baseline: Float = 0.9
        func frame(_ cells: [Float]) -> FrameScore {
            let map = cells.map { max(0, $0 - baseline) }
            return FrameScore(raw: [.patch: PatchMemory.frameScore(cells: cells, weights: weights)], verdict: Verdict(surprise: 0),
                              map: map, grid: 4, tiles: 1, peak: 3, patchCells: cells, patchWeights: weights)
        }
        var floor = [Float](repeating: 0.5, count: 16)
        floor[3] = 2.2
        let (patch, map) = levels.levelled(frame(floor))!
        XCTAssertEqual(frame(floor).patch!, 0.8 * 2.2, accuracy: 1e-6)
        XCTAssertEqual(patch, 0.8 * Double(max(0.5, 2.2 - lift)), accuracy: 1e-6, "the noisy cell, levelled")
        XCTAssertEqual(map[3], max(0, 2.2 - baseline - lift), accuracy: 1e-6)
        // Beyond the recent level the noisy cell (spread 2.5 against the learnt 1) is also scaled: its recent
        // [median, level] onto the learnt [0, 1], quieter than the lift alone.
        XCTAssertEqual(levels.medians[3], 1.25, accuracy: 0.15)
        XCTAssertEqual(levels.tops[3], 1 + lift, accuracy: 1e-6)
        var burst = floor
        burst[3] = 3.5
        let scaled = (3.5 - levels.medians[3]) / (levels.tops[3] - levels.medians[3])
        XCTAssertEqual(levels.levelled(frame(burst))!.patch, 0.8 * Double(scaled), accuracy: 1e-5)
        XCTAssertLessThan(Double(scaled), Double(3.5 - lift) - 0.1)
        XCTAssertEqual(levels.levelled(frame(burst))!.map[3], max(0, scaled - baseline), accuracy: 1e-5)
        var novel = floor
        novel[9] = 3
        let (novelPatch, novelMap) = levels.levelled(frame(novel))!
        XCTAssertEqual(novelPatch, 0.8 * 3, accuracy: 1e-6, "the novel cell keeps its whole score")
        XCTAssertEqual(novelMap[9], 3 - baseline, accuracy: 1e-6)

        for _ in 0..<300 { levels.observe(cells: normal(noisy: false), phase: .quiet) }
        XCTAssertEqual(levels.lifts!.max(), 0, "the window turned over: no lift left")
        XCTAssertNil(levels.levelled(FrameScore(raw: [:], verdict: Verdict(surprise: 0), map: [], grid: 0, tiles: 1, peak: 0,
                                                patchCells: [], patchWeights: [])), "a frame without patch cells")
    }

    /// The live calibration owns the levels: they start from the bundle's learnt levels, level the patch score it
    /// calibrates, and keep going after the burn-in ends; a model without learnt levels is left as it scores.
    func testTheLiveCalibrationLevelsThePatchScoreAfterItsBurnIn() throws {
        let model = try Calibration.fit(normal: [.patch: (0..<600).map { _ in Double(uniform()) }], holdoutCount: 0)
        var live = LiveCalibration(model: model, version: "m1", burnInFrames: 50, burnInMargin: 0, cellLevels: learnt,
                                   framesPerSecond: 1)
        let weights = [Float](repeating: 1, count: 16)
        var floor = [Float](repeating: 0.2, count: 16)
        floor[3] = 2.4
        let frame = FrameScore(raw: [.patch: 2.4], verdict: Verdict(surprise: 0), map: floor, grid: 4, tiles: 1, peak: 3,
                               patchCells: floor, patchWeights: weights)
        XCTAssertEqual(live.levelled(frame).raw[.patch], 2.4, "no lifts yet")
        for _ in 0..<200 {   // 60 s of quiet frames at 1 frame/s start the lifts; the burn-in is over after 50
            let cells = normal()
            let raw: [ScoreComponent: Double] = [.patch: PatchMemory.frameScore(cells: cells, weights: weights)]
            try live.observe(live.levelled(FrameScore(raw: raw, verdict: Verdict(surprise: 0), map: cells, grid: 4, tiles: 1,
                                                      peak: 0, patchCells: cells, patchWeights: weights)).raw,
                             cells: cells, phase: .quiet)
        }
        XCTAssertFalse(live.burningIn)
        XCTAssertGreaterThan(live.largestLift, 1)
        XCTAssertLessThan(live.levelled(frame).raw[.patch]!, 2.4 - 1)
        XCTAssertLessThan(try live.surprise(live.levelled(frame).raw), try live.surprise(frame.raw))
        let unlevelled = LiveCalibration(model: model, version: "m2", burnInFrames: 50, burnInMargin: 0)
        XCTAssertEqual(unlevelled.levelled(frame).raw, frame.raw)
        XCTAssertEqual(unlevelled.largestLift, 0)
    }
}
