/// Residual connections and other elementwise helpers.
public enum Residual {
    /// x += y (in place), n elements.
    public static func forward(_ x: UnsafeMutablePointer<Float>, adding y: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }
}
