import Foundation
import XCTest
@testable import Kernels
import Reference

final class KernelTests: XCTestCase {
    func testTensorOwnsShapeAndValues() {
        let t = Tensor([2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t.array, [1, 2, 3, 4, 5, 6])
        t.zero()
        XCTAssertEqual(t.array, [Float](repeating: 0, count: 6))
    }

    func testLinearMatchesNaive() {
        var rng = RNG(1)
        let (rows, inF, outF) = (13, 37, 29)
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF)
        for bias in [b, nil] {
            var y = [Float](repeating: .nan, count: rows * outF)
            Linear.forward(&y, x, w, bias, rows: rows, inFeatures: inF, outFeatures: outF)
            XCTAssertLessThan(maxAbsDiff(y, Naive.linear(x, w, bias, rows: rows, inF: inF, outF: outF)), 1e-5)
        }
    }

    func testLayerNormMatchesNaive() {
        var rng = RNG(2)
        let (rows, c) = (7, 192)
        // An offset and a large scale exercise the variance computation.
        let x = rng.floats(rows * c, 30).map { $0 + 100 }
        let g = rng.floats(c), b = rng.floats(c)
        var y = [Float](repeating: 0, count: rows * c), mean = [Float](repeating: 0, count: rows), rstd = mean
        LayerNorm.forward(&y, x, g, b, mean: &mean, rstd: &rstd, rows: rows, channels: c, eps: 1e-6)
        XCTAssertLessThan(maxAbsDiff(y, Naive.layerNorm(x, g, b, rows: rows, c: c, eps: 1e-6)), 1e-4)
        XCTAssertEqual(Double(mean[0]), x[0..<c].map(Double.init).reduce(0, +) / Double(c), accuracy: 1e-3)
    }

    func testGELUIsExactErfForm() {
        let x = stride(from: -8.0, through: 8.0, by: 0.01).map(Float.init)
        var y = [Float](repeating: 0, count: x.count)
        GELU.forward(&y, x, count: x.count)
        XCTAssertLessThan(maxAbsDiff(y, x.map { Naive.gelu(Double($0)) }), 2e-6)
        // The tanh approximation differs from exact GELU by up to ~5e-4 near |x|=2: make sure we are not it.
        let tanhApprox = 0.5 * 2.0 * (1 + tanh((2 / Double.pi).squareRoot() * (2.0 + 0.044715 * 8)))
        XCTAssertGreaterThan(abs(Double(y[1000]) - tanhApprox), 1e-5)   // x[1000] == 2.0
    }

    func testVectorExpAndErfAccuracy() {
        for x in stride(from: -87.0 as Float, through: 88, by: 0.173) {
            XCTAssertEqual(Double(vexp(x)), exp(Double(x)), accuracy: exp(Double(x)) * 3e-7, "exp(\(x))")
        }
        for x in stride(from: -6.0 as Float, through: 6, by: 0.001) {
            XCTAssertEqual(Double(verf(x)), erf(Double(x)), accuracy: 6e-7, "erf(\(x))")
        }
    }

    func testSoftmaxIsStableAndMatchesNaive() {
        var rng = RNG(3)
        let (rows, cols) = (5, 197)
        var x = rng.floats(rows * cols, 10)
        x[3] = 1000   // would overflow exp without the max subtraction
        var y = [Float](repeating: 0, count: x.count)
        Softmax.forward(&y, x, rows: rows, cols: cols)
        var ref: [Double] = []
        for r in 0..<rows { ref += Naive.softmax(x[(r * cols)..<((r + 1) * cols)].map(Double.init)) }
        XCTAssertLessThan(maxAbsDiff(y, ref), 1e-6)
        XCTAssertFalse(y.contains { !$0.isFinite })
    }

    func testAttentionMatchesNaive() {
        var rng = RNG(4)
        let (batch, t, d, heads) = (2, 11, 48, 3)
        let qkv = rng.floats(batch * t * 3 * d, 2)
        var out = [Float](repeating: 0, count: batch * t * d)
        var probs = [Float](repeating: 0, count: batch * heads * t * t)
        Attention.forward(&out, probs: &probs, qkv, batch: batch, tokens: t, width: d, heads: heads)
        let (refOut, refProbs) = Naive.attention(qkv, batch: batch, t: t, d: d, heads: heads)
        XCTAssertLessThan(maxAbsDiff(out, refOut), 1e-5)
        XCTAssertLessThan(maxAbsDiff(probs, refProbs), 1e-6)
    }

    func testPatchEmbedMatchesConvolution() {
        var rng = RNG(5)
        let (batch, s, p, d) = (2, 32, 8, 5)
        let rgb = rng.bytes(batch * s * s * 3)
        let w = rng.floats(d * 3 * p * p), bias = rng.floats(d)
        let g = s / p
        var cols = [Float](repeating: 0, count: batch * g * g * 3 * p * p)
        PatchEmbed.im2col(&cols, rgb: rgb, batch: batch, imageSize: s, patchSize: p,
                          mean: .init(0.5, 0.4, 0.3), std: .init(0.2, 0.25, 0.5))
        var y = [Float](repeating: 0, count: batch * g * g * d)
        Linear.forward(&y, cols, w, bias, rows: batch * g * g, inFeatures: 3 * p * p, outFeatures: d)
        // Direct stride-p convolution over the normalised CHW image.
        let mean = [0.5, 0.4, 0.3], std = [0.2, 0.25, 0.5]
        var ref = [Double](repeating: 0, count: y.count)
        for b in 0..<batch { for gy in 0..<g { for gx in 0..<g { for o in 0..<d {
            var acc = Double(bias[o])
            for c in 0..<3 { for ky in 0..<p { for kx in 0..<p {
                let v = Double(rgb[((b * s + gy * p + ky) * s + gx * p + kx) * 3 + c]) / 255
                acc += (v - mean[c]) / std[c] * Double(w[((o * 3 + c) * p + ky) * p + kx])
            } } }
            ref[((b * g + gy) * g + gx) * d + o] = acc
        } } } }
        XCTAssertLessThan(maxAbsDiff(y, ref), 1e-4)
    }
}

final class BLASKernelChoiceTests: XCTestCase {
    func testGenericFallbackIsReplacedByTheCPUsVectorUnits() {
        let avx512: Set = ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]
        XCTAssertEqual(BLAS.kernelOverride(chosen: "Prescott", cpuFlags: avx512), "SkylakeX")
        XCTAssertEqual(BLAS.kernelOverride(chosen: "Prescott", cpuFlags: ["sse4_2", "avx2", "fma"]), "Haswell")
        XCTAssertNil(BLAS.kernelOverride(chosen: "Prescott", cpuFlags: ["sse4_2", "avx"]))
        // A CPU OpenBLAS recognised keeps its choice.
        XCTAssertNil(BLAS.kernelOverride(chosen: "Cooperlake", cpuFlags: avx512))
        XCTAssertNil(BLAS.kernelOverride(chosen: "Haswell", cpuFlags: avx512))
    }
}
