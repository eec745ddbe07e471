import Foundation
import XCTest
@testable import Detector

final class CalibrationTests: XCTestCase {
    func testEachScoreIsStandardisedOnTheHoldoutAndTheZScoresAreSummed() throws {
        let calibration = try Calibration.fit(holdout: [.gaussian: [10, 30, 20, 50, 40], .mkd: [1, 2, 3, 4, 5]], quantile: 0.9)
        XCTAssertEqual(calibration.components, [.mkd, .gaussian])
        XCTAssertEqual(calibration.standardizers[0].mean, 3)
        XCTAssertEqual(calibration.standardizers[0].std, 2.5.squareRoot(), accuracy: 1e-12, "sample std, ddof 1")
        XCTAssertEqual(calibration.standardizers[1].mean, 30)
        XCTAssertEqual(calibration.standardizers[1].std, 250.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(try calibration.fuse([.mkd: 3 + 2.5.squareRoot(), .gaussian: 30]), 1, accuracy: 1e-12)
        XCTAssertEqual(try calibration.fuse([.mkd: 3 - 2 * 2.5.squareRoot(), .gaussian: 30 + 3 * 250.0.squareRoot()]), 1, accuracy: 1e-12)
        XCTAssertEqual(calibration.holdoutCount, 5)
    }

    /// One component, held-out scores 0…10: mean 5, sample variance 110/10 = 11.
    private func singleScoreCalibration() throws -> Calibration {
        try Calibration.fit(holdout: [.gaussian: (0...10).map(Double.init).reversed()], quantile: 0.99)
    }

    func testThresholdIsAHighQuantileOfHeldOutScoresAndMapsToOneHalf() throws {
        let calibration = try singleScoreCalibration()
        let s = 11.0.squareRoot()
        XCTAssertEqual(calibration.components, [.gaussian])
        // numpy's linear quantile: position 10·0.99 = 9.9 between the order statistics 9 and 10, i.e. raw 9.9,
        // below the maximum 10: the threshold is never just the largest normal score.
        XCTAssertEqual(calibration.threshold, 4.9 / s, accuracy: 1e-12)
        XCTAssertEqual(calibration.minimum, -5 / s, accuracy: 1e-12)
        XCTAssertEqual(calibration.maximum, 5 / s, accuracy: 1e-12)
        XCTAssertLessThan(calibration.threshold, calibration.maximum)
        let atThreshold = try calibration.evaluate([.gaussian: 9.9])
        XCTAssertEqual(atThreshold.normalized, 0.5, accuracy: 1e-12)
        XCTAssertEqual(atThreshold.raw, calibration.threshold, accuracy: 1e-12)
        XCTAssertLessThan(try calibration.evaluate([.gaussian: 9.8]).normalized, 0.5)
        // Spread = max − min = 10 raw units: raw 7.4 sits 2.5 below the threshold, a quarter of the spread.
        XCTAssertEqual(try calibration.evaluate([.gaussian: 7.4]).normalized, 0.25, accuracy: 1e-12)
        XCTAssertEqual(try calibration.evaluate([.gaussian: 12.4]).normalized, 0.75, accuracy: 1e-12)
    }

    func testNormalisedScoreIsClampedToTheUnitInterval() throws {
        let calibration = try singleScoreCalibration()
        XCTAssertEqual(try calibration.evaluate([.gaussian: 14.9]).normalized, 1, accuracy: 1e-12, "half a spread above: exactly 1")
        XCTAssertEqual(try calibration.evaluate([.gaussian: 1000]).normalized, 1)
        XCTAssertEqual(try calibration.evaluate([.gaussian: 4.9]).normalized, 0, accuracy: 1e-12, "half a spread below: exactly 0")
        XCTAssertEqual(try calibration.evaluate([.gaussian: -1000]).normalized, 0)
    }

    func testFitErrors() {
        func expect(_ holdout: [ScoreComponent: [Double]], quantile: Double = 0.99, _ error: CalibrationError,
                    line: UInt = #line) {
            XCTAssertThrowsError(try Calibration.fit(holdout: holdout, quantile: quantile), line: line) {
                XCTAssertEqual($0 as? CalibrationError, error, line: line)
            }
        }
        expect([:], .noComponents)
        expect([.mkd: [1, 2, 3]], quantile: 1, .invalidQuantile(1))
        expect([.mkd: [1, 2, 3]], quantile: 0, .invalidQuantile(0))
        expect([.mkd: [1]], .tooFewHoldoutScores(component: .mkd, count: 1))
        expect([.mkd: [1, 2, 3], .gaussian: [1, 2]], .countMismatch(component: .gaussian, count: 2, expected: 3))
        expect([.mkd: [1, .nan, 3]], .nonFiniteScore(component: .mkd, index: 1))
        expect([.gaussian: [2, 2, 2]], .constantScores(component: .gaussian))
        // Perfectly anti-correlated scores cancel: every fused score is 0.
        expect([.mkd: [1, 2, 3], .gaussian: [3, 2, 1]], .zeroSpread)
    }

    func testScoringErrors() throws {
        let calibration = try Calibration.fit(holdout: [.mkd: [1, 2, 4], .gaussian: [3, 1, 2]], quantile: 0.99)
        XCTAssertThrowsError(try calibration.evaluate([.mkd: 1])) {
            XCTAssertEqual($0 as? CalibrationError, .missingScore(component: .gaussian))
        }
        XCTAssertThrowsError(try calibration.evaluate([.mkd: .infinity, .gaussian: 1])) {
            XCTAssertEqual($0 as? CalibrationError, .nonFiniteRawScore(component: .mkd))
        }
        XCTAssertEqual(try calibration.evaluate([.mkd: 1, .gaussian: 1]).raw,
                       try calibration.fuse([.mkd: 1, .gaussian: 1]), "evaluate reports the fused raw score")
    }

    func testCodableRoundTripAndValidation() throws {
        let calibration = try Calibration.fit(holdout: [.mkd: [1, 2, 4, 8], .gaussian: [3, 1, 2, 7]], quantile: 0.95)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let json = try encoder.encode(calibration)
        let decoded = try decoder.decode(Calibration.self, from: json)
        XCTAssertEqual(decoded, calibration)
        XCTAssertNoThrow(try decoded.validate())

        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertNotNil(object["holdout_count"])
        object["threshold"] = calibration.maximum + 1
        let outside = try decoder.decode(Calibration.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertThrowsError(try outside.validate()) {
            guard case .invalidField(field: "threshold", _) = $0 as? CalibrationError else { return XCTFail("\($0)") }
        }
        object["threshold"] = calibration.threshold
        var standardizers = try XCTUnwrap(object["standardizers"] as? [[String: Any]])
        standardizers[1]["std"] = 0
        object["standardizers"] = standardizers
        let flat = try decoder.decode(Calibration.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertThrowsError(try flat.validate()) {
            XCTAssertEqual($0 as? CalibrationError, .invalidField(field: "standardizers.gaussian.std", detail: "0.0 is not positive"))
        }
    }

    func testHoldoutSplitIsSeededDisjointAndSized() throws {
        let a = try HoldoutSplit.split(count: 100, fraction: 0.1, seed: 42)
        XCTAssertEqual(a.holdout.count, 10)
        XCTAssertEqual(a.train.count, 90)
        XCTAssertEqual(Set(a.train + a.holdout), Set(0..<100))
        XCTAssertEqual(a.holdout, a.holdout.sorted())
        let again = try HoldoutSplit.split(count: 100, fraction: 0.1, seed: 42)
        XCTAssertEqual(again.holdout, a.holdout)
        XCTAssertNotEqual(try HoldoutSplit.split(count: 100, fraction: 0.1, seed: 43).holdout, a.holdout)
        XCTAssertEqual(try HoldoutSplit.split(count: 10, fraction: 0.1, seed: 1).holdout.count, 2, "at least 2 held out")

        let blocks = try HoldoutSplit.split(count: 100, fraction: 0.1, seed: 42, blockLength: 5)
        XCTAssertEqual(blocks.holdout.count, 10)
        for start in stride(from: 0, to: 10, by: 5) {
            let first = blocks.holdout[start]
            XCTAssertEqual(first % 5, 0)
            XCTAssertEqual(Array(blocks.holdout[start..<(start + 5)]), Array(first..<(first + 5)), "whole runs of 5 frames")
        }

        XCTAssertThrowsError(try HoldoutSplit.split(count: 3, fraction: 0.1, seed: 0)) {
            XCTAssertEqual($0 as? CalibrationError, .tooFewFrames(count: 3, holdout: 2))
        }
        XCTAssertThrowsError(try HoldoutSplit.split(count: 100, fraction: 1, seed: 0)) {
            XCTAssertEqual($0 as? CalibrationError, .invalidHoldoutFraction(1))
        }
        XCTAssertThrowsError(try HoldoutSplit.split(count: 100, fraction: 0.1, seed: 0, blockLength: 0)) {
            XCTAssertEqual($0 as? CalibrationError, .invalidBlockLength(0))
        }
    }
}
