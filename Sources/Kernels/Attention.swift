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
}
