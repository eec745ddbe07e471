import Kernels

/// One pre-norm transformer block (timm `Block`), the only block code there is: the frozen teacher and the student
/// both run `forward`, and the student's training runs `backward` from the same record.
///   xmid = x + proj(Attn(qkv(LN1(x))))
///   out  = xmid + fc2(GELU(fc1(LN2(xmid))))
public enum TransformerBlock {
    /// Where one block's forward writes, and what its backward reads (llm.c's activations for one layer), all for
    /// `batch`·`tokens` rows. Without a backward to follow, `ln2` may be `ln1` and `gelu` may be `fc1`.
    public struct Activations {
        public var ln1, ln1Mean, ln1Rstd, qkv, probs, att, xmid, ln2, ln2Mean, ln2Rstd, fc1, gelu: UnsafeMutablePointer<Float>
    }

    /// The backward pass's scratch: [rows, D] twice, [rows, 3D], [rows, MLP] and one [T, T] matrix.
    public struct Scratch {
        public var dln, datt, dqkv, dhidden, dscores: UnsafeMutablePointer<Float>
    }

    /// FastPath's share of one block: packed weights, the instruction set to run, and attention scratch for each
    /// of `threads` threads (`scratchStride` floats apart).
    public struct Fast {
        public var weights: PackedViTWeights.Block
        public var isa: FastPath.ISA
        public var scratch: UnsafeMutablePointer<Float>
        public var scratchStride: Int
        public var threads: Int
    }

    /// out = block(x) for `batch` sequences of `tokens` rows. `out` may be `x`: x is last read before fc2 writes.
    /// With `fast` (inference, no backward to follow) the FastPath kernels run, the residual adds and GELU fused
    /// into the GEMMs, and `probs` gets only each head's CLS row.
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ a: Activations,
                               _ p: ViTParameters, _ blk: ViTLayout.Block, batch: Int, tokens t: Int, fast: Fast? = nil) {
        let c = p.config, d = c.width, m = c.mlpWidth, bt = batch * t
        if let fast {
            // Each thread keeps to its own rows (whole images when there are enough, else a range of query rows
            // of each): everything but attention is row-local, and attention needs every row's k and v only, so
            // one barrier (after qkv) per block instead of one per kernel.
            let w = fast.weights, isa = fast.isa
            let perThread = (batch + fast.threads - 1) / fast.threads
            let shares: [(images: Range<Int>, rows: Range<Int>)] = batch >= fast.threads
                ? stride(from: 0, to: batch, by: perThread).map { ($0..<min($0 + perThread, batch), 0..<t) }
                : FastPath.split(t, fast.threads).map { (0..<batch, $0) }
            func eachRun(_ s: (images: Range<Int>, rows: Range<Int>), _ body: (Int, Int) -> Void) {
                for b in s.images { body(b * t + s.rows.lowerBound, s.rows.count) }
            }
            func parallel(_ body: (Int) -> Void) {
                if shares.count == 1 { body(0) } else { Parallel.forEach(shares.count, body) }
            }
            parallel { i in
                eachRun(shares[i]) { r, n in
                    FastPath.layerNorm(a.ln1 + r * d, x + r * d, p.ptr(blk.norm1W), p.ptr(blk.norm1B), rows: n,
                                       channels: d, eps: c.layerNormEps, isa: isa)
                    FastPath.linear(a.qkv + r * 3 * d, a.ln1 + r * d, w.qkv, p.ptr(blk.qkvB), rows: n, isa: isa)
                }
            }
            parallel { i in
                let s = shares[i], b0 = s.images.lowerBound
                FastPath.attention(a.att + b0 * t * d, clsProbs: a.probs + b0 * c.heads * t * t, clsStride: t * t,
                                   a.qkv + b0 * t * 3 * d, scratch: fast.scratch + i * fast.scratchStride,
                                   batch: s.images.count, tokens: t, width: d, heads: c.heads, queries: s.rows,
                                   isa: isa)
                eachRun(s) { r, n in
                    FastPath.linear(a.xmid + r * d, a.att + r * d, w.proj, p.ptr(blk.projB), residual: x + r * d,
                                    rows: n, isa: isa)
                    FastPath.layerNorm(a.ln2 + r * d, a.xmid + r * d, p.ptr(blk.norm2W), p.ptr(blk.norm2B), rows: n,
                                       channels: d, eps: c.layerNormEps, isa: isa)
                    FastPath.linear(a.gelu + r * m, a.ln2 + r * d, w.fc1, p.ptr(blk.fc1B), gelu: true, rows: n, isa: isa)
                    FastPath.linear(out + r * d, a.gelu + r * m, w.fc2, p.ptr(blk.fc2B), residual: a.xmid + r * d,
                                    rows: n, isa: isa)
                }
            }
            return
        }
        LayerNorm.forward(a.ln1, x, p.ptr(blk.norm1W), p.ptr(blk.norm1B), mean: a.ln1Mean, rstd: a.ln1Rstd,
                          rows: bt, channels: d, eps: c.layerNormEps)
        Linear.forward(a.qkv, a.ln1, p.ptr(blk.qkvW), p.ptr(blk.qkvB), rows: bt, inFeatures: d, outFeatures: 3 * d)
        Attention.forward(a.att, probs: a.probs, a.qkv, batch: batch, tokens: t, width: d, heads: c.heads)
        Linear.forward(a.xmid, a.att, p.ptr(blk.projW), p.ptr(blk.projB), rows: bt, inFeatures: d, outFeatures: d)
        Residual.forward(a.xmid, adding: x, count: bt * d)
        LayerNorm.forward(a.ln2, a.xmid, p.ptr(blk.norm2W), p.ptr(blk.norm2B), mean: a.ln2Mean, rstd: a.ln2Rstd,
                          rows: bt, channels: d, eps: c.layerNormEps)
        Linear.forward(a.fc1, a.ln2, p.ptr(blk.fc1W), p.ptr(blk.fc1B), rows: bt, inFeatures: d, outFeatures: m)
        GELU.forward(a.gelu, a.fc1, count: bt * m)
        Linear.forward(out, a.gelu, p.ptr(blk.fc2W), p.ptr(blk.fc2B), rows: bt, inFeatures: m, outFeatures: d)
        Residual.forward(out, adding: a.xmid, count: bt * d)
    }

    /// Backward of `forward` from its record (with `ln2` and `gelu` buffers of their own) and its input `x`.
    /// `dx` holds dL/d(out) on entry and dL/dx on return: the residual stream's gradient passes through, and each
    /// branch's backward adds its share. Parameter gradients ACCUMULATE into `grads`, which has `p`'s layout.
    public static func backward(dx: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ a: Activations,
                                scratch s: Scratch, grads: ViTParameters, _ p: ViTParameters, _ blk: ViTLayout.Block,
                                batch: Int, tokens t: Int) {
        let c = p.config, d = c.width, m = c.mlpWidth, bt = batch * t
        let g = grads.ptr
        // MLP branch.
        s.dhidden.update(repeating: 0, count: bt * m)
        Linear.backward(dinp: s.dhidden, dweight: g(blk.fc2W), dbias: g(blk.fc2B), dout: dx, inp: a.gelu,
                        weight: p.ptr(blk.fc2W), rows: bt, inFeatures: m, outFeatures: d)
        GELU.backward(dinp: s.dhidden, inp: a.fc1, dout: s.dhidden, count: bt * m)
        s.dln.update(repeating: 0, count: bt * d)
        Linear.backward(dinp: s.dln, dweight: g(blk.fc1W), dbias: g(blk.fc1B), dout: s.dhidden, inp: a.ln2,
                        weight: p.ptr(blk.fc1W), rows: bt, inFeatures: d, outFeatures: m)
        LayerNorm.backward(dinp: dx, dgamma: g(blk.norm2W), dbeta: g(blk.norm2B), dout: s.dln, inp: a.xmid,
                           gamma: p.ptr(blk.norm2W), mean: a.ln2Mean, rstd: a.ln2Rstd, rows: bt, channels: d)
        // Attention branch.
        s.datt.update(repeating: 0, count: bt * d)
        Linear.backward(dinp: s.datt, dweight: g(blk.projW), dbias: g(blk.projB), dout: dx, inp: a.att,
                        weight: p.ptr(blk.projW), rows: bt, inFeatures: d, outFeatures: d)
        s.dqkv.update(repeating: 0, count: bt * 3 * d)
        Attention.backward(dqkv: s.dqkv, scratch: s.dscores, dout: s.datt, qkv: a.qkv, probs: a.probs,
                           batch: batch, tokens: t, width: d, heads: c.heads)
        s.dln.update(repeating: 0, count: bt * d)
        Linear.backward(dinp: s.dln, dweight: g(blk.qkvW), dbias: g(blk.qkvB), dout: s.dqkv, inp: a.ln1,
                        weight: p.ptr(blk.qkvW), rows: bt, inFeatures: d, outFeatures: 3 * d)
        LayerNorm.backward(dinp: dx, dgamma: g(blk.norm1W), dbeta: g(blk.norm1B), dout: s.dln, inp: x,
                           gamma: p.ptr(blk.norm1W), mean: a.ln1Mean, rstd: a.ln1Rstd, rows: bt, channels: d)
    }
}
