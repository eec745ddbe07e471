/// Per-row L2 normalisation, y = x / max(‖x‖, ε) with ε = 1e-12 (torch.nn.functional.normalize, p=2).
public enum L2Normalize {
    public static let eps: Float = 1e-12

    /// `norms` [rows] receives max(‖x‖, ε) of each row: the backward pass needs it.
    public static func forward(_ out: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                               _ inp: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let x = inp + r * cols, y = out + r * cols
            var s: Float = 0
            for i in 0..<cols { s += x[i] * x[i] }
            let n = max(s.squareRoot(), eps)
            let inv = 1 / n
            for i in 0..<cols { y[i] = x[i] * inv }
            norms[r] = n
        }
    }

    /// dinp += (dout − y·(y·dout)) / ‖x‖, ACCUMULATED (see `Linear.backward`). Where the ε clamp was active the
    /// map is x/ε, linear, so the gradient is dout/ε without the projection.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                out: UnsafePointer<Float>, norms: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let y = out + r * cols, dy = dout + r * cols, dx = dinp + r * cols
            let clamped = norms[r] <= eps
            var dot: Float = 0
            if !clamped { for i in 0..<cols { dot += y[i] * dy[i] } }
            let inv = 1 / norms[r]
            for i in 0..<cols { dx[i] += (dy[i] - y[i] * dot) * inv }
        }
    }
}
