/// LayerNorm over the last dimension: y = (x-μ)/√(σ²+ε)·γ + β, σ² the biased variance.
public enum LayerNorm {
    /// `mean` and `rstd` ([rows]) are written when given: the backward pass needs them.
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
                               mean: UnsafeMutablePointer<Float>? = nil, rstd: UnsafeMutablePointer<Float>? = nil,
                               rows: Int, channels c: Int, eps: Float) {
        for r in 0..<rows {
            let x = inp + r * c
            let y = out + r * c
            var m: Float = 0
            for i in 0..<c { m += x[i] }
            m /= Float(c)
            var v: Float = 0
            for i in 0..<c { let d = x[i] - m; v += d * d }
            v /= Float(c)
            let s = 1 / (v + eps).squareRoot()
            for i in 0..<c { y[i] = (x[i] - m) * s * gamma[i] + beta[i] }
            mean?[r] = m
            rstd?[r] = s
        }
    }
}
