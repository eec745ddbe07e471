import Foundation

/// AdamW with PyTorch's semantics (torch.optim.AdamW, amsgrad off), over one flat parameter allocation:
/// p ← p·(1−lr·wd); m ← β₁m+(1−β₁)g; v ← β₂v+(1−β₂)g²; p ← p − lr·(m/(1−β₁ᵗ))/(√(v/(1−β₂ᵗ))+ε).
/// Only the listed ranges are touched, so frozen parameters (a fixed position embedding) are simply left out;
/// each range says whether it takes weight decay.
public struct AdamW: Sendable {
    public struct Group: Sendable, Equatable {
        public var range: Range<Int>
        public var decay: Bool
        public init(range: Range<Int>, decay: Bool) { self.range = range; self.decay = decay }
    }

    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    public let groups: [Group]
    /// Steps taken so far (t in the bias corrections).
    public private(set) var step = 0

    public init(groups: [Group], learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0.01) {
        self.groups = groups
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    /// One update of `p` from gradient `g`, with first and second moments `m`, `v` (same indexing, zero at start).
    /// `threads` > 1 splits every range into that many slices updated concurrently (the update is memory-bound
    /// and elementwise, so the result is identical).
    public mutating func update(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                                m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, threads: Int = 1) {
        step += 1
        let t = Double(step)
        let bc1 = 1 - pow(Double(beta1), t), bc2 = 1 - pow(Double(beta2), t)
        // PyTorch's arrangement: step size lr/bc1 and denominator √v/√bc2 + ε.
        let stepSize = Float(Double(learningRate) / bc1)
        let invSqrtBC2 = Float(1 / bc2.squareRoot())
        let (b1, b2, e) = (beta1, beta2, eps)
        let decayShrink = 1 - learningRate * weightDecay
        let groups = self.groups
        Parallel.forEach(max(threads, 1)) { part in
            for group in groups {
                let shrink: Float = group.decay ? decayShrink : 1
                let r = group.range, n = r.count, parts = max(threads, 1)
                let lo = r.lowerBound + n * part / parts, hi = r.lowerBound + n * (part + 1) / parts
                // A plain loop: LLVM vectorises it (sqrt included) under -Ounchecked.
                for i in lo..<hi {
                    let gi = g[i]
                    let mi = b1 * m[i] + (1 - b1) * gi
                    let vi = b2 * v[i] + (1 - b2) * gi * gi
                    m[i] = mi
                    v[i] = vi
                    p[i] = p[i] * shrink - stepSize * mi / (vi.squareRoot() * invSqrtBC2 + e)
                }
            }
        }
    }
}
