import Foundation

// Plain double-precision reference implementations: loops straight from the formulas, nothing shared with Kernels.

public struct RNG {
    public var state: UInt64
    public init(_ seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    public mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        var z = state
        z = (z ^ (z >> 33)) &* 0xff51afd7ed558ccd
        return z ^ (z >> 29)
    }
    /// Uniform in [-scale, scale).
    public mutating func float(_ scale: Float = 1) -> Float { (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    public mutating func floats(_ n: Int, _ scale: Float = 1) -> [Float] { (0..<n).map { _ in float(scale) } }
    public mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next() >> 32) } }
}

public enum Naive {
    public static func linear(_ x: [Float], _ w: [Float], _ b: [Float]?, rows: Int, inF: Int, outF: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * outF)
        for r in 0..<rows {
            for o in 0..<outF {
                var s = b.map { Double($0[o]) } ?? 0
                for i in 0..<inF { s += Double(x[r * inF + i]) * Double(w[o * inF + i]) }
                y[r * outF + o] = s
            }
        }
        return y
    }

    public static func layerNorm(_ x: [Float], _ g: [Float], _ b: [Float], rows: Int, c: Int, eps: Double) -> [Double] {
        var y = [Double](repeating: 0, count: rows * c)
        for r in 0..<rows {
            let row = (0..<c).map { Double(x[r * c + $0]) }
            let m = row.reduce(0, +) / Double(c)
            let v = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(c)
            for i in 0..<c { y[r * c + i] = (row[i] - m) / (v + eps).squareRoot() * Double(g[i]) + Double(b[i]) }
        }
        return y
    }

    /// x rounded to bfloat16 (its top 16 bits), to nearest with ties to even, and widened back: what a bf16 GEMM
    /// multiplies instead of x. NaN and infinities are left alone.
    public static func bf16(_ x: Float) -> Float {
        guard x.isFinite else { return x }
        let u = x.bitPattern
        return Float(bitPattern: (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000)
    }

    /// The int8 GEMM's weights (ckernels.h): each output's row symmetric to s8, scale max|w| / 127 (1 for a row of
    /// zeros), w / scale rounded to nearest even. The same Float operations as ck_pack_int8, so the same integers.
    public static func quantizeWeights(_ w: [Float], outF: Int, inF: Int) -> (q: [Int32], scale: [Float]) {
        var q = [Int32](repeating: 0, count: outF * inF), scale = [Float](repeating: 1, count: outF)
        for o in 0..<outF {
            let m = w[(o * inF)..<((o + 1) * inF)].map(abs).max()!
            if m > 0 { scale[o] = m / 127 }
            for i in 0..<inF { q[o * inF + i] = Int32(max(-127, min(127, (w[o * inF + i] / scale[o]).rounded(.toNearestOrEven)))) }
        }
        return (q, scale)
    }

    /// The int8 GEMM's inputs, one row: asymmetric to u8 over [min(x, 0), max(x, 0)], scale range / 255 (1 for a
    /// row of zeros), zero point −min / scale rounded, q = x·(1 / scale) rounded + zero, clamped to 0...255
    /// (rounding to nearest even throughout). The same Float operations as the kernel's quantize_row.
    public static func quantizeRow(_ x: ArraySlice<Float>) -> (q: [Int32], scale: Float, zero: Int32) {
        let lo = min(x.min()!, 0), hi = max(x.max()!, 0)
        let scale: Float = hi - lo > 0 ? (hi - lo) / 255 : 1, inv = 1 / scale
        let zero = Int32((-lo * inv).rounded(.toNearestOrEven))
        return (x.map { max(0, min(255, Int32(($0 * inv).rounded(.toNearestOrEven)) + zero)) }, scale, zero)
    }

    /// x·Wᵀ + b as the int8 GEMM computes it: both quantized as above, integer sums Σ (qx − zero)·qw (exact), then
    /// Float(sum)·(row scale · weight scale) in Float, as the kernel dequantizes; the bias in double.
    public static func linearInt8(_ x: [Float], _ w: [Float], _ b: [Float]?, rows: Int, inF: Int, outF: Int) -> [Double] {
        let (qw, sw) = quantizeWeights(w, outF: outF, inF: inF)
        var y = [Double](repeating: 0, count: rows * outF)
        for r in 0..<rows {
            let (qx, sx, zx) = quantizeRow(x[(r * inF)..<((r + 1) * inF)])
            for o in 0..<outF {
                var sum = 0
                for i in 0..<inF { sum += Int(qx[i] - zx) * Int(qw[o * inF + i]) }
                y[r * outF + o] = Double(Float(sum) * (sx * sw[o])) + (b.map { Double($0[o]) } ?? 0)
            }
        }
        return y
    }

    public static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }

    public static func softmax(_ x: [Double]) -> [Double] {
        let m = x.max()!
        let e = x.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// qkv [B,T,3D] timm layout → (out [B,T,D], probs [B,H,T,T]).
    public static func attention(_ qkv: [Float], batch: Int, t: Int, d: Int, heads: Int) -> ([Double], [Double]) {
        let hd = d / heads
        var out = [Double](repeating: 0, count: batch * t * d)
        var probs = [Double](repeating: 0, count: batch * heads * t * t)
        func at(_ b: Int, _ i: Int, _ col: Int) -> Double { Double(qkv[(b * t + i) * 3 * d + col]) }
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<t {
                    var s = [Double](repeating: 0, count: t)
                    for j in 0..<t {
                        for e in 0..<hd { s[j] += at(b, i, h * hd + e) * at(b, j, d + h * hd + e) }
                        s[j] /= Double(hd).squareRoot()
                    }
                    let a = softmax(s)
                    for j in 0..<t {
                        probs[((b * heads + h) * t + i) * t + j] = a[j]
                        for e in 0..<hd { out[(b * t + i) * d + h * hd + e] += a[j] * at(b, j, 2 * d + h * hd + e) }
                    }
                }
            }
        }
        return (out, probs)
    }
}

public func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "size mismatch \(a.count) vs \(b.count)")
    var m = 0.0
    for i in 0..<a.count { m = max(m, abs(Double(a[i]) - b[i])) }
    return m
}

/// A whole ViT forward in double precision, straight from ALGORITHM.md §1.3, reading parameters by timm name.
public struct NaiveViT {
    public let p: [String: [Float]]
    public let imageSize, patch, width, depth, heads, mlp: Int
    public let mean: [Double], std: [Double]

    public init(parameters: [String: [Float]], imageSize: Int, patch: Int, width: Int, depth: Int, heads: Int,
                mlp: Int, mean: [Double] = [0.5, 0.5, 0.5], std: [Double] = [0.5, 0.5, 0.5]) {
        self.p = parameters
        self.imageSize = imageSize; self.patch = patch; self.width = width; self.depth = depth
        self.heads = heads; self.mlp = mlp; self.mean = mean; self.std = std
    }

    /// One RGB24 image → (final-LN tokens [T, D], last-block CLS→patch attention head mean [N], block outputs).
    public func forward(rgb: [UInt8]) -> (tokens: [Double], clsAttention: [Double], blocks: [[Double]]) {
        let g = imageSize / patch, n = g * g, t = n + 1, d = width
        func w(_ k: String) -> [Float] { p[k]! }
        // Token assembly: conv patch embedding (direct), CLS first, plus position embedding.
        var x = [Double](repeating: 0, count: t * d)
        let pw = w("patch_embed.proj.weight"), pb = w("patch_embed.proj.bias"), cls = w("cls_token"), pos = w("pos_embed")
        for o in 0..<d { x[o] = Double(cls[o]) }
        for gy in 0..<g { for gx in 0..<g { for o in 0..<d {
            var acc = Double(pb[o])
            for c in 0..<3 { for ky in 0..<patch { for kx in 0..<patch {
                let v = Double(rgb[((gy * patch + ky) * imageSize + gx * patch + kx) * 3 + c]) / 255
                acc += (v - mean[c]) / std[c] * Double(pw[((o * 3 + c) * patch + ky) * patch + kx])
            } } }
            x[(1 + gy * g + gx) * d + o] = acc
        } } }
        for i in 0..<(t * d) { x[i] += Double(pos[i]) }

        func ln(_ v: [Double], _ name: String) -> [Double] {
            Naive.layerNorm(v.map(Float.init), w(name + ".weight"), w(name + ".bias"), rows: t, c: d, eps: 1e-6)
        }
        func linear(_ v: [Double], _ name: String, _ inF: Int, _ outF: Int) -> [Double] {
            let wt = w(name + ".weight"), b = w(name + ".bias")
            var y = [Double](repeating: 0, count: t * outF)
            for r in 0..<t { for o in 0..<outF {
                var s = Double(b[o])
                for i in 0..<inF { s += v[r * inF + i] * Double(wt[o * inF + i]) }
                y[r * outF + o] = s
            } }
            return y
        }
        var blocks: [[Double]] = []
        var lastProbs: [Double] = []
        for l in 0..<depth {
            let pre = "blocks.\(l)."
            let qkv = linear(ln(x, pre + "norm1"), pre + "attn.qkv", d, 3 * d)
            let (a, probs) = Naive.attention(qkv.map(Float.init), batch: 1, t: t, d: d, heads: heads)
            let proj = linear(a, pre + "attn.proj", d, d)
            for i in 0..<x.count { x[i] += proj[i] }
            var h = linear(ln(x, pre + "norm2"), pre + "mlp.fc1", d, mlp)
            for i in 0..<h.count { h[i] = Naive.gelu(h[i]) }
            let m = linear(h, pre + "mlp.fc2", mlp, d)
            for i in 0..<x.count { x[i] += m[i] }
            blocks.append(x)
            lastProbs = probs
        }
        var clsAttention = [Double](repeating: 0, count: n)
        for hh in 0..<heads { for j in 0..<n { clsAttention[j] += lastProbs[hh * t * t + 1 + j] / Double(heads) } }
        return (ln(x, "norm"), clsAttention, blocks)
    }
}
