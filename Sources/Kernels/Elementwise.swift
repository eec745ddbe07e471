/// Residual connections and other elementwise helpers.
///
/// Backward of x ← x + f(x) needs no kernel: the stream's gradient reaches x unchanged and is also f's output
/// gradient. Because every `backward` here accumulates into its `dinp`, a branch's backward adds its share
/// straight into the stream's gradient buffer (see the student's backward pass).
public enum Residual {
    /// x += y (in place), n elements.
    public static func forward(_ x: UnsafeMutablePointer<Float>, adding y: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }
}
