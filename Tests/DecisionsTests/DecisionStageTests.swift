import Foundation
import XCTest
@testable import Decisions

/// Scripted score sequences at 10 frames per second of capture time.
struct Script {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000.125)  // 2026-11-18T11:06:40.125Z
    var stage: DecisionStage
    var index = 0

    init(_ configure: (inout DecisionSettings) -> Void = { _ in }) throws {
        var s = DecisionSettings()
        s.framesToStart = 3
        s.framesToEnd = 4
        s.updateIntervalSeconds = 0
        configure(&s)
        stage = try DecisionStage(pipeline: "line3", settings: s, idSuffix: { 0x7f3a })
    }

    /// A 14x14 map that is 0.1 everywhere and 1 at `peak`.
    static func map(peak: (Int, Int) = (6, 9)) -> [Float] {
        var m = [Float](repeating: 0.1, count: 196)
        m[peak.0 * 14 + peak.1] = 1
        return m
    }

    /// Feeds the scores in order and returns every message with the position of its frame in this call.
    mutating func feed(_ scores: [Double], peak: (Int, Int) = (6, 9), step: Double = 0.1,
                       lightChange: Bool = false) -> [(Int, EpisodeDecision)] {
        var out: [(Int, EpisodeDecision)] = []
        for (i, s) in scores.enumerated() {
            let f = ScoredFrame(score: s, rawScore: s * 20, index: index, pts: Double(index) * step,
                                captureTime: Script.t0.addingTimeInterval(Double(index) * step),
                                patchErrors: Script.map(peak: peak), grid: 14, sourceWidth: 1920, sourceHeight: 1080,
                                lightChange: lightChange)
            index += 1
            if let d = stage.process(f) { out.append((i, d)) }
        }
        return out
    }
}

final class DecisionStageTests: XCTestCase {
    /// Frames during a light change open nothing and clear the evidence built before it; after it, evidence starts
    /// from 0; an episode open when the light changes goes on and ends as usual.
    func testALightChangeOpensNoEpisodeAndLeavesAnOpenOneAlone() throws {
        var s = try Script()
        XCTAssertTrue(s.feed([0.9, 0.9]).isEmpty)
        XCTAssertTrue(s.feed([0.9, 0.9, 0.9, 0.9], lightChange: true).isEmpty, "above frames in a light change open nothing")
        XCTAssertEqual(s.stage.phase, .quiet, "and the evidence from before it is gone")
        XCTAssertTrue(s.feed([0.9, 0.9]).isEmpty, "two frames of evidence after it are not yet three")
        let opened = s.feed([0.9])
        XCTAssertEqual(opened.map(\.1.type), [.new])
        XCTAssertEqual(opened.first?.1.startTime, Script.t0.addingTimeInterval(0.6), "dated from the first frame after it")
        XCTAssertTrue(s.feed([0.9, 0.9, 0.2, 0.2, 0.2], lightChange: true).isEmpty, "the open episode goes on")
        XCTAssertEqual(s.feed([0.2], lightChange: true).map(\.1.type), [.end], "and ends on its fourth frame below")
    }

    func testDebounceNeedsFramesToStartOfEvidence() throws {
        var s = try Script()
        XCTAssertTrue(s.feed([0.9, 0.9, 0.2, 0.9, 0.9, 0.2]).isEmpty, "two above frames and a below one never add up")
        let out = s.feed([0.7, 0.8, 0.9])
        XCTAssertEqual(out.count, 1)
        let (at, new) = try XCTUnwrap(out.first)
        XCTAssertEqual(at, 2, "the third consecutive above frame starts it")
        XCTAssertEqual(new.type, .new)
        XCTAssertEqual(new.frame.index, 8)
        XCTAssertEqual(new.startTime, Script.t0.addingTimeInterval(0.6), "start is the first frame of the run")
        XCTAssertEqual(new.time, Script.t0.addingTimeInterval(0.8))
        XCTAssertEqual(new.peakScore, 0.9)
        XCTAssertEqual(new.score, 0.9)
        XCTAssertEqual(new.threshold, 0.5)
        XCTAssertEqual(new.id, "line3-20261118T110640.725Z-7f3a")
        XCTAssertNil(new.endTime)
        XCTAssertNil(new.reason)
    }

    /// At 10 frames/s with the default evidence of 5: a 0.3-s blip at the top score never opens an episode, nor do
    /// blips of two frames again and again; a novel object in view for 1 s (one frame missed) does, within 0.8 s,
    /// dated from its first frame after the miss.
    func testEvidenceOpensOnAOneSecondRunAndNotOnABlip() throws {
        var s = try Script { $0.framesToStart = DecisionSettings().framesToStart }
        XCTAssertTrue(s.feed([0.1, 1, 1, 1, 0.1, 0.1, 0.1]).isEmpty, "a 0.3-s blip")
        XCTAssertTrue(s.feed([1, 1, 0.1, 1, 1, 0.1, 1, 1, 0.1]).isEmpty, "two above, one below, again and again")
        XCTAssertEqual(s.stage.blips, 4, "each run that fell back to 0 is a blip")
        let out = s.feed([0.9, 0.9, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
        XCTAssertEqual(out.map(\.1.type), [.new])
        XCTAssertEqual(out.first?.0, 7, "evidence 1, 2, 0, then 1...5 at the eighth frame")
        XCTAssertEqual(out.first?.1.startTime, Script.t0.addingTimeInterval(1.9), "dated from the frame after the miss")
        var intermittent = try Script { $0.framesToStart = 5 }
        let opened = intermittent.feed([0.9, 0.9, 0.9, 0.2, 0.9, 0.9, 0.9, 0.2, 0.9, 0.9, 0.9])
        XCTAssertEqual(opened.map(\.0), [10], "three above and one missed, again and again: +1 net per 4 frames opens it")
    }

    func testDipsShorterThanFramesToEndDoNotEndTheEpisode() throws {
        var s = try Script()
        XCTAssertEqual(s.feed([0.9, 0.9, 0.9]).map(\.1.type), [.new])
        XCTAssertTrue(s.feed([0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9]).isEmpty, "dips of 3 < framesToEnd 4 frames")
        XCTAssertNotNil(s.stage.openEpisodeID)
        let out = s.feed([0.1, 0.1, 0.1, 0.1])
        XCTAssertEqual(out.map(\.0), [3])
        let end = try XCTUnwrap(out.first?.1)
        XCTAssertEqual(end.type, .end)
        XCTAssertEqual(end.reason, .belowThreshold)
        XCTAssertEqual(end.endTime, end.time)
        XCTAssertEqual(end.score, 0.1)
        XCTAssertEqual(end.peakScore, 0.9)
        XCTAssertEqual(end.id, "line3-20261118T110640.125Z-7f3a")
        XCTAssertNil(s.stage.openEpisodeID)
    }

    func testMaxDurationEndsAndRearmsAfterTheDebounceAgain() throws {
        var s = try Script { $0.maxDurationSeconds = 1 }
        // 10 fps: starts on frame 2 (start time = frame 0), frame 10 is 1 s after the start.
        let out = s.feed(Array(repeating: 0.9, count: 16))
        XCTAssertEqual(out.map(\.1.type), [.new, .end, .new])
        XCTAssertEqual(out.map(\.0), [2, 10, 13], "re-armed: 3 more above frames (11, 12, 13) start the next one")
        XCTAssertEqual(out[1].1.reason, .maxDuration)
        XCTAssertEqual(out[1].1.endTime, Script.t0.addingTimeInterval(1.0))
        XCTAssertNotEqual(out[2].1.id, out[0].1.id, "a new episode gets a new id")
        XCTAssertEqual(out[2].1.startTime, Script.t0.addingTimeInterval(1.1))
    }

    func testUpdatesNeedAMaterialChange() throws {
        var s = try Script()
        XCTAssertEqual(s.feed([0.7, 0.7, 0.7]).map(\.1.type), [.new])
        XCTAssertTrue(s.feed([0.72, 0.74, 0.7]).isEmpty, "peak rose by 0.04 < 0.05, same cell")
        XCTAssertTrue(s.feed([0.7], peak: (7, 10)).isEmpty, "a 1-cell move is jitter (updateMinCellShift 2)")
        let rose = s.feed([0.76])
        XCTAssertEqual(rose.map(\.1.type), [.update])
        XCTAssertEqual(rose.first?.1.peakScore, 0.76)
        XCTAssertTrue(s.feed([0.8]).isEmpty, "0.04 above the last update's peak")
        let moved = s.feed([0.7], peak: (2, 3))
        XCTAssertEqual(moved.map(\.1.type), [.update])
        XCTAssertEqual(moved.first?.1.region?.peakCell, [2, 3])
        XCTAssertEqual(moved.first?.1.peakScore, 0.8)
    }

    func testUpdatesAreRateLimited() throws {
        // 0.45 s rather than 0.5 so float rounding of frame times cannot move the boundary: one per 5 frames.
        var s = try Script { $0.updateIntervalSeconds = 0.45 }
        XCTAssertEqual(s.feed([0.5, 0.5, 0.5]).map(\.1.type), [.new])  // frame 2, t = 0.2
        // Every frame raises the peak by 0.05, a material change each time; only one per interval may go out.
        let out = s.feed([0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0])  // frames 3 ... 12
        XCTAssertEqual(out.map(\.1.type), [.update, .update])
        XCTAssertEqual(out.map(\.1.frame.index), [7, 12])
        XCTAssertEqual(out.map(\.1.peakScore), [0.75, 1.0])
    }

    func testUpdatesAreNotSentDuringADip() throws {
        var s = try Script()
        XCTAssertEqual(s.feed([0.7, 0.7, 0.7]).map(\.1.type), [.new])
        XCTAssertTrue(s.feed([0.2], peak: (0, 0)).isEmpty, "a below frame never sends an update")
    }

    func testSensitivityMovesTheCutAtRunTime() throws {
        var s = try Script()
        XCTAssertTrue(s.feed([0.45, 0.45, 0.45]).isEmpty, "0.45 < cut 0.5")
        try s.stage.setSensitivity(0.6)
        XCTAssertEqual(s.stage.threshold, 0.4, accuracy: 1e-12)
        let out = s.feed([0.45, 0.45, 0.45])
        XCTAssertEqual(out.map(\.1.type), [.new])
        XCTAssertEqual(out.first?.1.sensitivity, 0.6)
        XCTAssertEqual(out.first?.1.threshold ?? 0, 0.4, accuracy: 1e-12)
        XCTAssertThrowsError(try s.stage.setSensitivity(1.5)) {
            XCTAssertTrue("\($0)".contains("sensitivity"), "\($0)")
        }
    }

    func testRollingMedianIgnoresSingleFrameSpikesAndDips() throws {
        var s = try Script { $0.medianWindow = 3; $0.framesToStart = 2; $0.framesToEnd = 2 }
        XCTAssertTrue(s.feed([0.1, 0.9, 0.1, 0.1, 0.9, 0.1, 0.1]).isEmpty, "isolated spikes never reach the median")
        XCTAssertEqual(s.feed([0.9, 0.9, 0.9]).map(\.0), [2], "median of (0.1, 0.9, 0.9) is above on the 2nd frame")
        XCTAssertTrue(s.feed([0.1, 0.9, 0.1, 0.9]).isEmpty, "alternating dips are smoothed away")
        XCTAssertEqual(s.feed([0.1, 0.1, 0.1]).map(\.1.type), [.end])
    }

    func testStopEndsTheOpenEpisode() throws {
        var s = try Script()
        XCTAssertNil(s.stage.stop(at: Script.t0))
        _ = s.feed([0.9, 0.9, 0.9])
        let at = Script.t0.addingTimeInterval(5)
        let end = try XCTUnwrap(s.stage.stop(at: at))
        XCTAssertEqual(end.type, .end)
        XCTAssertEqual(end.reason, .stopped)
        XCTAssertEqual(end.endTime, at)
        XCTAssertNil(s.stage.openEpisodeID)
    }

    func testEndCarriesThePeakFramesRegion() throws {
        var s = try Script()
        _ = s.feed([0.8, 0.8, 0.8], peak: (1, 1))
        _ = s.feed([0.95], peak: (12, 2))
        let end = try XCTUnwrap(s.feed([0.6, 0.1, 0.1, 0.1, 0.1], peak: (5, 5)).last?.1)
        XCTAssertEqual(end.type, .end)
        XCTAssertEqual(end.region?.peakCell, [12, 2])
    }

    /// A Gaussian-only model has no patch map (grid 0): episodes open and end without a region. This used to trip
    /// Region.locate's precondition and take down every pipeline of the process.
    func testAModelWithoutAPatchMapReportsEpisodesWithoutARegion() throws {
        var script = try Script()
        var out: [EpisodeDecision] = []
        for (i, s) in ([0.9, 0.9, 0.9, 0.95, 0.1, 0.1, 0.1, 0.1] as [Double]).enumerated() {
            let f = ScoredFrame(score: s, rawScore: s, index: i, pts: Double(i) / 10,
                                captureTime: Script.t0.addingTimeInterval(Double(i) / 10),
                                patchErrors: [], grid: 0, sourceWidth: 640, sourceHeight: 360)
            if let d = script.stage.process(f) { out.append(d) }
        }
        XCTAssertEqual(out.map(\.type), [.new, .end])
        XCTAssertTrue(out.allSatisfy { $0.region == nil })
        XCTAssertNil(Region.locate(errors: [1, 2, 3], grid: 2, width: 10, height: 10, fraction: 0.5), "a map of the wrong size")
    }

    func testSettingsValidationNamesTheField() {
        var bad = DecisionSettings()
        bad.medianWindow = 4
        XCTAssertThrowsError(try DecisionStage(pipeline: "p", settings: bad)) {
            XCTAssertEqual("\($0)", "invalid decision setting median_window: expected an odd number of frames in 1...99 (1 = off), got 4")
        }
        bad = DecisionSettings()
        bad.framesToEnd = 0
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("frames_to_end"), "\($0)") }
    }

    func testRandomIdSuffixesFollowTheFormat() throws {
        var stage = try DecisionStage(pipeline: "cam_1", settings: { var s = DecisionSettings(); s.framesToStart = 1; return s }())
        let f = ScoredFrame(score: 0.9, rawScore: 1, index: 0, pts: 0, captureTime: Script.t0, patchErrors: Script.map(),
                            grid: 14, sourceWidth: 640, sourceHeight: 480)
        let id = try XCTUnwrap(stage.process(f)?.id)
        XCTAssertNotNil(id.range(of: #"^cam_1-20261118T110640\.125Z-[0-9a-f]{4}$"#, options: .regularExpression), id)
    }
}

final class RegionTests: XCTestCase {
    func testPeakCellMapsToSourcePixelsOnANonSquareSource() throws {
        var m = [Float](repeating: 0, count: 196)
        m[6 * 14 + 9] = 3
        let r = try XCTUnwrap(Region.locate(errors: m, grid: 14, width: 1920, height: 1080, fraction: 0.5))
        XCTAssertEqual(r.grid, [14, 14])
        XCTAssertEqual(r.peakCell, [6, 9])
        // x: 9*1920/14 = 1234.3, 10*1920/14 = 1371.4; y: 6*1080/14 = 462.9, 7*1080/14 = 540.
        XCTAssertEqual(r.bbox, [1234, 462, 1371, 540])
    }

    func testLastCellEndsAtTheSourceEdge() {
        var m = [Float](repeating: 0, count: 196)
        m[195] = 1
        XCTAssertEqual(Region.locate(errors: m, grid: 14, width: 1280, height: 720, fraction: 0.5)?.bbox, [1188, 668, 1280, 720])
    }

    func testConnectedHotCellsMergeAndDistantOnesDoNot() throws {
        var m = [Float](repeating: 0.1, count: 196)
        m[6 * 14 + 9] = 1.0   // peak
        m[6 * 14 + 10] = 0.6  // right neighbour, above half the peak
        m[7 * 14 + 10] = 0.5  // below that one: connected through it, exactly half
        m[5 * 14 + 8] = 0.9   // diagonal only: 4-connectivity leaves it out
        m[0] = 0.95           // far away
        let r = try XCTUnwrap(Region.locate(errors: m, grid: 14, width: 1400, height: 700, fraction: 0.5))
        XCTAssertEqual(r.peakCell, [6, 9])
        XCTAssertEqual(r.bbox, [900, 300, 1100, 400], "cols 9-10, rows 6-7 of 100x50 cells")
        XCTAssertEqual(Region.locate(errors: m, grid: 14, width: 1400, height: 700, fraction: 1)?.bbox, [900, 300, 1000, 350])
    }
}
