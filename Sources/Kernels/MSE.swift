/// Mean squared error over `count` elements, L = (1/M)·Σ(s−t)², where M (`meanOver`) may exceed `count` when a
/// batch is split over workers: each worker then sees its share of one global mean.
public enum MSE {
    /// Returns Σ(s−t)²/M, accumulated in Double so that long sums keep float precision.
    public static func forward(_ s: UnsafePointer<Float>, _ t: UnsafePointer<Float>, count n: Int,
                               meanOver m: Int) -> Float {
        var acc = 0.0
        for i in 0..<n { let e = Double(s[i] - t[i]); acc += e * e }
        return Float(acc / Double(m))
    }

    /// ds += 2(s−t)/M, ACCUMULATED (see `Linear.backward`).
    public static func backward(ds: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ t: UnsafePointer<Float>,
                                count n: Int, meanOver m: Int) {
        let k = 2 / Float(m)
        for i in 0..<n { ds[i] += k * (s[i] - t[i]) }
    }
}
