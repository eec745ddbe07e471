import Foundation
import XCTest
@testable import Kernels
import Reference

/// The AVX-512 inference kernels against the plain double-precision reference, on shapes that leave partial
/// row tiles (12 rows) and partial 32-column panels. Skipped on CPUs without AVX-512, where nothing calls them.
final class FastPathTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(FastPath.isAvailable, "no AVX-512 on this CPU")
    }

    func testPackedLinearMatchesNaiveWithEveryEpilogue() {
        var rng = RNG(31)
        for (rows, inF, outF) in [(13, 37, 29), (25, 192, 576), (1, 768, 1000), (30, 64, 96)] {
            let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF)
            let res = rng.floats(rows * outF)
            let packed = PackedWeight(w, inFeatures: inF, outFeatures: outF)
            let plain = Naive.linear(x, w, b, rows: rows, inF: inF, outF: outF)
            let tolerance = 1e-5 * Double(inF).squareRoot()
            for bias in [b, nil] {
                var y = [Float](repeating: .nan, count: rows * outF)
                FastPath.linear(&y, x, packed, bias, rows: rows)
                XCTAssertLessThan(maxAbsDiff(y, Naive.linear(x, w, bias, rows: rows, inF: inF, outF: outF)), tolerance,
                                  "\(rows)×\(inF)×\(outF) bias \(bias != nil)")
            }
            var y = [Float](repeating: .nan, count: rows * outF)
            FastPath.linear(&y, x, packed, b, gelu: true, rows: rows)
            XCTAssertLessThan(maxAbsDiff(y, plain.map(Naive.gelu)), tolerance, "GELU \(rows)×\(inF)×\(outF)")
            // The residual in place, as the blocks use it: out = res + x·Wᵀ + b.
            var inPlace = res
            FastPath.linear(&inPlace, x, packed, b, residual: inPlace, rows: rows)
            XCTAssertLessThan(maxAbsDiff(inPlace, zip(plain, res).map { $0 + Double($1) }), tolerance,
                              "residual \(rows)×\(inF)×\(outF)")
        }
    }

    func testFusedAttentionMatchesNaive() {
        var rng = RNG(32)
        // Head widths 16 (a partial panel of v) and 64 (ViT-Ti), token counts over and under a 32-wide panel.
        for (batch, t, d, heads) in [(2, 11, 48, 3), (1, 197, 192, 3), (2, 40, 128, 2)] { for threads in [1, 2] {
            let qkv = rng.floats(batch * t * 3 * d, 2)
            var out = [Float](repeating: .nan, count: batch * t * d)
            let stride = t + 3
            var cls = [Float](repeating: -1, count: batch * heads * stride)
            // Query rows split as threads split them (whole row tiles each), one call after the other.
            var scratch = [Float](repeating: 0, count: FastPath.attentionScratchCount(tokens: t, width: d, heads: heads))
            for queries in FastPath.split(t, threads) {
                FastPath.attention(&out, clsProbs: &cls, clsStride: stride, qkv, scratch: &scratch, batch: batch,
                                   tokens: t, width: d, heads: heads, queries: queries)
            }
            let (refOut, refProbs) = Naive.attention(qkv, batch: batch, t: t, d: d, heads: heads)
            XCTAssertLessThan(maxAbsDiff(out, refOut), 1e-5, "out \(batch)×\(t)×\(d)/\(heads), \(threads) threads")
            for bh in 0..<(batch * heads) {
                let row = Array(refProbs[(bh * t * t)..<(bh * t * t + t)])
                XCTAssertLessThan(maxAbsDiff(Array(cls[(bh * stride)..<(bh * stride + t)]), row), 1e-6, "CLS row \(bh)")
                XCTAssertEqual(cls[bh * stride + t], -1, "written past the row")
            }
        } }
    }

    func testLayerNormMatchesNaive() {
        var rng = RNG(33)
        for (rows, c) in [(7, 192), (3, 37)] {
            let x = rng.floats(rows * c, 30).map { $0 + 100 }
            let g = rng.floats(c), b = rng.floats(c)
            var y = [Float](repeating: 0, count: rows * c), mean = [Float](repeating: 0, count: rows), rstd = mean
            FastPath.layerNorm(&y, x, g, b, mean: &mean, rstd: &rstd, rows: rows, channels: c, eps: 1e-6)
            XCTAssertLessThan(maxAbsDiff(y, Naive.layerNorm(x, g, b, rows: rows, c: c, eps: 1e-6)), 1e-4)
            XCTAssertEqual(Double(mean[0]), x[0..<c].map(Double.init).reduce(0, +) / Double(c), accuracy: 1e-3)
        }
    }
}
