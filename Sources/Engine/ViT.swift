import Dispatch
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

/// Activation buffers for one worker, sized for up to `capacity` images. Not shared between threads.
public final class ViTWorkspace: @unchecked Sendable {
    public let capacity: Int
    let patches, x, ln, qkv, attnOut, proj, hidden, probs, mean, rstd: Tensor

    public init(config c: ViTConfig, capacity: Int) {
        let bt = capacity * c.tokens
        self.capacity = capacity
        patches = Tensor([capacity * c.patches, c.patchDim])
        x = Tensor([bt, c.width])
        ln = Tensor([bt, c.width])
        qkv = Tensor([bt, 3 * c.width])
        attnOut = Tensor([bt, c.width])
        proj = Tensor([bt, c.width])
        hidden = Tensor([bt, c.mlpWidth])
        probs = Tensor([capacity, c.heads, c.tokens, c.tokens])
        mean = Tensor([bt])
        rstd = Tensor([bt])
    }
}

/// A Vision Transformer forward pass (timm semantics, pre-norm blocks) over one flat parameter allocation.
public struct ViT: Sendable {
    public let parameters: ViTParameters
    public let normalization: Normalization
    public var config: ViTConfig { parameters.config }

    public init(parameters: ViTParameters, normalization: Normalization = .inception) {
        self.parameters = parameters
        self.normalization = normalization
    }

    /// Runs `batch` packed RGB24 images of `imageSize`² pixels through the network on the calling thread.
    public func forward(rgb: UnsafePointer<UInt8>, batch: Int, workspace ws: ViTWorkspace,
                        captureBlocks: Set<Int> = []) -> ViTOutput {
        precondition(batch <= ws.capacity, "batch \(batch) exceeds workspace capacity \(ws.capacity)")
        let c = config, p = parameters, l = p.layout
        let d = c.width, t = c.tokens, n = c.patches, bt = batch * t

        // Patch embedding (as a GEMM), then [CLS; patches] + position embedding.
        PatchEmbed.im2col(ws.patches.data, rgb: rgb, batch: batch, imageSize: c.imageSize, patchSize: c.patchSize,
                          mean: normalization.mean, std: normalization.std)
        Linear.forward(ws.proj.data, ws.patches.data, p.ptr(l.patchW), p.ptr(l.patchB),
                       rows: batch * n, inFeatures: c.patchDim, outFeatures: d)
        for b in 0..<batch {
            let xb = ws.x.data + b * t * d
            xb.update(from: p.ptr(l.cls), count: d)
            (xb + d).update(from: ws.proj.data + b * n * d, count: n * d)
            Residual.forward(xb, adding: p.ptr(l.pos), count: t * d)
        }

        var captured: [Int: [Float]] = [:]
        for (i, blk) in l.blocks.enumerated() {
            LayerNorm.forward(ws.ln.data, ws.x.data, p.ptr(blk.norm1W), p.ptr(blk.norm1B),
                              rows: bt, channels: d, eps: c.layerNormEps)
            Linear.forward(ws.qkv.data, ws.ln.data, p.ptr(blk.qkvW), p.ptr(blk.qkvB),
                           rows: bt, inFeatures: d, outFeatures: 3 * d)
            Attention.forward(ws.attnOut.data, probs: ws.probs.data, ws.qkv.data,
                              batch: batch, tokens: t, width: d, heads: c.heads)
            Linear.forward(ws.proj.data, ws.attnOut.data, p.ptr(blk.projW), p.ptr(blk.projB),
                           rows: bt, inFeatures: d, outFeatures: d)
            Residual.forward(ws.x.data, adding: ws.proj.data, count: bt * d)

            LayerNorm.forward(ws.ln.data, ws.x.data, p.ptr(blk.norm2W), p.ptr(blk.norm2B),
                              rows: bt, channels: d, eps: c.layerNormEps)
            Linear.forward(ws.hidden.data, ws.ln.data, p.ptr(blk.fc1W), p.ptr(blk.fc1B),
                           rows: bt, inFeatures: d, outFeatures: c.mlpWidth)
            GELU.forward(ws.hidden.data, ws.hidden.data, count: bt * c.mlpWidth)
            Linear.forward(ws.proj.data, ws.hidden.data, p.ptr(blk.fc2W), p.ptr(blk.fc2B),
                           rows: bt, inFeatures: c.mlpWidth, outFeatures: d)
            Residual.forward(ws.x.data, adding: ws.proj.data, count: bt * d)
            if captureBlocks.contains(i) {
                captured[i] = Array(UnsafeBufferPointer(start: ws.x.data, count: bt * d))
            }
        }

        // The last block's attention weights are still in `probs`: row 0 (the CLS query), patch keys, head mean.
        var clsAttention = [Float](repeating: 0, count: batch * n)
        let invHeads = 1 / Float(c.heads)
        for b in 0..<batch {
            for h in 0..<c.heads {
                let row = ws.probs.data + (b * c.heads + h) * t * t
                for j in 0..<n { clsAttention[b * n + j] += row[1 + j] * invHeads }
            }
        }

        LayerNorm.forward(ws.ln.data, ws.x.data, p.ptr(l.normW), p.ptr(l.normB),
                          rows: bt, channels: d, eps: c.layerNormEps)
        let finalTokens = Array(UnsafeBufferPointer(start: ws.ln.data, count: bt * d))

        var logits: [Float] = []
        if c.numClasses > 0 {
            // Head on the CLS rows only: gather them, then one GEMM.
            for b in 0..<batch { (ws.attnOut.data + b * d).update(from: ws.ln.data + b * t * d, count: d) }
            logits = [Float](repeating: 0, count: batch * c.numClasses)
            logits.withUnsafeMutableBufferPointer { out in
                Linear.forward(out.baseAddress!, ws.attnOut.data, p.ptr(l.headW), p.ptr(l.headB),
                               rows: batch, inFeatures: d, outFeatures: c.numClasses)
            }
        }
        return ViTOutput(batch: batch, tokens: t, width: d, finalTokens: finalTokens, clsAttention: clsAttention,
                         logits: logits, blockOutputs: captured)
    }
}
