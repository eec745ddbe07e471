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

    /// Backward of `forward` from its saved `mean`/`rstd`, with x̂ = (x−μ)·rstd and g = dout⊙γ:
    /// dinp += (g − mean(g) − x̂·mean(g⊙x̂))·rstd; dgamma += Σ_rows dout⊙x̂; dbeta += Σ_rows dout.
    /// All three ACCUMULATE (see `Linear.backward`); `dinp` may hold the residual stream's gradient already.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                dbeta: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, channels c: Int) {
        let invC = 1 / Float(c)
        for r in 0..<rows {
            let x = inp + r * c, dy = dout + r * c, dx = dinp + r * c
            let m = mean[r], s = rstd[r]
            var meanG: Float = 0, meanGX: Float = 0
            for i in 0..<c {
                let g = dy[i] * gamma[i]
                meanG += g
                meanGX += g * (x[i] - m) * s
            }
            meanG *= invC
            meanGX *= invC
            for i in 0..<c {
                let xh = (x[i] - m) * s
                dbeta[i] += dy[i]
                dgamma[i] += dy[i] * xh
                dx[i] += (dy[i] * gamma[i] - meanG - xh * meanGX) * s
            }
        }
    }
}
