import Foundation
import XCTest
@testable import Kernels
import Reference

/// Every backward pass against central finite differences of a double-precision forward (the `Naive` reference or
/// a loop written here). The scalar checked is L = Σ w⊙y with random w, so dL/dy = w is the `dout` fed in.
final class BackwardTests: XCTestCase {
    /// Central differences of f at the given float inputs. The step is divided by the difference of the two
    /// float-rounded inputs actually evaluated, so float rounding of x±h does not bias the estimate.
    func numericGradient(_ x: [Float], h: Float = 1e-3, _ f: ([Float]) -> Double) -> [Double] {
        var grad = [Double](repeating: 0, count: x.count)
        var probe = x
        for i in 0..<x.count {
            probe[i] = x[i] + h
            let up = f(probe), xu = Double(probe[i])
            probe[i] = x[i] - h
            let down = f(probe), xd = Double(probe[i])
            probe[i] = x[i]
            grad[i] = (up - down) / (xu - xd)
        }
        return grad
    }

    /// Max |analytic − numeric| relative to the largest numeric entry.
    func assertClose(_ analytic: [Float], _ numeric: [Double], tolerance: Double, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        let scale = max(numeric.map(abs).max() ?? 0, 1e-12)
        XCTAssertGreaterThan(scale, 1e-6, "\(what): gradient is trivially zero", file: file, line: line)
        XCTAssertLessThan(maxAbsDiff(analytic, numeric) / scale, tolerance, what, file: file, line: line)
    }

    func dot(_ w: [Float], _ y: [Double]) -> Double { zip(w, y).reduce(0) { $0 + Double($1.0) * $1.1 } }

    func testLinearBackwardAccumulatesFiniteDifferenceGradients() {
        var rng = RNG(21)
        let (rows, inF, outF) = (5, 7, 6)
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF), dout = rng.floats(rows * outF)
        // Buffers start at 1 to check that the gradients are added, not written.
        var dx = [Float](repeating: 1, count: x.count), dw = [Float](repeating: 1, count: w.count)
        var db = [Float](repeating: 1, count: b.count)
        Linear.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: dout, inp: x, weight: w,
                        rows: rows, inFeatures: inF, outFeatures: outF)
        let loss = { (x: [Float], w: [Float], b: [Float]) in self.dot(dout, Naive.linear(x, w, b, rows: rows, inF: inF, outF: outF)) }
        assertClose(dx.map { $0 - 1 }, numericGradient(x) { loss($0, w, b) }, tolerance: 1e-4, "dx")
        assertClose(dw.map { $0 - 1 }, numericGradient(w) { loss(x, $0, b) }, tolerance: 1e-4, "dW")
        assertClose(db.map { $0 - 1 }, numericGradient(b) { loss(x, w, $0) }, tolerance: 1e-4, "db")
    }

    func testLayerNormBackwardMatchesFiniteDifferences() {
        var rng = RNG(22)
        let (rows, c) = (4, 24)
        let x = rng.floats(rows * c, 3).map { $0 + 2 }, g = rng.floats(c).map { $0 + 1 }, b = rng.floats(c)
        let dout = rng.floats(rows * c)
        var y = [Float](repeating: 0, count: x.count), mean = [Float](repeating: 0, count: rows), rstd = mean
        LayerNorm.forward(&y, x, g, b, mean: &mean, rstd: &rstd, rows: rows, channels: c, eps: 1e-6)
        var dx = [Float](repeating: 1, count: x.count), dg = [Float](repeating: 1, count: c), db = dg
        LayerNorm.backward(dinp: &dx, dgamma: &dg, dbeta: &db, dout: dout, inp: x, gamma: g, mean: mean, rstd: rstd,
                           rows: rows, channels: c)
        let loss = { (x: [Float], g: [Float], b: [Float]) in self.dot(dout, Naive.layerNorm(x, g, b, rows: rows, c: c, eps: 1e-6)) }
        assertClose(dx.map { $0 - 1 }, numericGradient(x) { loss($0, g, b) }, tolerance: 1e-4, "dx")
        assertClose(dg.map { $0 - 1 }, numericGradient(g) { loss(x, $0, b) }, tolerance: 1e-4, "dgamma")
        assertClose(db.map { $0 - 1 }, numericGradient(b) { loss(x, g, $0) }, tolerance: 1e-4, "dbeta")
    }

    func testGELUBackwardIsTheExactDerivative() {
        var rng = RNG(23)
        let x = stride(from: -6.0, through: 6.0, by: 0.0137).map(Float.init)   // not a multiple of 8: exercises the tail
        let dout = rng.floats(x.count)
        var dx = dout
        GELU.backward(dinp: &dx, inp: x, dout: dx, count: x.count)   // in place, as the student runs it
        let h = 1e-5
        let numeric = x.indices.map { i in
            Double(dout[i]) * (Naive.gelu(Double(x[i]) + h) - Naive.gelu(Double(x[i]) - h)) / (2 * h)
        }
        XCTAssertLessThan(maxAbsDiff(dx, numeric), 3e-6)
    }

    func testSoftmaxBackwardMatchesFiniteDifferences() {
        var rng = RNG(24)
        let (rows, cols) = (3, 13)
        let x = rng.floats(rows * cols, 3), dout = rng.floats(rows * cols)
        var y = [Float](repeating: 0, count: x.count)
        Softmax.forward(&y, x, rows: rows, cols: cols)
        var dx = [Float](repeating: 0, count: x.count)
        Softmax.backward(dinp: &dx, dout: dout, out: y, rows: rows, cols: cols)
        let numeric = numericGradient(x) { x in
            var ys: [Double] = []
            for r in 0..<rows { ys += Naive.softmax(x[(r * cols)..<((r + 1) * cols)].map(Double.init)) }
            return self.dot(dout, ys)
        }
        assertClose(dx, numeric, tolerance: 1e-4, "softmax dx")
    }

    func testAttentionBackwardMatchesFiniteDifferences() {
        var rng = RNG(25)
        let (batch, t, d, heads) = (2, 5, 12, 3)
        let qkv = rng.floats(batch * t * 3 * d, 1.5), dout = rng.floats(batch * t * d)
        var out = [Float](repeating: 0, count: batch * t * d), probs = [Float](repeating: 0, count: batch * heads * t * t)
        Attention.forward(&out, probs: &probs, qkv, batch: batch, tokens: t, width: d, heads: heads)
        var dqkv = [Float](repeating: 1, count: qkv.count), scratch = [Float](repeating: 0, count: t * t)
        Attention.backward(dqkv: &dqkv, scratch: &scratch, dout: dout, qkv: qkv, probs: probs,
                           batch: batch, tokens: t, width: d, heads: heads)
        let numeric = numericGradient(qkv) { self.dot(dout, Naive.attention($0, batch: batch, t: t, d: d, heads: heads).0) }
        assertClose(dqkv.map { $0 - 1 }, numeric, tolerance: 1e-4, "dqkv")
        // q, k and v all receive gradient (a wrong stride would leave a third of them zero).
        for part in 0..<3 {
            var largest: Float = 0
            for r in 0..<(batch * t) {
                for i in 0..<d { largest = max(largest, abs(dqkv[r * 3 * d + part * d + i] - 1)) }
            }
            XCTAssertGreaterThan(largest, 1e-3, "part \(part)")
        }
    }

    func testPatchEmbedBackwardGivesConvolutionWeightGradients() {
        var rng = RNG(26)
        let (batch, s, p, d) = (2, 16, 8, 4)
        let g = s / p, rowLen = 3 * p * p
        let rgb = rng.bytes(batch * s * s * 3)
        let w = rng.floats(d * rowLen, 0.1), bias = rng.floats(d), dout = rng.floats(batch * g * g * d)
        var cols = [Float](repeating: 0, count: batch * g * g * rowLen)
        PatchEmbed.im2col(&cols, rgb: rgb, batch: batch, imageSize: s, patchSize: p, mean: .init(repeating: 0.5),
                          std: .init(repeating: 0.5))
        var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: d)
        Linear.backward(dinp: nil, dweight: &dw, dbias: &db, dout: dout, inp: cols, weight: w,
                        rows: batch * g * g, inFeatures: rowLen, outFeatures: d)
        // Direct stride-p convolution over the normalised CHW image, in double.
        func conv(_ w: [Float], _ bias: [Float]) -> Double {
            var l = 0.0
            for b in 0..<batch { for gy in 0..<g { for gx in 0..<g { for o in 0..<d {
                var acc = Double(bias[o])
                for c in 0..<3 { for ky in 0..<p { for kx in 0..<p {
                    let v = Double(rgb[((b * s + gy * p + ky) * s + gx * p + kx) * 3 + c]) / 127.5 - 1
                    acc += v * Double(w[((o * 3 + c) * p + ky) * p + kx])
                } } }
                l += acc * Double(dout[((b * g + gy) * g + gx) * d + o])
            } } } }
            return l
        }
        assertClose(dw, numericGradient(w) { conv($0, bias) }, tolerance: 1e-4, "conv dW")
        assertClose(db, numericGradient(bias) { conv(w, $0) }, tolerance: 1e-4, "conv db")
    }

    func testL2NormalizeForwardAndBackward() {
        var rng = RNG(27)
        let (rows, cols) = (4, 10)
        var x = rng.floats(rows * cols, 2)
        for i in 0..<cols { x[3 * cols + i] = 0 }   // an all-zero row: the ε clamp keeps it finite
        let dout = rng.floats(rows * cols)
        var y = [Float](repeating: 0, count: x.count), norms = [Float](repeating: 0, count: rows)
        L2Normalize.forward(&y, norms: &norms, x, rows: rows, cols: cols)
        XCTAssertEqual(Array(y[(3 * cols)...]), [Float](repeating: 0, count: cols))
        for r in 0..<3 {
            XCTAssertEqual(y[(r * cols)..<((r + 1) * cols)].reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
        }
        var dx = [Float](repeating: 0, count: x.count)
        L2Normalize.backward(dinp: &dx, dout: dout, out: y, norms: norms, rows: rows, cols: cols)
        XCTAssertFalse(dx.contains { !$0.isFinite })
        // Finite differences on the three ordinary rows.
        let n = 3 * cols
        let numeric = numericGradient(Array(x[0..<n])) { x in
            var l = 0.0
            for r in 0..<3 {
                let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
                let norm = max(row.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                for i in 0..<cols { l += row[i] / norm * Double(dout[r * cols + i]) }
            }
            return l
        }
        assertClose(Array(dx[0..<n]), numeric, tolerance: 1e-4, "L2 dx")
    }

    func testMSEForwardAndBackward() {
        var rng = RNG(28)
        let n = 37, m = 100   // a worker's share of a 100-element mean
        let s = rng.floats(n), t = rng.floats(n)
        let loss = MSE.forward(s, t, count: n, meanOver: m)
        let ref = zip(s, t).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) } / Double(m)
        XCTAssertEqual(Double(loss), ref, accuracy: 1e-7)
        var ds = [Float](repeating: 0, count: n)
        MSE.backward(ds: &ds, s, t, count: n, meanOver: m)
        let numeric = numericGradient(s) { s in zip(s, t).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) } / Double(m) }
        assertClose(ds, numeric, tolerance: 1e-4, "MSE ds")
    }

    /// Two steps worked by hand (lr 0.1, betas 0.9/0.95, wd 0.05, eps 1e-8), checked in Python:
    /// decayed p=1 with g=0.5 then −1 → 0.895, 0.92686239658; undecayed p=−2 with g=0.25 twice → −2.1, −2.2.
    func testAdamWMatchesTwoHandComputedSteps() {
        var opt = AdamW(groups: [.init(range: 0..<1, decay: true), .init(range: 2..<3, decay: false)],
                        learningRate: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05)
        var p: [Float] = [1, 7, -2], m = [Float](repeating: 0, count: 3), v = m
        var g: [Float] = [0.5, 3, 0.25]   // index 1 is frozen: its gradient must be ignored
        opt.update(parameters: &p, gradients: g, m: &m, v: &v)
        XCTAssertEqual(p[0], 0.895, accuracy: 1e-6)
        XCTAssertEqual(p[2], -2.1, accuracy: 1e-6)
        g[0] = -1
        opt.update(parameters: &p, gradients: g, m: &m, v: &v)
        XCTAssertEqual(opt.step, 2)
        XCTAssertEqual(p[0], 0.92686239658, accuracy: 1e-6)
        XCTAssertEqual(p[2], -2.2, accuracy: 1e-6)
        XCTAssertEqual(p[1], 7)
        XCTAssertEqual(m[1], 0)
    }

    /// The threaded update slices the ranges; elementwise, so it must match the single-threaded one exactly.
    func testAdamWThreadedUpdateIsIdentical() {
        var rng = RNG(29)
        let n = 1001
        let groups: [AdamW.Group] = [.init(range: 0..<400, decay: true), .init(range: 410..<n, decay: false)]
        var one = AdamW(groups: groups, learningRate: 1e-3, beta2: 0.95, weightDecay: 0.05), three = one
        var p1 = rng.floats(n), m1 = [Float](repeating: 0, count: n), v1 = m1
        var p3 = p1, m3 = m1, v3 = v1
        let initial = p1
        for _ in 0..<3 {
            let g = rng.floats(n)
            one.update(parameters: &p1, gradients: g, m: &m1, v: &v1)
            three.update(parameters: &p3, gradients: g, m: &m3, v: &v3, threads: 3)
        }
        XCTAssertEqual(p3, p1)
        XCTAssertEqual(v3, v1)
        XCTAssertEqual(Array(p3[400..<410]), Array(initial[400..<410]))   // between the groups: frozen
        XCTAssertFalse(zip(p3, initial).enumerated().contains { $0.offset < 400 && $0.element.0 == $0.element.1 })
    }
}
