import Engine
import Kernels

/// One student worker's buffers for up to `capacity` frames of up to `maxTokens` tokens each: the encoder's
/// (`ViTWorkspace`; with `keepsActivations`, every block's activations for the backward pass) and the
/// L2-normalised tokens the loss and the scores compare. Scratch: not Sendable, one per worker.
final class StudentWorkspace {
    let vit: ViTWorkspace
    /// L2-normalised final-LN tokens [batch, tokens, D], their norms [batch·tokens], and the loss gradient on them.
    let normed, norms, dnormed: Tensor
    /// The final-LN tokens before normalisation.
    var lnf: Tensor { vit.lnf }

    init(config c: ViTConfig, capacity: Int, maxTokens t: Int, keepsActivations: Bool) {
        vit = ViTWorkspace(config: c, capacity: capacity, maxTokens: t, keepsActivations: keepsActivations)
        let bt = capacity * t
        normed = Tensor([bt, c.width])
        norms = Tensor([bt])
        dnormed = Tensor([keepsActivations ? bt : 0, c.width])   // scoring never runs backward
    }
}

extension Student {
    /// Forward pass on CLS plus the kept patches of each frame (ALGORITHM.md §2.4): the engine's encoder on
    /// `keep` ([batch, kept] patch indices, the same count for every frame; nil: all patches, `kept` = N), then
    /// each token L2-normalised. The result is in `ws.normed` ([batch, 1+kept, D]; token 0 is CLS) and the
    /// pre-normalisation final-LN tokens in `ws.lnf`.
    func forward(rgb: UnsafePointer<UInt8>, batch: Int, keep: [Int32]?, kept: Int, normalization: Normalization,
                 workspace ws: StudentWorkspace) {
        precondition(keep.map { $0.count == batch * kept } ?? (kept == config.patches), "keep does not hold \(kept) per frame")
        ViT(parameters: parameters, normalization: normalization).encode(rgb: rgb, batch: batch, keep: keep, workspace: ws.vit)
        L2Normalize.forward(ws.normed.data, norms: ws.norms.data, ws.lnf.data, rows: batch * (kept + 1), cols: config.width)
    }

    /// Backward of the last `forward` (which must have kept its activations) from the loss gradient in
    /// `ws.dnormed` ([batch, 1+kept, D]). Parameter gradients are ACCUMULATED into `grads`, which has this
    /// student's layout; the position embedding gets none (it is fixed).
    func backward(batch: Int, keep: [Int32]?, kept: Int, workspace ws: StudentWorkspace, grads: ViTParameters) {
        let bt = batch * (kept + 1), d = config.width
        precondition(keep.map { $0.count == batch * kept } ?? (kept == config.patches), "keep does not hold \(kept) per frame")
        ws.vit.dlnf.data.update(repeating: 0, count: bt * d)
        L2Normalize.backward(dinp: ws.vit.dlnf.data, dout: ws.dnormed.data, out: ws.normed.data, norms: ws.norms.data,
                             rows: bt, cols: d)
        // The pixel normalisation only matters in forward (the backward reads the embedded patches it left).
        ViT(parameters: parameters).backward(batch: batch, keep: keep, workspace: ws.vit, grads: grads)
    }
}
