import Kernels

/// Spreads a batch over independent single-threaded workers, each with its own workspace. On small ViT shapes
/// two such workers use two cores better than one two-threaded GEMM (see benchmarks/). Owns the workspaces, so it is
/// not Sendable: each stage makes its own where it runs.
public final class ViTRunner {
    public let vit: ViT
    public let workers: Int
    /// The largest batch `forward` takes.
    public let maxBatch: Int
    private let workspaces: [ViTWorkspace]
    private let chunk: Int

    /// `workers` threads each take up to ceil(maxBatch/workers) images. BLAS runs single-threaded inside each.
    /// A runner's ViT is a frozen teacher: its weights are packed for FastPath here unless they already are.
    public init(vit: ViT, workers: Int, maxBatch: Int) {
        precondition(workers >= 1 && maxBatch >= 1)
        self.vit = vit.packingWeights()
        self.workers = workers
        self.maxBatch = maxBatch
        self.chunk = (maxBatch + workers - 1) / workers
        self.workspaces = (0..<workers).map { _ in ViTWorkspace(config: vit.config, capacity: (maxBatch + workers - 1) / workers) }
    }

    /// Images are packed RGB24, `imageSize`² each, `batch` of them.
    public func forward(rgb: UnsafePointer<UInt8>, batch: Int, captureBlocks: Set<Int> = []) -> ViTOutput {
        let c = vit.config
        let imageBytes = c.imageSize * c.imageSize * 3
        let parts = (batch + chunk - 1) / chunk
        if parts <= 1 {
            return vit.forward(rgb: rgb, batch: batch, workspace: workspaces[0], captureBlocks: captureBlocks)
        }
        let results = UnsafeMutableBufferPointer<ViTOutput?>.allocate(capacity: parts)
        results.initialize(repeating: nil)
        defer {
            // The outputs own arrays: deinitialise before freeing, or every batch's tokens leak.
            _ = results.deinitialize()
            results.deallocate()
        }
        Parallel.forEach(parts) { i in
            let start = i * chunk
            let count = min(chunk, batch - start)
            results[i] = vit.forward(rgb: rgb + start * imageBytes, batch: count, workspace: workspaces[i],
                                     captureBlocks: captureBlocks)
        }
        var out = results[0]!
        for i in 1..<parts {
            let r = results[i]!
            out.finalTokens += r.finalTokens
            out.clsAttention += r.clsAttention
            out.logits += r.logits
            for (k, v) in r.blockOutputs { out.blockOutputs[k, default: []] += v }
        }
        return ViTOutput(batch: batch, tokens: out.tokens, width: out.width, finalTokens: out.finalTokens,
                         clsAttention: out.clsAttention, logits: out.logits, blockOutputs: out.blockOutputs)
    }
}
