import Foundation
import XCTest
@testable import Kernels
import Reference

/// The inference kernels in every instruction set this CPU runs (AVX-512 and AVX2 on an AVX-512 machine) against
/// the plain double-precision reference, on shapes that leave partial row tiles (12 and 6 rows), partial 32-column
/// panels and partial 16-column halves, and the GEMM in bf16 where the CPU has AVX512_BF16 and in int8 where it has
/// AVX512_VNNI. Skipped only on CPUs with neither, where nothing calls them (Int8FastPathTests, below, runs
/// everywhere).
final class FastPathTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipIf(FastPath.supported.isEmpty, "neither AVX-512 nor AVX2 with FMA on this CPU")
    }

    /// The instruction sets follow the CPU's flags, so an AVX2-only CPU (AMD Zen 3) runs FastPath too.
    func testSupportedInstructionSetsFollowCPUFlags() throws {
        let flags = try XCTUnwrap(BLAS.cpuFlags())
        XCTAssertEqual(FastPath.supported.contains(.avx2), flags.isSuperset(of: ["avx2", "fma"]))
        XCTAssertEqual(FastPath.supported.contains(.avx512), flags.isSuperset(of: ["avx512f", "fma"]))
        if ProcessInfo.processInfo.environment["ANOMALYD_KERNELS"] == nil {
            XCTAssertEqual(FastPath.isa, FastPath.supported.last, "the process runs the widest")
        }
    }

    /// bf16 follows the flag (cpuid leaf 7 subleaf 1) that /proc/cpuinfo calls avx512_bf16, int8 the one it calls
    /// avx512_vnni, so a CPU that has them cannot skip the tests below; and the process runs fp32 unless
    /// ANOMALYD_PRECISION asks.
    func testPrecisionsFollowCPUFlags() throws {
        let flags = try XCTUnwrap(BLAS.cpuFlags())
        XCTAssertEqual(FastPath.precisions.contains(.bf16), flags.isSuperset(of: ["avx512f", "fma", "avx512_bf16"]))
        XCTAssertEqual(FastPath.precisions.contains(.int8), flags.isSuperset(of: ["avx512f", "fma", "avx512_vnni"]))
        XCTAssertTrue(FastPath.precisions.contains(.fp32))
        if ProcessInfo.processInfo.environment["ANOMALYD_PRECISION"] == nil {
            XCTAssertEqual(FastPath.precision, .fp32)
        }
    }

    /// Rounding to bf16 as the reference does it (ties to even, carries into the exponent).
    func testBF16RoundingReference() {
        XCTAssertEqual(Naive.bf16(1 + 1 / 256), 1)                                      // tie, 1 is even
        XCTAssertEqual(Naive.bf16(1 + 3 / 256), 1 + 4 / 256)                            // tie, rounds up to even
        XCTAssertEqual(Naive.bf16(1 + 1 / 256 + 1 / 65536), 1 + 2 / 256)                // past the tie
        XCTAssertEqual(Naive.bf16(Float(bitPattern: 0x3FFF_FFFF)), 2)                   // carries into the exponent
        XCTAssertEqual(Naive.bf16(-0.1), -Float(bitPattern: 0x3DCD_0000))
    }

    /// The GEMM in fp32 in every instruction set the CPU runs, and in bf16 and int8 (AVX-512 kernels only) where it
    /// has AVX512_BF16 and AVX512_VNNI, against the reference on operands rounded as that precision rounds them
    /// (bf16: both to nearest even, sums exact; int8: Naive.linearInt8's quantization, integer sums, its
    /// dequantization): as tight for both as for fp32, so neither kernel may round anything else. Odd k (a
    /// zero-padded last pair or quad), k = 1, partial row tiles and panels, every epilogue.
    func testPackedLinearMatchesNaiveWithEveryEpilogue() {
        for isa in FastPath.supported { checkLinear(isa, .fp32) }
        for precision in FastPath.precisions where precision != .fp32 { checkLinear(.avx512, precision) }
    }

    func checkLinear(_ isa: FastPath.ISA, _ precision: FastPath.Precision) {
        var rng = RNG(31)
        let round = { (x: Float) in precision == .bf16 ? Naive.bf16(x) : x }
        func reference(_ x: [Float], _ w: [Float], _ b: [Float]?, rows: Int, inF: Int, outF: Int) -> [Double] {
            precision == .int8 ? Naive.linearInt8(x, w, b, rows: rows, inF: inF, outF: outF)
                : Naive.linear(x.map(round), w.map(round), b, rows: rows, inF: inF, outF: outF)
        }
        for (rows, inF, outF) in [(13, 37, 29), (25, 193, 577), (1, 768, 1000), (30, 65, 96), (12, 1, 33), (7, 41, 40)] {
            let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF)
            let res = rng.floats(rows * outF)
            let packed = PackedWeight(w, inFeatures: inF, outFeatures: outF, precision: precision)
            XCTAssertEqual(packed.precision, precision)
            let plain = reference(x, w, b, rows: rows, inF: inF, outF: outF)
            let tolerance = 1e-5 * Double(inF).squareRoot()
            let shape = "\(isa) \(precision) \(rows)×\(inF)×\(outF)"
            for bias in [b, nil] {
                var y = [Float](repeating: .nan, count: rows * outF)
                FastPath.linear(&y, x, packed, bias, rows: rows, isa: isa)
                XCTAssertLessThan(maxAbsDiff(y, reference(x, w, bias, rows: rows, inF: inF, outF: outF)), tolerance,
                                  "\(shape) bias \(bias != nil)")
                if precision != .fp32, inF > 1, let bias {
                    // The rounding is real: unrounded operands land far outside the tolerance.
                    XCTAssertGreaterThan(maxAbsDiff(y, Naive.linear(x, w, bias, rows: rows, inF: inF, outF: outF)),
                                         10 * tolerance, "\(shape) rounds")
                }
            }
            var y = [Float](repeating: .nan, count: rows * outF)
            FastPath.linear(&y, x, packed, b, gelu: true, rows: rows, isa: isa)
            XCTAssertLessThan(maxAbsDiff(y, plain.map(Naive.gelu)), tolerance, "\(shape) GELU")
            // The residual in place, as the blocks use it: out = res + x·Wᵀ + b.
            var inPlace = res
            FastPath.linear(&inPlace, x, packed, b, residual: inPlace, rows: rows, isa: isa)
            XCTAssertLessThan(maxAbsDiff(inPlace, zip(plain, res).map { $0 + Double($1) }), tolerance, "\(shape) residual")
        }
    }

    func testFusedAttentionMatchesNaive() {
        for isa in FastPath.supported { checkFusedAttention(isa) }
    }

    func checkFusedAttention(_ isa: FastPath.ISA) {
        var rng = RNG(32)
        // Head widths 16 (a partial panel of v), 24 (a partial 16-column half, V's last head at the end of qkv)
        // and 64 (ViT-Ti), token counts over and under a 32-wide panel.
        for (batch, t, d, heads) in [(2, 11, 48, 3), (1, 197, 192, 3), (2, 40, 128, 2), (1, 21, 48, 2)] {
          for threads in [1, 2] {
            let qkv = rng.floats(batch * t * 3 * d, 2)
            var out = [Float](repeating: .nan, count: batch * t * d)
            let stride = t + 3
            var cls = [Float](repeating: -1, count: batch * heads * stride)
            // Query rows split as threads split them (whole row tiles each), one call after the other.
            var scratch = [Float](repeating: 0, count: FastPath.attentionScratchCount(tokens: t, width: d, heads: heads))
            for queries in FastPath.split(t, threads) {
                FastPath.attention(&out, clsProbs: &cls, clsStride: stride, qkv, scratch: &scratch, batch: batch,
                                   tokens: t, width: d, heads: heads, queries: queries, isa: isa)
            }
            let (refOut, refProbs) = Naive.attention(qkv, batch: batch, t: t, d: d, heads: heads)
            XCTAssertLessThan(maxAbsDiff(out, refOut), 1e-5, "\(isa) out \(batch)×\(t)×\(d)/\(heads), \(threads) threads")
            for bh in 0..<(batch * heads) {
                let row = Array(refProbs[(bh * t * t)..<(bh * t * t + t)])
                XCTAssertLessThan(maxAbsDiff(Array(cls[(bh * stride)..<(bh * stride + t)]), row), 1e-6, "\(isa) CLS row \(bh)")
                XCTAssertEqual(cls[bh * stride + t], -1, "\(isa) written past the row")
            }
          }
        }
    }

    func testLayerNormMatchesNaive() {
        for isa in FastPath.supported { checkLayerNorm(isa) }
    }

    func checkLayerNorm(_ isa: FastPath.ISA) {
        var rng = RNG(33)
        for (rows, c) in [(7, 192), (3, 37)] {
            let x = rng.floats(rows * c, 30).map { $0 + 100 }
            let g = rng.floats(c), b = rng.floats(c)
            var y = [Float](repeating: 0, count: rows * c), mean = [Float](repeating: 0, count: rows), rstd = mean
            FastPath.layerNorm(&y, x, g, b, mean: &mean, rstd: &rstd, rows: rows, channels: c, eps: 1e-6,
                              isa: isa)
            XCTAssertLessThan(maxAbsDiff(y, Naive.layerNorm(x, g, b, rows: rows, c: c, eps: 1e-6)), 1e-4, "\(isa) \(c)")
            XCTAssertEqual(Double(mean[0]), x[0..<c].map(Double.init).reduce(0, +) / Double(c), accuracy: 1e-3,
                           "\(isa) \(c)")
        }
    }
}

/// The int8 GEMM's reference (Naive.linearInt8), on every machine, VNNI or not: its quantization on values worked
/// by hand, and its error against fp32 on data shaped like a ViT's, which FastPathTests' exact match then carries
/// over to the kernel.
final class Int8FastPathTests: XCTestCase {
    /// Rows to u8 (zero point, clamping at 255, an all-positive row, zeros) and weights to s8, by hand.
    func testInt8QuantizationReference() {
        let row = Naive.quantizeRow([-1, 0, 0.6, 2])   // scale 3/255, zero point 85
        XCTAssertEqual(row.q, [0, 85, 136, 255])
        XCTAssertEqual(row.zero, 85)
        XCTAssertEqual(row.scale, 3 / 255)
        let positive = Naive.quantizeRow([0.2, 1])       // range [0, 1]: zero point 0, all 255 levels used
        XCTAssertEqual(positive.q, [51, 255])
        XCTAssertEqual(positive.zero, 0)
        let zeros = Naive.quantizeRow([0, 0])
        XCTAssertEqual(zeros.q, [0, 0])
        XCTAssertEqual(zeros.scale, 1)
        let w = Naive.quantizeWeights([1, -0.3, 0.1, 0, 0, 0], outF: 2, inF: 3)
        XCTAssertEqual(w.q, [127, -38, 13, 0, 0, 0])
        XCTAssertEqual(w.scale, [1 / 127, 1])
    }

    /// The emulation against exact (double) products on a ViT-Ti block's GEMMs: qkv/fc1-like (k = 192) over
    /// LayerNorm-like rows (about unit variance, weights about 0.03), and fc2-like (k = 768) over GELU outputs.
    /// Relative error ‖int8 − exact‖ / ‖exact‖ under 1.5 % (measured 0.82 % and 0.95 %). With a few outlier
    /// channels, as LayerNorm outputs have, per-row scales spend their levels on the outliers: the error grows
    /// (measured 1.7 %), which is why the real teacher is checked too (ViTForwardTests).
    func testInt8EmulationTracksFP32() {
        var rng = RNG(34)
        func normal(_ n: Int, _ sd: Float) -> [Float] {   // sum of four uniforms: near normal, bounded
            (0..<n).map { _ in (rng.float() + rng.float() + rng.float() + rng.float()) * sd * 0.866 }
        }
        func relative(_ x: [Float], _ w: [Float], rows: Int, inF: Int, outF: Int) -> Double {
            let exact = Naive.linear(x, w, nil, rows: rows, inF: inF, outF: outF)
            let int8 = Naive.linearInt8(x, w, nil, rows: rows, inF: inF, outF: outF)
            let diff = zip(int8, exact).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            return (diff / exact.map { $0 * $0 }.reduce(0, +)).squareRoot()
        }
        let rows = 24, d = 192, m = 768
        let ln = normal(rows * d, 1), wUp = normal(m * d, 0.03), wDown = normal(d * m, 0.03)
        let hidden = Naive.linear(ln, wUp, nil, rows: rows, inF: d, outF: m).map { Float(Naive.gelu($0)) }
        let fc1 = relative(ln, wUp, rows: rows, inF: d, outF: m)
        let fc2 = relative(hidden, wDown, rows: rows, inF: m, outF: d)
        XCTAssertLessThan(fc1, 0.015, "fc1-like")
        XCTAssertLessThan(fc2, 0.015, "fc2-like")
        // Outliers: channels 0 and 1 twenty times the others.
        let outliers = ln.enumerated().map { $0.offset % d < 2 ? $0.element * 20 : $0.element }
        let skewed = relative(outliers, wUp, rows: rows, inF: d, outF: m)
        XCTAssertGreaterThan(skewed, 1.5 * fc1, "outlier channels cost levels")
        XCTAssertLessThan(skewed, 0.04, "outlier channels")
    }
}
