import Kernels

/// How pixel values are normalised before the patch embedding, as the checkpoint was trained.
public struct Normalization: Sendable, Equatable {
    public var mean: SIMD3<Float>
    public var std: SIMD3<Float>
    /// AugReg and original in21k weights: x = v/127.5 − 1.
    public static let inception = Normalization(mean: .init(repeating: 0.5), std: .init(repeating: 0.5))
    /// DINO weights.
    public static let imagenet = Normalization(mean: .init(0.485, 0.456, 0.406), std: .init(0.229, 0.224, 0.225))
}

/// What one forward pass produces for a batch of B images.
public struct ViTOutput: Sendable {
    public let batch: Int
    public let tokens: Int
    public let width: Int
    /// Final-LayerNorm tokens [B, T, D]; token 0 is CLS.
    public var finalTokens: [Float]
    /// Last block's CLS-to-patch attention averaged over heads [B, N] (not renormalised).
    public var clsAttention: [Float]
    /// Classifier logits [B, classes]; empty when the checkpoint has no head.
    public var logits: [Float]
    /// Residual-stream output of the blocks asked for, each [B, T, D].
    public var blockOutputs: [Int: [Float]]

    /// The final-LN CLS feature of image b.
    public func cls(_ b: Int) -> ArraySlice<Float> {
        finalTokens[(b * tokens * width)..<(b * tokens * width + width)]
    }
}

/// Activation buffers of one worker for up to `capacity` images of up to `maxTokens` tokens each (CLS plus the
/// patches kept). With `keepsActivations` every block writes its own slot and the gradient buffers exist, so
/// `ViT.backward` can follow (llm.c's activations and their gradients); without it (inference) all blocks share one
/// slot. Scratch: not Sendable, each worker makes its own.
public final class ViTWorkspace {
    public let config: ViTConfig
    public let capacity, maxTokens: Int
    public let keepsActivations: Bool
    // Embedding: every patch of each image, the kept ones gathered (only when a mask is given), their projection.
    let patches: Tensor
    private(set) lazy var keptPatches = Tensor([capacity * (maxTokens - 1), config.patchDim])
    let embedded: Tensor
    // Blocks, slot l (or 0 without keepsActivations). `xs` slot l is block l's input; one more slot holds the final
    // stream when activations are kept, otherwise every block updates slot 0 in place.
    let xs, xmid, ln1, ln1Mean, ln1Rstd, qkv, probs, att, ln2, ln2Mean, ln2Rstd, fc1, gelu: Tensor
    /// FastPath attention's scratch (inference workspaces on CPUs that run FastPath), else nil: one per thread of
    /// the BLAS thread count when the workspace was made, which FastPath follows as OpenBLAS does.
    let attentionScratch: Tensor?
    let fastThreads: Int
    /// Final LayerNorm output [batch, tokens, D]: what `encode` leaves for its caller.
    public let lnf: Tensor
    let lnfMean, lnfRstd: Tensor
    /// dL/d(final LayerNorm output) [batch, tokens, D], set by the caller before `ViT.backward`.
    public let dlnf: Tensor
    // Backward scratch: the residual stream's gradient, then the branches' gradients (TransformerBlock.Scratch).
    let dx, dln, datt, dqkv, dhidden, dscores: Tensor

    public init(config c: ViTConfig, capacity: Int, maxTokens: Int? = nil, keepsActivations: Bool = false) {
        let t = maxTokens ?? c.tokens
        precondition(capacity >= 1 && t >= 2 && t <= c.tokens, "workspace for \(capacity) images of \(t) tokens")
        config = c
        self.capacity = capacity
        self.maxTokens = t
        self.keepsActivations = keepsActivations
        let l = keepsActivations ? c.depth : 1, bt = capacity * t, d = c.width, m = c.mlpWidth
        patches = Tensor([capacity * c.patches, c.patchDim])
        embedded = Tensor([capacity * (t - 1), d])
        xs = Tensor([keepsActivations ? l + 1 : 1, bt, d])
        xmid = Tensor([l, bt, d])
        ln1 = Tensor([l, bt, d]); ln1Mean = Tensor([l, bt]); ln1Rstd = Tensor([l, bt])
        qkv = Tensor([l, bt, 3 * d])
        probs = Tensor([l, capacity, c.heads, t, t])
        att = Tensor([l, bt, d])
        // Inference reuses the first LayerNorm's output for the second and applies GELU in place.
        ln2 = keepsActivations ? Tensor([l, bt, d]) : ln1
        ln2Mean = Tensor([l, bt]); ln2Rstd = Tensor([l, bt])
        fc1 = Tensor([l, bt, m])
        gelu = keepsActivations ? Tensor([l, bt, m]) : fc1
        fastThreads = max(1, BLAS.threads)
        attentionScratch = keepsActivations || FastPath.supported.isEmpty ? nil
            : Tensor([fastThreads, FastPath.attentionScratchCount(tokens: t, width: d, heads: c.heads)])
        lnf = Tensor([bt, d]); lnfMean = Tensor([bt]); lnfRstd = Tensor([bt])
        let g = keepsActivations ? 1 : 0   // inference never runs backward: no gradient buffers
        dlnf = Tensor([g * bt, d]); dx = Tensor([g * bt, d]); dln = Tensor([g * bt, d]); datt = Tensor([g * bt, d])
        dqkv = Tensor([g * bt, 3 * d]); dhidden = Tensor([g * bt, m]); dscores = Tensor([g * t, t])
    }

    /// The residual stream entering block `i` (i = depth: leaving the last block) of a pass over `rows` rows.
    func stream(_ i: Int, rows: Int) -> UnsafeMutablePointer<Float> {
        xs.data + (keepsActivations ? i * rows * config.width : 0)
    }

    /// Block `i`'s activation record for `batch` images of `t` tokens, packed at that size.
    func block(_ i: Int, batch: Int, tokens t: Int) -> TransformerBlock.Activations {
        let s = keepsActivations ? i : 0, bt = batch * t, d = config.width, m = config.mlpWidth
        return .init(ln1: ln1.data + s * bt * d, ln1Mean: ln1Mean.data + s * bt, ln1Rstd: ln1Rstd.data + s * bt,
                     qkv: qkv.data + s * bt * 3 * d, probs: probs.data + s * batch * config.heads * t * t,
                     att: att.data + s * bt * d, xmid: xmid.data + s * bt * d, ln2: ln2.data + s * bt * d,
                     ln2Mean: ln2Mean.data + s * bt, ln2Rstd: ln2Rstd.data + s * bt,
                     fc1: fc1.data + s * bt * m, gelu: gelu.data + s * bt * m)
    }

    var scratch: TransformerBlock.Scratch {
        .init(dln: dln.data, datt: datt.data, dqkv: dqkv.data, dhidden: dhidden.data, dscores: dscores.data)
    }
}

/// A Vision Transformer (timm semantics, pre-norm blocks) over one flat parameter allocation: the frozen teacher's
/// forward, and the encoder forward and backward the student trains with.
public struct ViT: Sendable {
    public let parameters: ViTParameters
    public let normalization: Normalization
    /// The weights packed for FastPath (see `packingWeights`); nil: OpenBLAS only.
    public let packed: PackedViTWeights?

    /// What the forward's matrix products multiply in.
    public var precision: FastPath.Precision { packed?.precision ?? .fp32 }
    public var config: ViTConfig { parameters.config }

    public init(parameters: ViTParameters, normalization: Normalization = .inception) {
        self.parameters = parameters
        self.normalization = normalization
        packed = nil
    }

    private init(_ vit: ViT, packed: PackedViTWeights?) {
        parameters = vit.parameters
        normalization = vit.normalization
        self.packed = packed
    }

    /// This ViT with its weights packed for FastPath, so that forward passes without a backward run its kernels
    /// in `isa` and its GEMMs in `precision` (by default the process's; with nil, or weights already packed, it is
    /// this ViT). Only for weights that no longer change: the packed copy does not follow the parameters.
    public func packingWeights(isa: FastPath.ISA? = FastPath.isa, precision: FastPath.Precision? = nil) -> ViT {
        guard packed == nil, let isa else { return self }
        // The process's precision goes with the process's kernels; another isa asked for gets fp32 unless told.
        let precision = precision ?? (isa == FastPath.isa ? FastPath.precision : .fp32)
        return ViT(self, packed: PackedViTWeights(parameters, isa: isa, precision: precision))
    }

    /// Patch embedding, blocks and final LayerNorm for `batch` packed RGB24 images of `imageSize`² pixels, on the
    /// calling thread; the tokens are left in `ws.lnf` ([batch, 1+kept, D], token 0 CLS). `keep` ([batch, kept]
    /// patch indices) picks the patches each image contributes (MAE order: the position embedding is added before
    /// the blocks see them); nil keeps all of them, in order. `afterBlock(i, stream)` sees block i's output.
    public func encode(rgb: UnsafePointer<UInt8>, batch: Int, keep: [Int32]? = nil, workspace ws: ViTWorkspace,
                       afterBlock: (Int, UnsafePointer<Float>) -> Void = { _, _ in }) {
        let c = config, p = parameters, l = p.layout
        let d = c.width, n = c.patches
        let kept = keep.map { batch > 0 ? $0.count / batch : 0 } ?? n, t = kept + 1, bt = batch * t
        precondition(keep == nil || keep!.count == batch * kept, "keep has \(keep?.count ?? 0) indices for \(batch) images")
        precondition(batch <= ws.capacity && t <= ws.maxTokens,
                     "\(batch) images of \(t) tokens exceed the workspace (\(ws.capacity) of \(ws.maxTokens))")

        PatchEmbed.im2col(ws.patches.data, rgb: rgb, batch: batch, imageSize: c.imageSize, patchSize: c.patchSize,
                          mean: normalization.mean, std: normalization.std)
        if let keep {
            // Gather first, then embed only the kept rows: the projection is per row, so masking saves its cost.
            for r in 0..<(batch * kept) {
                let index = Int(keep[r])
                precondition(index >= 0 && index < n, "patch index \(index) outside 0..<\(n)")
                (ws.keptPatches.data + r * c.patchDim).update(from: ws.patches.data + ((r / kept) * n + index) * c.patchDim,
                                                              count: c.patchDim)
            }
        }
        // FastPath without a backward to follow (an inference workspace has its scratch).
        let threads = min(max(1, BLAS.threads), ws.fastThreads)
        let scratchStride = ws.attentionScratch.map { $0.shape[1] } ?? 0
        let fast = ws.attentionScratch.flatMap { s in packed.map { ($0, s.data) } }
        let patches = keep == nil ? ws.patches.data : ws.keptPatches.data
        if let (w, _) = fast {
            let parts = FastPath.split(batch * kept, threads)
            let embed = { (i: Int) in
                let r = parts[i]
                FastPath.linear(ws.embedded.data + r.lowerBound * d, patches + r.lowerBound * c.patchDim, w.patch,
                                p.ptr(l.patchB), rows: r.count, isa: w.isa)
            }
            if parts.count == 1 { embed(0) } else { Parallel.forEach(parts.count, embed) }
        } else {
            Linear.forward(ws.embedded.data, patches, p.ptr(l.patchW), p.ptr(l.patchB), rows: batch * kept,
                           inFeatures: c.patchDim, outFeatures: d)
        }
        // [CLS; patches] + the position embedding of each token's patch.
        let x0 = ws.stream(0, rows: bt), pos = p.ptr(l.pos)
        for b in 0..<batch {
            let xb = x0 + b * t * d
            xb.update(from: p.ptr(l.cls), count: d)
            Residual.forward(xb, adding: pos, count: d)
            for k in 0..<kept {
                let row = xb + (1 + k) * d, patch = keep.map { Int($0[b * kept + k]) } ?? k
                row.update(from: ws.embedded.data + (b * kept + k) * d, count: d)
                Residual.forward(row, adding: pos + (1 + patch) * d, count: d)
            }
        }

        for (i, blk) in l.blocks.enumerated() {
            let out = ws.stream(i + 1, rows: bt)
            TransformerBlock.forward(out, ws.stream(i, rows: bt), ws.block(i, batch: batch, tokens: t), p, blk,
                                     batch: batch, tokens: t, fast: fast.map {
                                         .init(weights: $0.0.blocks[i], isa: $0.0.isa, scratch: $0.1,
                                               scratchStride: scratchStride, threads: threads) })
            afterBlock(i, out)
        }
        LayerNorm.forward(ws.lnf.data, ws.stream(c.depth, rows: bt), p.ptr(l.normW), p.ptr(l.normB),
                          mean: ws.lnfMean.data, rstd: ws.lnfRstd.data, rows: bt, channels: d, eps: c.layerNormEps)
    }

    /// Backward of the last `encode` (same `batch` and `keep`, a workspace that keeps activations) from the
    /// gradient in `ws.dlnf`. Parameter gradients ACCUMULATE into `grads`, which has this ViT's layout. The
    /// position embedding gets none: the one ViT trained here, the student, keeps its sin-cos table fixed.
    public func backward(batch: Int, keep: [Int32]? = nil, workspace ws: ViTWorkspace, grads: ViTParameters) {
        let c = config, p = parameters, l = p.layout
        let d = c.width, n = c.patches
        let kept = keep.map { batch > 0 ? $0.count / batch : 0 } ?? n, t = kept + 1, bt = batch * t
        precondition(ws.keepsActivations, "backward needs a workspace that keeps activations")
        precondition(batch <= ws.capacity && t <= ws.maxTokens && grads.layout.count == l.count)
        let g = grads.ptr, dx = ws.dx.data

        // Final LayerNorm; dx becomes dL/d(final stream) and then, block by block, dL/d(block input).
        dx.update(repeating: 0, count: bt * d)
        LayerNorm.backward(dinp: dx, dgamma: g(l.normW), dbeta: g(l.normB), dout: ws.dlnf.data,
                           inp: ws.stream(c.depth, rows: bt), gamma: p.ptr(l.normW), mean: ws.lnfMean.data,
                           rstd: ws.lnfRstd.data, rows: bt, channels: d)
        for (i, blk) in l.blocks.enumerated().reversed() {
            TransformerBlock.backward(dx: dx, ws.stream(i, rows: bt), ws.block(i, batch: batch, tokens: t),
                                      scratch: ws.scratch, grads: grads, p, blk, batch: batch, tokens: t)
        }

        // Token assembly: the CLS row to cls_token, the patch rows to the projection of the patches embedded.
        for b in 0..<batch {
            let row = dx + b * t * d
            Residual.forward(g(l.cls), adding: row, count: d)
            (ws.embedded.data + b * kept * d).update(from: row + d, count: kept * d)   // reused as d(embedded)
        }
        Linear.backward(dinp: nil, dweight: g(l.patchW), dbias: g(l.patchB), dout: ws.embedded.data,
                        inp: keep == nil ? ws.patches.data : ws.keptPatches.data, weight: p.ptr(l.patchW),
                        rows: batch * kept, inFeatures: c.patchDim, outFeatures: d)
    }

    /// The teacher's forward: `encode` over every patch, plus the last block's CLS attention, the classifier logits
    /// and copies of the residual stream after the blocks in `captureBlocks`.
    public func forward(rgb: UnsafePointer<UInt8>, batch: Int, workspace ws: ViTWorkspace,
                        captureBlocks: Set<Int> = []) -> ViTOutput {
        let c = config, p = parameters, l = p.layout
        let d = c.width, t = c.tokens, n = c.patches, bt = batch * t
        var captured: [Int: [Float]] = [:]
        encode(rgb: rgb, batch: batch, workspace: ws) { i, stream in
            if captureBlocks.contains(i) { captured[i] = Array(UnsafeBufferPointer(start: stream, count: bt * d)) }
        }

        // The last block's attention weights: row 0 (the CLS query), patch keys, mean over heads.
        var clsAttention = [Float](repeating: 0, count: batch * n)
        let probs = ws.block(c.depth - 1, batch: batch, tokens: t).probs, invHeads = 1 / Float(c.heads)
        for b in 0..<batch {
            for h in 0..<c.heads {
                let row = probs + (b * c.heads + h) * t * t
                for j in 0..<n { clsAttention[b * n + j] += row[1 + j] * invHeads }
            }
        }

        let finalTokens = Array(UnsafeBufferPointer(start: ws.lnf.data, count: bt * d))
        var logits: [Float] = []
        if c.numClasses > 0 {
            // Head on the CLS rows only: gather them (into the embedding's buffer, free by now), then one GEMM.
            for b in 0..<batch { (ws.embedded.data + b * d).update(from: ws.lnf.data + b * t * d, count: d) }
            logits = [Float](repeating: 0, count: batch * c.numClasses)
            logits.withUnsafeMutableBufferPointer { out in
                if let packed, let head = packed.head, ws.attentionScratch != nil {
                    FastPath.linear(out.baseAddress!, ws.embedded.data, head, p.ptr(l.headB), rows: batch,
                                    isa: packed.isa)
                } else {
                    Linear.forward(out.baseAddress!, ws.embedded.data, p.ptr(l.headW), p.ptr(l.headB),
                                   rows: batch, inFeatures: d, outFeatures: c.numClasses)
                }
            }
        }
        return ViTOutput(batch: batch, tokens: t, width: d, finalTokens: finalTokens, clsAttention: clsAttention,
                         logits: logits, blockOutputs: captured)
    }
}
