/// Row-wise softmax, stabilised by subtracting each row's maximum.
public enum Softmax {
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, rows: Int, cols: Int) {
        let full = cols & ~7
        for r in 0..<rows {
            let x = inp + r * cols
            let y = out + r * cols
            var vm = Vec(repeating: -.infinity)
            var i = 0
            while i < full { vm = vmax(vm, load(x + i)); i += 8 }
            var m = vm.max()
            while i < cols { m = max(m, x[i]); i += 1 }
            let mv = Vec(repeating: m)
            var vs = Vec(repeating: 0)
            i = 0
            while i < full {
                let e = vexp(load(x + i) - mv)
                store(e, y + i)
                vs += e
                i += 8
            }
            var s = vs.sum()
            while i < cols { y[i] = vexp(x[i] - m); s += y[i]; i += 1 }
            let inv = Vec(repeating: 1 / s)
            i = 0
            while i < full { store(load(y + i) * inv, y + i); i += 8 }
            while i < cols { y[i] *= inv[0]; i += 1 }
        }
    }

    /// Backward of row-wise softmax from its output y: dinp = y⊙(dout − rowsum(dout⊙y)).
    /// WRITES rather than accumulates, so it may run in place (dinp == dout), as attention uses it.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                out y: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let dy = dout + r * cols, yr = y + r * cols, dx = dinp + r * cols
            var s: Float = 0
            for i in 0..<cols { s += dy[i] * yr[i] }
            for i in 0..<cols { dx[i] = yr[i] * (dy[i] - s) }
        }
    }
}

@inline(__always) func load(_ p: UnsafePointer<Float>) -> Vec { UnsafeRawPointer(p).loadUnaligned(as: Vec.self) }
@inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> Vec { UnsafeRawPointer(p).loadUnaligned(as: Vec.self) }
@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self) }
