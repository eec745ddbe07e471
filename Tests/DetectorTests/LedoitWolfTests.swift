import Foundation
import Reference
import XCTest
@testable import Detector
@testable import Engine

/// The shrunk Gaussian against Ledoit and Wolf's definition computed plainly in double precision.
final class LedoitWolfTests: XCTestCase {
    /// C = (1 − ρ)S + ρmI with S the (1/n) covariance, m = tr(S)/d, ρ = min(β̄, δ)/δ, where, with ‖A‖² = tr(AAᵀ)/d,
    /// β̄ = (1/n²) Σₖ ‖xₖxₖᵀ − S‖² and δ = ‖S − mI‖² (Ledoit & Wolf 2004, lemma 3.3 and the estimators of section 3).
    struct Naive {
        let mean: [Double]
        let covariance: [Double]
        let rho: Double
        let d: Int

        init(_ features: [Float], n: Int, d: Int) {
            self.d = d
            let x = features.map(Double.init)
            let mean = (0..<d).map { c in (0..<n).reduce(0.0) { $0 + x[$1 * d + c] } / Double(n) }
            let centred = (0..<n).map { r in (0..<d).map { x[r * d + $0] - mean[$0] } }
            var s = [Double](repeating: 0, count: d * d)
            for row in centred { for i in 0..<d { for j in 0..<d { s[i * d + j] += row[i] * row[j] / Double(n) } } }
            let m = (0..<d).reduce(0.0) { $0 + s[$1 * d + $1] } / Double(d)
            func norm2(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 } / Double(d) }
            var identityM = [Double](repeating: 0, count: d * d)
            for i in 0..<d { identityM[i * d + i] = m }
            let delta = norm2(zip(s, identityM).map { $0 - $1 })
            var betaBar = 0.0
            for row in centred {
                var diff = [Double](repeating: 0, count: d * d)
                for i in 0..<d { for j in 0..<d { diff[i * d + j] = row[i] * row[j] - s[i * d + j] } }
                betaBar += norm2(diff) / Double(n * n)
            }
            let rho = min(betaBar, delta) / delta
            covariance = (0..<(d * d)).map { (1 - rho) * s[$0] + rho * identityM[$0] }
            self.rho = rho
            self.mean = mean
        }

        func score(_ feature: [Float]) -> Double {
            let r = (0..<d).map { Double(feature[$0]) - mean[$0] }
            let y = NaiveLinearAlgebra.solve(covariance, r, n: d)
            return zip(r, y).reduce(0) { $0 + $1.0 * $1.1 }
        }
    }

    private func check(n: Int, d: Int, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
        let train = FeatureGaussianTests.correlatedFeatures(n: n, d: d, seed: seed)
        let model = try FeatureGaussian.fit(features: train, count: n, dimension: d, covariance: .ledoitWolf)
        let naive = Naive(train, n: n, d: d)
        XCTAssertGreaterThan(naive.rho, 0, file: file, line: line)
        XCTAssertLessThan(naive.rho, 1, file: file, line: line)
        XCTAssertEqual(model.components, d, "every direction is kept", file: file, line: line)
        var probes = Array(train[0..<(5 * d)]) + FeatureGaussianTests.correlatedFeatures(n: 10, d: d, seed: seed + 1)
        probes += FeatureGaussianTests.correlatedFeatures(n: 5, d: d, seed: seed + 2).map { $0 + 2 }
        let count = probes.count / d
        let scores = try model.scores(probes, count: count)
        for r in 0..<count {
            let expected = naive.score(Array(probes[(r * d)..<(r * d + d)]))
            XCTAssertEqual(scores[r], expected, accuracy: 1e-4 * max(1, expected), "row \(r)", file: file, line: line)
        }
    }

    func testScoresMatchTheShrunkCovariance() throws {
        try check(n: 200, d: 12, seed: 41)
    }

    func testFewerFramesThanDimensionsStillGiveAFullRankModel() throws {
        try check(n: 10, d: 24, seed: 51)
    }

    func testShrinkageGrowsAsFramesGetFew() {
        let d = 12
        let few = Naive(FeatureGaussianTests.correlatedFeatures(n: 15, d: d, seed: 61), n: 15, d: d).rho
        let many = Naive(FeatureGaussianTests.correlatedFeatures(n: 1500, d: d, seed: 61), n: 1500, d: d).rho
        XCTAssertGreaterThan(few, 3 * many, "ρ with 15 frames \(few), with 1500 frames \(many)")
    }

    func testCLSPatchMeanFeatureIsTheCLSTokenThenThePatchMean() {
        // Two images, 1 + 3 tokens of width 2.
        let tokens: [Float] = [1, 2, /* patches */ 3, 4, 5, 6, 7, 8,
                               -1, 0, /* patches */ 0, 0, 3, 3, 6, -3]
        let output = ViTOutput(batch: 2, tokens: 4, width: 2, finalTokens: tokens, clsAttention: [], logits: [], blockOutputs: [:])
        var features = [Float]()
        GaussianFeature.clsPatchMean.append(output, frame: 0, to: &features)
        GaussianFeature.clsPatchMean.append(output, frame: 1, to: &features)
        XCTAssertEqual(features, [1, 2, 5, 6, -1, 0, 3, 0])
        var cls = [Float]()
        GaussianFeature.cls.append(output, frame: 1, to: &cls)
        XCTAssertEqual(cls, [-1, 0])
        XCTAssertEqual(GaussianFeature.clsPatchMean.width(teacherWidth: 192), 384)
    }
}
