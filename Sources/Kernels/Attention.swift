import CBLAS

/// Multi-head self-attention on a fused qkv buffer in timm's layout: each token row is [q | k | v], each D wide,
/// head h owning columns h·hd ..< (h+1)·hd of each third.
public enum Attention {
    /// out[B, T, D] = concat_h softmax(q_h·scale·k_hᵀ)·v_h; `probs` [B, H, T, T] keeps the attention weights
    /// (the backward pass and the CLS attention map read them).
    public static func forward(_ out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               _ qkv: UnsafePointer<Float>, batch: Int, tokens t: Int, width d: Int, heads: Int) {
        let hd = d / heads
        let scale = 1 / Float(hd).squareRoot()
        let ld = Int32(3 * d)
        for b in 0..<batch {
            let base = qkv + b * t * 3 * d
            for h in 0..<heads {
                let q = base + h * hd
                let k = base + d + h * hd
                let v = base + 2 * d + h * hd
                let a = probs + (b * heads + h) * t * t
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(t), Int32(hd),
                            scale, q, ld, k, ld, 0, a, Int32(t))
                Softmax.forward(a, a, rows: t, cols: t)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(hd), Int32(t),
                            1, a, Int32(t), v, ld, 0, out + b * t * d + h * hd, Int32(d))
            }
        }
    }

    /// Backward of `forward` from the saved `probs`. dqkv [B, T, 3D] is ACCUMULATED (see `Linear.backward`).
    /// `scratch` holds one T×T matrix. Per head, with S = scale·q·kᵀ, A = softmax(S), o = A·v:
    /// dA = do·vᵀ, dv += Aᵀ·do, dS = A⊙(dA − rowsum(dA⊙A)), dq += scale·dS·k, dk += scale·dSᵀ·q.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                batch: Int, tokens t: Int, width d: Int, heads: Int) {
        let hd = d / heads
        let scale = 1 / Float(hd).squareRoot()
        let ld = Int32(3 * d), tt = Int32(t), h32 = Int32(hd)
        for b in 0..<batch {
            let base = qkv + b * t * 3 * d
            let dbase = dqkv + b * t * 3 * d
            for h in 0..<heads {
                let q = base + h * hd, k = base + d + h * hd, v = base + 2 * d + h * hd
                let dq = dbase + h * hd, dk = dbase + d + h * hd, dv = dbase + 2 * d + h * hd
                let a = probs + (b * heads + h) * t * t
                let dO = dout + b * t * d + h * hd
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tt, tt, h32, 1, dO, Int32(d), v, ld, 0, scratch, tt)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tt, h32, tt, 1, a, tt, dO, Int32(d), 1, dv, ld)
                Softmax.backward(dinp: scratch, dout: scratch, out: a, rows: t, cols: t)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tt, h32, tt, scale, scratch, tt, k, ld, 1, dq, ld)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tt, h32, tt, scale, scratch, tt, q, ld, 1, dk, ld)
            }
        }
    }
}
