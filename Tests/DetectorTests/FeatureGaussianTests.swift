import Foundation
import Reference
import XCTest
@testable import Detector

final class FeatureGaussianTests: XCTestCase {
    /// n correlated features of width d around a common offset, with a decaying spectrum (like CLS features).
    /// `distribution` fixes the offset and mixing, `seed` the samples drawn from it.
    static func correlatedFeatures(n: Int, d: Int, distribution: UInt64 = 0, seed: UInt64) -> [Float] {
        var parameters = RNG(distribution)
        let offset = (0..<d).map { _ in 3 * parameters.boxMullerNormal() }
        let mixing = (0..<(d * d)).map { i in parameters.boxMullerNormal() / Double(1 + i % d) }
        var rng = RNG(seed &+ 1_000_003)
        var out = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            let g = (0..<d).map { _ in rng.boxMullerNormal() }
            for c in 0..<d {
                var s = offset[c]
                for j in 0..<d { s += mixing[c * d + j] * g[j] }
                out[r * d + c] = Float(s)
            }
        }
        return out
    }

    func testMahalanobisMatchesNaiveDoublePrecisionModel() throws {
        let n = 300, d = 16
        let train = Self.correlatedFeatures(n: n, d: d, seed: 1)
        let model = try FeatureGaussian.fit(features: train, count: n, dimension: d)
        let naive = NaiveWhitenedGaussian(features: train, n: n, d: d)
        XCTAssertEqual(model.components, naive.k)
        XCTAssertGreaterThan(model.components, 1)
        XCTAssertLessThan(model.components, d)

        // Training rows, fresh rows from the same distribution, and shifted rows.
        var probes = Array(train[0..<(20 * d)]) + Self.correlatedFeatures(n: 20, d: d, seed: 2)
        probes += Self.correlatedFeatures(n: 10, d: d, seed: 3).map { $0 + 2 }
        let count = probes.count / d
        let batch = try model.scores(probes, count: count)
        for r in 0..<count {
            let row = Array(probes[(r * d)..<(r * d + d)])
            let expected = naive.score(row)
            XCTAssertEqual(batch[r], expected, accuracy: 1e-4 * max(1, expected), "row \(r)")
            XCTAssertEqual(try model.score(row[...]), batch[r], accuracy: 1e-9 * max(1, batch[r]), "single vs batch, row \(r)")
        }
    }

    func testFewerFramesThanDimensions() throws {
        // n ≤ d: the covariance has rank n−1 and the PCA keeps only directions with variance.
        let n = 10, d = 30
        let train = Self.correlatedFeatures(n: n, d: d, seed: 31)
        let model = try FeatureGaussian.fit(features: train, count: n, dimension: d)
        let naive = NaiveWhitenedGaussian(features: train, n: n, d: d)
        XCTAssertEqual(model.components, naive.k)
        XCTAssertLessThan(model.components, n - 1)
        let probes = Self.correlatedFeatures(n: 5, d: d, seed: 32)
        let scores = try model.scores(probes, count: 5)
        for r in 0..<5 {
            let expected = naive.score(Array(probes[(r * d)..<(r * d + d)]))
            XCTAssertEqual(scores[r], expected, accuracy: 1e-4 * max(1, expected), "row \(r)")
        }
    }

    func testPCARecoversConstructedEigenStructure() throws {
        // Features whose ddof-1 covariance is exactly Q·diag(λ)·Qᵀ: centred orthonormal columns scaled by √((n−1)λ).
        let n = 50, d = 5
        let lambda = [5.0, 3.0, 1.5, 0.3, 0.2]   // cumulative 0.5, 0.8, 0.95: index 2 is the first above 0.9, so k = 2
        var rng = RNG(7)
        var g = (0..<(n * d)).map { _ in rng.boxMullerNormal() }
        for c in 0..<d {
            let m = (0..<n).reduce(0.0) { $0 + g[$1 * d + c] } / Double(n)
            for r in 0..<n { g[r * d + c] -= m }
        }
        let columns = NaiveLinearAlgebra.orthonormalColumns(g, rows: n, cols: d)
        let q = NaiveLinearAlgebra.orthonormalColumns((0..<(d * d)).map { _ in rng.boxMullerNormal() }, rows: d, cols: d)
        let offset = (0..<d).map { Double($0) - 2 }
        var features = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            for c in 0..<d {
                var s = offset[c]
                for j in 0..<d { s += columns[r * d + j] * (Double(n - 1) * lambda[j]).squareRoot() * q[c * d + j] }
                features[r * d + c] = Float(s)
            }
        }

        let model = try FeatureGaussian.fit(features: features, count: n, dimension: d)
        XCTAssertEqual(model.components, 2)
        XCTAssertEqual(Double(model.eigenvalues[0]), 5, accuracy: 1e-4)
        XCTAssertEqual(Double(model.eigenvalues[1]), 3, accuracy: 1e-4)
        XCTAssertEqual(model.totalVariance, 10, accuracy: 1e-4)
        XCTAssertEqual(model.explainedVarianceRatio, 0.8, accuracy: 1e-5)
        for c in 0..<d { XCTAssertEqual(Double(model.mean[c]), offset[c], accuracy: 1e-5) }
        // Row j of the projection is ±q_j/√λ_j (an eigenvector's sign is arbitrary).
        for j in 0..<2 {
            let row = (0..<d).map { Double(model.projection[j * d + $0]) * lambda[j].squareRoot() }
            let dot = (0..<d).reduce(0.0) { $0 + row[$1] * q[$1 * d + j] }
            XCTAssertEqual(abs(dot), 1, accuracy: 1e-5, "component \(j)")
        }
        // Under its own maximum-likelihood Gaussian, the training set's mean squared Mahalanobis distance is
        // trace(Σ̂⁻¹S) = k·s/(s + 1e-6) with s = (n−1)/n the whitened variance.
        let s = Double(n - 1) / Double(n)
        let meanScore = try model.scores(features, count: n).reduce(0, +) / Double(n)
        XCTAssertEqual(meanScore, 2 * s / (s + 1e-6), accuracy: 1e-4)
    }

    func testComponentCountFollowsTheReferenceRuleAtTheEdge() {
        // Exact in binary floating point: the cumulative sums are small integers and halves, and 9/10 rounds to the
        // same double as the literal 0.9, so "exceeds 0.90" is decided exactly as numpy decides it.
        XCTAssertEqual(FeatureGaussian.componentCount(descendingEigenvalues: [5, 3, 1, 0.5, 0.5], varianceKept: 0.9), 3,
                       "cumulative 0.5, 0.8, 0.9, 0.95: index 2 equals 0.90 and does not exceed it, index 3 does")
        XCTAssertEqual(FeatureGaussian.componentCount(descendingEigenvalues: [5, 3, 1.25, 0.5, 0.25], varianceKept: 0.9), 2,
                       "cumulative 0.925 at index 2")
        XCTAssertEqual(FeatureGaussian.componentCount(descendingEigenvalues: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], varianceKept: 0.9), 9)
        XCTAssertEqual(FeatureGaussian.componentCount(descendingEigenvalues: [9.5, 0.25, 0.25], varianceKept: 0.9), 1,
                       "the reference would keep 0 components; we keep 1")
        XCTAssertEqual(FeatureGaussian.componentCount(descendingEigenvalues: [4, 3, 2, 1], varianceKept: 0.5), 1,
                       "cumulative 0.4, 0.7: index 1")
    }

    func testFarAwayPointsScoreHigherThanInliers() throws {
        let n = 400, d = 24
        let train = Self.correlatedFeatures(n: n, d: d, seed: 11)
        let model = try FeatureGaussian.fit(features: train, count: n, dimension: d)
        let k = model.components
        let inlierRows = Self.correlatedFeatures(n: 100, d: d, seed: 12)
        let inliers = try model.scores(inlierRows, count: 100)
        // Each outlier is an inlier moved 10 standard deviations along a random direction of the kept subspace:
        // the feature shift Σ_j w_j·10·√λ_j·v_j moves the whitened feature by 10·w, with ‖w‖ = 1.
        // (Directions the PCA discards are invisible to this score by design.)
        var rng = RNG(13)
        var outlierRows = Array(inlierRows[0..<(20 * d)])
        for r in 0..<20 {
            var w = (0..<k).map { _ in rng.boxMullerNormal() }
            let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            w = w.map { $0 / norm }
            for j in 0..<k {
                for c in 0..<d {
                    outlierRows[r * d + c] += Float(10 * w[j]) * model.projection[j * d + c] * model.eigenvalues[j]
                }
            }
        }
        let outliers = try model.scores(outlierRows, count: 20)
        XCTAssertLessThan(inliers.sorted()[50], 2 * Double(k), "median inlier near k, the mean of a chi-square with k dof")
        XCTAssertGreaterThan(outliers.min()!, inliers.max()!)
        for r in 0..<20 { XCTAssertGreaterThan(outliers[r], inliers[r] + 30, "row \(r)") }
    }

    func testMatchesNumpyTransformalyRecipe() throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw XCTSkip("\(python) is not installed (scripts/install-deps.sh)") }
        let n = 120, d = 10
        let train = Self.correlatedFeatures(n: n, d: d, seed: 21)
        let test = Self.correlatedFeatures(n: 15, d: d, seed: 22).map { $0 * 1.5 }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gauss-numpy-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try train.withUnsafeBytes { try Data($0).write(to: directory.appendingPathComponent("train.f32")) }
        try test.withUnsafeBytes { try Data($0).write(to: directory.appendingPathComponent("test.f32")) }
        // eval.py's steps, with sklearn's PCA(whiten=True, svd_solver='full') and one-component GaussianMixture
        // written out in numpy (the PCA through an SVD, independent of the eigen-decomposition used for k).
        let script = """
        import numpy as np, sys
        d = \(d)
        tr = np.fromfile(sys.argv[1] + "/train.f32", dtype="<f4").astype(np.float64).reshape(-1, d)
        te = np.fromfile(sys.argv[1] + "/test.f32", dtype="<f4").astype(np.float64).reshape(-1, d)
        vals = sorted(np.linalg.eigvals(np.cov(tr.T)).real, reverse=True)
        cs = np.cumsum(vals); ev = cs / cs[-1]
        for i, e in enumerate(ev):
            k = i
            if e > 0.9: break
        mean = tr.mean(0)
        _, s, vt = np.linalg.svd(tr - mean, full_matrices=False)
        scale = np.sqrt(s[:k] ** 2 / (len(tr) - 1))
        u_tr = (tr - mean) @ vt[:k].T / scale
        u_te = (te - mean) @ vt[:k].T / scale
        mu = u_tr.mean(0); diff = u_tr - mu
        cov = diff.T @ diff / len(u_tr) + 1e-6 * np.eye(k)
        r = u_te - mu
        m = np.einsum("ij,ij->i", r, np.linalg.solve(cov, r.T).T)
        print(k)
        for v in m: print(repr(float(v)))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, directory.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw XCTSkip("numpy is not available to \(python) (python3-numpy)") }
        let lines = output.split(separator: "\n").map(String.init)
        let model = try FeatureGaussian.fit(features: train, count: n, dimension: d)
        XCTAssertEqual(model.components, Int(lines[0]))
        let scores = try model.scores(test, count: 15)
        XCTAssertEqual(lines.count, 16)
        for (i, line) in lines.dropFirst().enumerated() {
            let expected = try XCTUnwrap(Double(line))
            XCTAssertEqual(scores[i], expected, accuracy: 1e-4 * max(1, expected), "test row \(i)")
        }
    }

    func testErrorsNameTheProblem() throws {
        XCTAssertThrowsError(try FeatureGaussian.fit(features: [1, 2, 3], count: 1, dimension: 3)) {
            XCTAssertEqual($0 as? FeatureGaussianError, .tooFewSamples(count: 1))
        }
        XCTAssertThrowsError(try FeatureGaussian.fit(features: [1, 2, 3, 4, 5], count: 2, dimension: 3)) {
            XCTAssertEqual($0 as? FeatureGaussianError, .dimensionMismatch(expected: 6, found: 5))
        }
        XCTAssertThrowsError(try FeatureGaussian.fit(features: [1, 2, 3, 4, .nan, 6], count: 2, dimension: 3)) {
            XCTAssertEqual($0 as? FeatureGaussianError, .nonFiniteFeature(row: 1, column: 1))
        }
        XCTAssertThrowsError(try FeatureGaussian.fit(features: [1, 2, 3, 4, 5, 6], count: 2, dimension: 3, varianceKept: 1)) {
            XCTAssertEqual($0 as? FeatureGaussianError, .invalidVarianceKept(1))
        }
        XCTAssertThrowsError(try FeatureGaussian.fit(features: [Float](repeating: 0.25, count: 12), count: 4, dimension: 3)) {
            XCTAssertEqual($0 as? FeatureGaussianError, .degenerateFeatures(totalVariance: 0))
        }
        let model = try FeatureGaussian.fit(features: Self.correlatedFeatures(n: 30, d: 4, seed: 5), count: 30, dimension: 4)
        XCTAssertThrowsError(try model.scores([1, 2, 3], count: 1)) {
            XCTAssertEqual($0 as? FeatureGaussianError, .dimensionMismatch(expected: 4, found: 3))
        }
        XCTAssertThrowsError(try model.score([1, 2, .infinity, 4])) {
            XCTAssertEqual($0 as? FeatureGaussianError, .nonFiniteFeature(row: 0, column: 2))
        }
        // An indefinite matrix, which the 1e-6 regularisation cannot produce from real features but corrupt ones could.
        XCTAssertThrowsError(try FeatureGaussian.choleskyLower([1, 2, 2, 1], order: 2)) {
            XCTAssertEqual($0 as? FeatureGaussianError, .choleskyFailed(order: 2, info: 2))
            XCTAssertTrue("\($0)".contains("collect more varied frames"))
        }
        XCTAssertThrowsError(try FeatureGaussian(dimension: model.dimension, components: model.components, mean: model.mean,
                                                 projection: model.projection, eigenvalues: model.eigenvalues,
                                                 totalVariance: model.totalVariance, whitenedMean: model.whitenedMean,
                                                 cholesky: model.cholesky.map { -$0 })) {
            XCTAssertEqual($0 as? FeatureGaussianError, .invalidParameter(field: "cholesky", detail: "diagonal element 0 is not positive"))
        }
    }

    func testCholeskyMatchesConstructedFactor() throws {
        // A = L·Lᵀ for a known lower-triangular L.
        let l: [Double] = [2, 0, 0, -1, 3, 0, 0.5, 1, 1.5]
        var a = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { a[i * 3 + j] += l[i * 3 + k] * l[j * 3 + k] } } }
        let factor = try FeatureGaussian.choleskyLower(a, order: 3)
        for i in 0..<9 { XCTAssertEqual(factor[i], l[i], accuracy: 1e-12) }
    }
}
