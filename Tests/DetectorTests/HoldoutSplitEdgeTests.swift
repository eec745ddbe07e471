import XCTest
@testable import Detector

/// The pipeline holds out one-second runs of frames: at `sample_fps: 120` a run is 120 frames, longer than the 40
/// learning frames `check` accepts, and learning failed on every restart ("40 normal frames are too few to hold out
/// 4 and still train on at least 2").
final class HoldoutSplitEdgeTests: XCTestCase {
    func testARunLongerThanTheFramesStillSplits() throws {
        for (count, length) in [(40, 120), (40, 40), (40, 11), (20, 1000)] {
            let (train, holdout) = try HoldoutSplit.split(count: count, fraction: 0.1, seed: 7, blockLength: length)
            XCTAssertGreaterThanOrEqual(holdout.count, 8, "\(count) frames, runs of \(length)")
            XCTAssertGreaterThanOrEqual(train.count, 2, "\(count) frames, runs of \(length)")
            XCTAssertEqual(Set(train).union(holdout), Set(0..<count))
        }
    }

    /// Runs that fit are unchanged: the same split as before for the pipeline's usual one-second runs.
    func testRunsOfAQuarterOrLessAreKept() throws {
        let (_, holdout) = try HoldoutSplit.split(count: 300, fraction: 0.1, seed: 3, blockLength: 10)
        XCTAssertEqual(holdout.count, 30)
        XCTAssertTrue(stride(from: 0, to: holdout.count, by: 10).allSatisfy { holdout[$0] % 10 == 0 }, "whole runs of 10: \(holdout)")
    }
}
