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
}

@inline(__always) func load(_ p: UnsafePointer<Float>) -> Vec { UnsafeRawPointer(p).loadUnaligned(as: Vec.self) }
@inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> Vec { UnsafeRawPointer(p).loadUnaligned(as: Vec.self) }
@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self) }
