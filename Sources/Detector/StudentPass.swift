import Engine
import Kernels

/// Activations (and their gradients) of one student worker for up to `capacity` frames of up to `maxTokens`
/// tokens each. With `keepsActivations` every block's activations are stored for the backward pass (llm.c style);
/// without it (scoring) all blocks share one set of buffers. Not shared between threads.
final class StudentWorkspace: @unchecked Sendable {
    let config: ViTConfig
    let capacity, maxTokens, layers: Int
    let keepsActivations: Bool
    // Forward: inputs.
    let patches, keptPatches, embedded: Tensor
    // Forward: per block (slot l, or 0 without keepsActivations). `xs` has one more slot: the final stream.
    let xs, xmid, ln1, ln1Mean, ln1Rstd, qkv, probs, att, ln2, ln2Mean, ln2Rstd, fc1, gelu: Tensor
    // Forward: head.
    let lnf, lnfMean, lnfRstd, normed, norms: Tensor
    // Backward scratch: the residual stream's gradient and the branches' gradients.
    let dx, dln, dqkv, datt, dhidden, dscores, dnormed: Tensor

    init(config c: ViTConfig, capacity: Int, maxTokens t: Int, keepsActivations: Bool) {
        config = c
        self.capacity = capacity
        maxTokens = t
        self.keepsActivations = keepsActivations
        layers = keepsActivations ? c.depth : 1
        let bt = capacity * t, d = c.width, l = layers
        patches = Tensor([capacity * c.patches, c.patchDim])
        keptPatches = Tensor([capacity * (t - 1), c.patchDim])
        embedded = Tensor([capacity * (t - 1), d])
        xs = Tensor([keepsActivations ? l + 1 : 1, bt, d])
        xmid = Tensor([l, bt, d])
        ln1 = Tensor([l, bt, d]); ln1Mean = Tensor([l, bt]); ln1Rstd = Tensor([l, bt])
        qkv = Tensor([l, bt, 3 * d])
        probs = Tensor([l, capacity, c.heads, t, t])
        att = Tensor([l, bt, d])
        ln2 = Tensor([l, bt, d]); ln2Mean = Tensor([l, bt]); ln2Rstd = Tensor([l, bt])
        fc1 = Tensor([l, bt, c.mlpWidth]); gelu = Tensor([l, bt, c.mlpWidth])
        lnf = Tensor([bt, d]); lnfMean = Tensor([bt]); lnfRstd = Tensor([bt])
        normed = Tensor([bt, d]); norms = Tensor([bt])
        let g = keepsActivations ? 1 : 0   // scoring never runs backward: no gradient buffers
        dx = Tensor([g * bt, d]); dln = Tensor([g * bt, d]); dqkv = Tensor([g * bt, 3 * d]); datt = Tensor([g * bt, d])
        dhidden = Tensor([g * bt, c.mlpWidth]); dscores = Tensor([g * t, t]); dnormed = Tensor([g * bt, d])
    }
}

extension Student {
    /// Forward pass on CLS plus the kept patches of each frame (ALGORITHM.md §2.4, MAE order): patch-embed the kept
    /// patches, add pos[1+idx], prepend cls+pos[0], run the blocks, final LN, L2-normalise each token.
    /// `keep` is [batch, kept] patch indices (the same count for every frame). The result is in `ws.normed`
    /// ([batch, 1+kept, D]; token 0 is CLS) and the pre-normalisation final-LN tokens in `ws.lnf`.
    func forward(rgb: UnsafePointer<UInt8>, batch: Int, keep: [Int32], kept: Int, normalization: Normalization,
                 workspace ws: StudentWorkspace) {
        let c = config, p = parameters, l = p.layout
        let d = c.width, t = kept + 1, bt = batch * t, n = c.patches
        precondition(batch <= ws.capacity && t <= ws.maxTokens && keep.count == batch * kept)
        let keepsActivations = ws.keepsActivations

        PatchEmbed.im2col(ws.patches.data, rgb: rgb, batch: batch, imageSize: c.imageSize, patchSize: c.patchSize,
                          mean: normalization.mean, std: normalization.std)
        // Gather first, then embed only the kept rows: the projection is per row, so this halves its cost.
        for b in 0..<batch {
            for k in 0..<kept {
                let src = ws.patches.data + (b * n + Int(keep[b * kept + k])) * c.patchDim
                (ws.keptPatches.data + (b * kept + k) * c.patchDim).update(from: src, count: c.patchDim)
            }
        }
        Linear.forward(ws.embedded.data, ws.keptPatches.data, p.ptr(l.patchW), p.ptr(l.patchB),
                       rows: batch * kept, inFeatures: c.patchDim, outFeatures: d)
        let x0 = ws.xs.data
        let pos = p.ptr(l.pos)
        for b in 0..<batch {
            let xb = x0 + b * t * d
            for i in 0..<d { xb[i] = p.ptr(l.cls)[i] + pos[i] }
            for k in 0..<kept {
                let e = ws.embedded.data + (b * kept + k) * d, pr = pos + (1 + Int(keep[b * kept + k])) * d
                let row = xb + (1 + k) * d
                for i in 0..<d { row[i] = e[i] + pr[i] }
            }
        }

        let m = c.mlpWidth
        for (i, blk) in l.blocks.enumerated() {
            let s = keepsActivations ? i : 0
            let x = ws.xs.data + s * bt * d
            let xmid = ws.xmid.data + s * bt * d
            let ln1 = ws.ln1.data + s * bt * d, ln2 = ws.ln2.data + s * bt * d
            let qkv = ws.qkv.data + s * bt * 3 * d, att = ws.att.data + s * bt * d
            let probs = ws.probs.data + s * batch * c.heads * t * t
            let fc1 = ws.fc1.data + s * bt * m, gelu = ws.gelu.data + s * bt * m
            // The block's output goes to the next slot (or back in place when scoring).
            let next = keepsActivations ? x + bt * d : x

            LayerNorm.forward(ln1, x, p.ptr(blk.norm1W), p.ptr(blk.norm1B), mean: ws.ln1Mean.data + s * bt,
                              rstd: ws.ln1Rstd.data + s * bt, rows: bt, channels: d, eps: c.layerNormEps)
            Linear.forward(qkv, ln1, p.ptr(blk.qkvW), p.ptr(blk.qkvB), rows: bt, inFeatures: d, outFeatures: 3 * d)
            Attention.forward(att, probs: probs, qkv, batch: batch, tokens: t, width: d, heads: c.heads)
            Linear.forward(xmid, att, p.ptr(blk.projW), p.ptr(blk.projB), rows: bt, inFeatures: d, outFeatures: d)
            Residual.forward(xmid, adding: x, count: bt * d)
            LayerNorm.forward(ln2, xmid, p.ptr(blk.norm2W), p.ptr(blk.norm2B), mean: ws.ln2Mean.data + s * bt,
                              rstd: ws.ln2Rstd.data + s * bt, rows: bt, channels: d, eps: c.layerNormEps)
            Linear.forward(fc1, ln2, p.ptr(blk.fc1W), p.ptr(blk.fc1B), rows: bt, inFeatures: d, outFeatures: m)
            GELU.forward(gelu, fc1, count: bt * m)
            Linear.forward(next, gelu, p.ptr(blk.fc2W), p.ptr(blk.fc2B), rows: bt, inFeatures: m, outFeatures: d)
            Residual.forward(next, adding: xmid, count: bt * d)
        }
        let final = ws.xs.data + (keepsActivations ? l.blocks.count * bt * d : 0)
        LayerNorm.forward(ws.lnf.data, final, p.ptr(l.normW), p.ptr(l.normB), mean: ws.lnfMean.data,
                          rstd: ws.lnfRstd.data, rows: bt, channels: d, eps: c.layerNormEps)
        L2Normalize.forward(ws.normed.data, norms: ws.norms.data, ws.lnf.data, rows: bt, cols: d)
    }

    /// Backward of the last `forward` (which must have kept its activations) from the loss gradient in
    /// `ws.dnormed` ([batch, 1+kept, D]). Parameter gradients are ACCUMULATED into `grads`, which has this
    /// student's layout; the position embedding gets none (it is fixed).
    func backward(batch: Int, keep: [Int32], kept: Int, workspace ws: StudentWorkspace, grads: ViTParameters) {
        let c = config, p = parameters, l = p.layout
        let d = c.width, t = kept + 1, bt = batch * t, m = c.mlpWidth
        precondition(ws.keepsActivations, "backward needs a workspace that keeps activations")
        let g = grads.ptr
        let dx = ws.dx.data, dln = ws.dln.data

        // Final LN and L2 normalisation. dx becomes dL/d(final stream).
        dln.update(repeating: 0, count: bt * d)
        L2Normalize.backward(dinp: dln, dout: ws.dnormed.data, out: ws.normed.data, norms: ws.norms.data, rows: bt, cols: d)
        dx.update(repeating: 0, count: bt * d)
        LayerNorm.backward(dinp: dx, dgamma: g(l.normW), dbeta: g(l.normB), dout: dln,
                           inp: ws.xs.data + c.depth * bt * d, gamma: p.ptr(l.normW), mean: ws.lnfMean.data,
                           rstd: ws.lnfRstd.data, rows: bt, channels: d)

        // Blocks in reverse. The residual stream's gradient stays in dx: each branch's backward adds into it.
        for (i, blk) in l.blocks.enumerated().reversed() {
            let x = ws.xs.data + i * bt * d, xmid = ws.xmid.data + i * bt * d
            let ln1 = ws.ln1.data + i * bt * d, ln2 = ws.ln2.data + i * bt * d
            let qkv = ws.qkv.data + i * bt * 3 * d, att = ws.att.data + i * bt * d
            let probs = ws.probs.data + i * batch * c.heads * t * t
            let fc1 = ws.fc1.data + i * bt * m, gelu = ws.gelu.data + i * bt * m

            // MLP branch: x_next = xmid + fc2(GELU(fc1(LN2(xmid)))).
            ws.dhidden.data.update(repeating: 0, count: bt * m)
            Linear.backward(dinp: ws.dhidden.data, dweight: g(blk.fc2W), dbias: g(blk.fc2B), dout: dx, inp: gelu,
                            weight: p.ptr(blk.fc2W), rows: bt, inFeatures: m, outFeatures: d)
            GELU.backward(dinp: ws.dhidden.data, inp: fc1, dout: ws.dhidden.data, count: bt * m)
            dln.update(repeating: 0, count: bt * d)
            Linear.backward(dinp: dln, dweight: g(blk.fc1W), dbias: g(blk.fc1B), dout: ws.dhidden.data, inp: ln2,
                            weight: p.ptr(blk.fc1W), rows: bt, inFeatures: d, outFeatures: m)
            LayerNorm.backward(dinp: dx, dgamma: g(blk.norm2W), dbeta: g(blk.norm2B), dout: dln, inp: xmid,
                               gamma: p.ptr(blk.norm2W), mean: ws.ln2Mean.data + i * bt, rstd: ws.ln2Rstd.data + i * bt,
                               rows: bt, channels: d)
            // Attention branch: xmid = x + proj(Attn(qkv(LN1(x)))).
            ws.datt.data.update(repeating: 0, count: bt * d)
            Linear.backward(dinp: ws.datt.data, dweight: g(blk.projW), dbias: g(blk.projB), dout: dx, inp: att,
                            weight: p.ptr(blk.projW), rows: bt, inFeatures: d, outFeatures: d)
            ws.dqkv.data.update(repeating: 0, count: bt * 3 * d)
            Attention.backward(dqkv: ws.dqkv.data, scratch: ws.dscores.data, dout: ws.datt.data, qkv: qkv, probs: probs,
                               batch: batch, tokens: t, width: d, heads: c.heads)
            dln.update(repeating: 0, count: bt * d)
            Linear.backward(dinp: dln, dweight: g(blk.qkvW), dbias: g(blk.qkvB), dout: ws.dqkv.data, inp: ln1,
                            weight: p.ptr(blk.qkvW), rows: bt, inFeatures: d, outFeatures: 3 * d)
            LayerNorm.backward(dinp: dx, dgamma: g(blk.norm1W), dbeta: g(blk.norm1B), dout: dln, inp: x,
                               gamma: p.ptr(blk.norm1W), mean: ws.ln1Mean.data + i * bt, rstd: ws.ln1Rstd.data + i * bt,
                               rows: bt, channels: d)
        }

        // Token assembly: CLS row → cls_token; patch rows → the patch projection of the kept patches.
        let dcls = g(l.cls)
        for b in 0..<batch {
            let row = dx + b * t * d
            for i in 0..<d { dcls[i] += row[i] }
            (ws.embedded.data + b * kept * d).update(from: row + d, count: kept * d)   // reuse as d(embedded)
        }
        Linear.backward(dinp: nil, dweight: g(l.patchW), dbias: g(l.patchB), dout: ws.embedded.data,
                        inp: ws.keptPatches.data, weight: p.ptr(l.patchW), rows: batch * kept,
                        inFeatures: c.patchDim, outFeatures: d)
    }
}
