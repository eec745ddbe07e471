/// Row-wise softmax, stabilised by subtracting each row's maximum.
public enum Softmax {
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let x = inp + r * cols
            let y = out + r * cols
            var m = -Float.infinity
            for i in 0..<cols where x[i] > m { m = x[i] }
            mapVec(y, x, cols) { v in vexp(v - m) }
            var s: Float = 0
            for i in 0..<cols { s += y[i] }
            let inv = 1 / s
            for i in 0..<cols { y[i] *= inv }
        }
    }
}
