import Foundation
import XCTest
@testable import Detector
import Statistics

final class CalibrationTests: XCTestCase {
    /// Each component's tail probability comes from its own normal scores; the fused p is m times the smallest.
    func testTheFusedProbabilityIsMTimesTheSmallestComponentTail() throws {
        let gaussian = (0..<100).map { Double($0) }, mkd = (0..<40).map { Double($0) / 10 }
        let calibration = try Calibration.fit(normal: [.gaussian: gaussian, .mkd: mkd], holdoutCount: 40)
        XCTAssertEqual(calibration.components, [.mkd, .gaussian])
        XCTAssertEqual(calibration.fusion, .minP, "the default")
        XCTAssertNil(calibration.joint)
        let g = try ScoreTail.fit(gaussian), m = try ScoreTail.fit(mkd)
        for (x, y) in [(50.0, 1.0), (10.0, 3.5), (150.0, 0.2), (-5.0, -1.0)] {
            let expected = min(g.logSurvival(x), m.logSurvival(y)) + log(2)
            XCTAssertEqual(try calibration.logProbability([.gaussian: x, .mkd: y]), expected, accuracy: 1e-12)
            XCTAssertEqual(try calibration.evaluate([.gaussian: x, .mkd: y]).surprise,
                           min(Calibration.maximumSurprise, -expected / log(10)), accuracy: 1e-12)
        }
        XCTAssertEqual(try calibration.evaluate([.gaussian: -5, .mkd: -1]).surprise, -log10(2), accuracy: 1e-12,
                       "as normal as it gets")
        // Ordinary to both components (m·p above 1), yet not alike: the less ordinary frame still ranks higher.
        let ordinary = try calibration.evaluate([.gaussian: 30, .mkd: 1]).surprise
        let lessOrdinary = try calibration.evaluate([.gaussian: 30, .mkd: 2.5]).surprise
        XCTAssertLessThan(ordinary, 0)
        XCTAssertLessThan(ordinary, lessOrdinary, "no tie at p = 1")
        XCTAssertEqual(calibration.holdoutCount, 40)
    }

    /// The fusion on synthetic components, one of which is pure noise: its AUROC stays within 0.015 of the informative
    /// component's alone (the factor 2 in p is the price of not knowing which component informs), where the sum of
    /// z-scores loses clearly more; and a normal frame crosses a cut at p = 1e-3 about as often as promised.
    func testAComponentOfPureNoiseDoesNotDragTheFusionDown() throws {
        var draws = NormalDraws(state: 5)
        func normal() -> Double { draws.next() }
        // Normal frames: both components N(0, 1); novel ones: the informative one shifted by 3, the noise not at all.
        let fit = (0..<600).map { _ in (normal(), normal()) }
        let calibration = try Calibration.fit(normal: [.gaussian: fit.map(\.0), .mkd: fit.map(\.1)], holdoutCount: 600)
        let normals = (0..<4000).map { _ in (normal(), normal()) }, novel = (0..<400).map { _ in (3 + normal(), normal()) }
        func fused(_ f: (Double, Double)) throws -> Double { try calibration.evaluate([.gaussian: f.0, .mkd: f.1]).surprise }
        let best = try auroc(normals.map(\.0), novel.map(\.0))
        let tail = try auroc(try normals.map(fused), try novel.map(fused))
        let zsum = try auroc(normals.map { $0.0 + $0.1 }, novel.map { $0.0 + $0.1 })
        XCTAssertGreaterThan(best, 0.97)
        XCTAssertGreaterThanOrEqual(tail, best - 0.015, "tail fusion \(tail), best component \(best), z-sum \(zsum)")
        XCTAssertLessThan(zsum, best - 0.02, "the z-sum \(zsum) is what the noise drags down")
        let above = try normals.filter { try fused($0) >= 3 }.count
        XCTAssertLessThan(Double(above) / Double(normals.count), 3e-3, "p = 1e-3 per frame, within sampling error")
    }

    /// Each component's tail probability comes from its own normal scores; the frame's statistic is −Σ ln p_j, and the
    /// fused p is the share of the shared learning frames' statistics (their joint tail) at least as large.
    func testTheFusedProbabilityIsTheJointTailOfFishersSum() throws {
        let gaussian = (0..<100).map { Double($0) }, mkd = (0..<40).map { Double(($0 * 7) % 40) / 10 }
        let calibration = try Calibration.fit(normal: [.gaussian: gaussian, .mkd: mkd], holdoutCount: 40, fusion: .fisher)
        XCTAssertEqual(calibration.components, [.mkd, .gaussian])
        XCTAssertEqual(calibration.fusion, .fisher)
        let g = try ScoreTail.fit(gaussian), m = try ScoreTail.fit(mkd)
        let joint = try XCTUnwrap(calibration.joint)
        XCTAssertEqual(joint.rows.count, 40, "the frames both components scored")
        XCTAssertEqual(joint.rows[3], [mkd[3], gaussian[3]], "a row is one frame's scores, in component order")
        let sums = (0..<40).map { -m.logSurvival(mkd[$0]) - g.logSurvival(gaussian[$0]) }
        XCTAssertEqual(joint.tail, try ScoreTail.fit(sums))
        for (x, y) in [(50.0, 1.0), (10.0, 3.5), (150.0, 0.2), (-5.0, -1.0), (99.0, 3.9)] {
            let expected = joint.tail.logSurvival(-g.logSurvival(x) - m.logSurvival(y))
            XCTAssertEqual(try calibration.logProbability([.gaussian: x, .mkd: y]), expected, accuracy: 1e-12)
            XCTAssertEqual(try calibration.evaluate([.gaussian: x, .mkd: y]).surprise,
                           min(Calibration.maximumSurprise, -expected / log(10)), accuracy: 1e-12)
        }
        // Below every normal score in both (p = 1 each, T = 0): more ordinary than every learning frame.
        XCTAssertEqual(try calibration.evaluate([.gaussian: -5, .mkd: -1]).surprise, 0, accuracy: 1e-12)
        // Both components surprised a little rank above one surprised as much and the other not at all.
        XCTAssertGreaterThan(try calibration.evaluate([.gaussian: 90, .mkd: 3.6]).surprise,
                             try calibration.evaluate([.gaussian: 90, .mkd: 0.5]).surprise)
        XCTAssertEqual(calibration.holdoutCount, 40)
    }

    /// Synthetic components, normal frames N(0, 1) in both. Two informative ones (novel frames shifted by 2 in each):
    /// the sum beats either alone. One informative and one of pure noise: the sum pays a little for the noise (its
    /// AUROC stays within 0.03 of the informative one's; min-p pays 0.015, a z-score sum 0.06). Either way the joint
    /// tail keeps its promise: a normal frame crosses a cut at p = 1e-3 about as often as promised.
    func testTheSumGainsFromTwoInformativeComponentsAndKeepsItsFalseAlarmRate() throws {
        var draws = NormalDraws(state: 5)
        func normal() -> Double { draws.next() }
        let fit = (0..<600).map { _ in (normal(), normal()) }
        let calibration = try Calibration.fit(normal: [.gaussian: fit.map(\.0), .mkd: fit.map(\.1)], holdoutCount: 600, fusion: .fisher)
        func fused(_ f: (Double, Double)) throws -> Double { try calibration.evaluate([.gaussian: f.0, .mkd: f.1]).surprise }
        let normals = (0..<4000).map { _ in (normal(), normal()) }

        let both = (0..<400).map { _ in (2 + normal(), 2 + normal()) }
        let single = try auroc(normals.map(\.0), both.map(\.0))
        let sum = try auroc(try normals.map(fused), try both.map(fused))
        XCTAssertGreaterThan(sum, single + 0.03, "two informative components: the sum \(sum), one alone \(single)")

        let one = (0..<400).map { _ in (3 + normal(), normal()) }
        let informative = try auroc(normals.map(\.0), one.map(\.0))
        let withNoise = try auroc(try normals.map(fused), try one.map(fused))
        XCTAssertGreaterThan(informative, 0.97)
        XCTAssertGreaterThanOrEqual(withNoise, informative - 0.03, "the sum \(withNoise), the informative component \(informative)")
        let above = try normals.filter { try fused($0) >= 3 }.count
        XCTAssertLessThan(Double(above) / Double(normals.count), 3e-3, "p = 1e-3 per frame, within sampling error")
    }

    /// Correlated components (on video both see the same light): Fisher's sum read as if they were independent would
    /// promise too much; the joint tail measures the sum's spread on the learning frames and keeps the promised rate.
    func testTheJointTailAbsorbsCorrelatedComponents() throws {
        var draws = NormalDraws(state: 11)
        func normal() -> Double { draws.next() }
        func frame() -> (Double, Double) { let common = normal(); return (common + 0.3 * normal(), common + 0.3 * normal()) }
        let fit = (0..<2000).map { _ in frame() }
        let calibration = try Calibration.fit(normal: [.gaussian: fit.map(\.0), .patch: fit.map(\.1)], holdoutCount: 2000, fusion: .fisher)
        let normals = (0..<20_000).map { _ in frame() }
        let above = try normals.filter { try calibration.evaluate([.gaussian: $0.0, .patch: $0.1]).surprise >= 2 }.count
        XCTAssertEqual(Double(above) / Double(normals.count), 0.01, accuracy: 0.004, "p = 1e-2 per frame")
        // Independent components would put T's 1 % point at 6.6 (T ~ Gamma(2, 1)); these spread it to about 9 (2 · 4.6).
        let joint = try XCTUnwrap(calibration.joint)
        XCTAssertGreaterThan(joint.tail.quantile(logSurvival: log(0.01)), 8)
    }

    /// The live refit (`adding`) grows T's rows by the live frames that have every component, and refits T's tail
    /// under the refitted component tails; a frame missing a component joins only its components' tails.
    func testAddingRefitsFishersTailOnCompleteLiveFrames() throws {
        let base = try Calibration.fit(normal: [.gaussian: (0..<50).map(Double.init), .patch: (0..<50).map { Double($0) / 5 }],
                                       holdoutCount: 50, fusion: .fisher)
        let live: [[ScoreComponent: Double]] = (0..<30).map { [.gaussian: Double($0) * 3, .patch: Double($0) / 2] } + [[.gaussian: 7]]
        let refitted = try base.adding(live)
        let joint = try XCTUnwrap(refitted.joint)
        XCTAssertEqual(joint.rows.count, 80, "50 learning frames and the 30 complete live ones")
        XCTAssertEqual(refitted.tails[0].tail.sorted.count, 81, "the Gaussian's tail took all 31")
        let g = refitted.tails[0].tail, p = refitted.tails[1].tail
        XCTAssertEqual(joint.tail, try ScoreTail.fit(joint.rows.map { -g.logSurvival($0[0]) - p.logSurvival($0[1]) }))
        XCTAssertNil(try Calibration.fit(normal: [.gaussian: (0..<50).map(Double.init)], holdoutCount: 50, fusion: .fisher).joint,
                     "one component: nothing to sum")
    }

    func testFitErrors() {
        XCTAssertThrowsError(try Calibration.fit(normal: [:], holdoutCount: 2)) { XCTAssertEqual($0 as? CalibrationError, .noComponents) }
        XCTAssertThrowsError(try Calibration.fit(normal: [.mkd: [1, 2, 3]], holdoutCount: 3)) {
            guard case .tooFewScores(component: .mkd, _) = $0 as? CalibrationError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try Calibration.fit(normal: [.gaussian: Array(repeating: 1, count: 30)], holdoutCount: 3)) {
            guard case .tooFewScores(component: .gaussian, let detail) = $0 as? CalibrationError else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.contains("the same"), detail)
        }
    }

    func testScoringErrors() throws {
        let calibration = try Calibration.fit(normal: [.gaussian: (0..<30).map(Double.init), .mkd: (0..<30).map(Double.init)],
                                              holdoutCount: 30)
        XCTAssertThrowsError(try calibration.evaluate([.gaussian: 1])) { XCTAssertEqual($0 as? CalibrationError, .missingScore(component: .mkd)) }
        XCTAssertThrowsError(try calibration.evaluate([.gaussian: 1, .mkd: .nan])) {
            XCTAssertEqual($0 as? CalibrationError, .nonFiniteRawScore(component: .mkd))
        }
        XCTAssertEqual(try calibration.evaluate([.gaussian: 1e300, .mkd: 1]).surprise, Calibration.maximumSurprise, "capped")
    }

    func testCodableRoundTripAndValidation() throws {
        let calibration = try Calibration.fit(normal: [.gaussian: (0..<30).map { Double($0 * $0) }], holdoutCount: 10)
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
        var tails = try XCTUnwrap(object["tails"] as? [[String: Any]])
        var tail = try XCTUnwrap(tails[0]["tail"] as? [String: Any])
        tail["pareto"] = ["shape": 0.1, "scale": -1.0]
        tails[0]["tail"] = tail
        object["tails"] = tails
        let broken = try decoder.decode(Calibration.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertThrowsError(try broken.validate()) {
            guard case .invalidField(field: "tails.gaussian", let detail) = $0 as? CalibrationError else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.contains("scale must be positive"), detail)
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
        XCTAssertEqual(try HoldoutSplit.split(count: 10, fraction: 0.1, seed: 1).holdout.count, 8,
                       "at least the 8 frames a score tail needs")

        let blocks = try HoldoutSplit.split(count: 100, fraction: 0.1, seed: 42, blockLength: 5)
        XCTAssertEqual(blocks.holdout.count, 10)
        for start in stride(from: 0, to: 10, by: 5) {
            let first = blocks.holdout[start]
            XCTAssertEqual(first % 5, 0)
            XCTAssertEqual(Array(blocks.holdout[start..<(start + 5)]), Array(first..<(first + 5)), "whole runs of 5 frames")
        }

        XCTAssertThrowsError(try HoldoutSplit.split(count: 3, fraction: 0.1, seed: 0)) {
            XCTAssertEqual($0 as? CalibrationError, .tooFewFrames(count: 3, holdout: 8))
        }
        XCTAssertThrowsError(try HoldoutSplit.split(count: 100, fraction: 1, seed: 0)) {
            XCTAssertEqual($0 as? CalibrationError, .invalidHoldoutFraction(1))
        }
        XCTAssertThrowsError(try HoldoutSplit.split(count: 100, fraction: 0.1, seed: 0, blockLength: 0)) {
            XCTAssertEqual($0 as? CalibrationError, .invalidBlockLength(0))
        }
    }
}

/// Box-Muller draws from a seeded LCG: the same samples on every machine.
private struct NormalDraws {
    var state: UInt64
    mutating func next() -> Double {
        func u() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        return (-2 * log(u())).squareRoot() * cos(2 * .pi * u())
    }
}

private func auroc(_ normal: [Double], _ anomalous: [Double]) throws -> Double {
    try ROC.auroc(scores: normal + anomalous, labels: normal.map { _ in false } + anomalous.map { _ in true })
}
