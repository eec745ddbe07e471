/// Exact (erf) GELU: 0.5·x·(1 + erf(x/√2)). Not the tanh approximation: timm's nn.GELU is exact.
public enum GELU {
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count n: Int) {
        mapVec(out, inp, n) { x in 0.5 * x * (1 + verf(x * 0.7071067811865476)) }
    }

    /// dinp = dout·GELU'(inp), GELU'(x) = 0.5(1+erf(x/√2)) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
    /// Unlike the GEMM backward passes this one WRITES (does not accumulate), so it may run in place
    /// (dinp == dout): the MLP hidden gradient has no other contributor.
    public static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                dout: UnsafePointer<Float>, count n: Int) {
        var i = 0
        while i + 8 <= n {
            store(load(dout + i) * derivative(load(inp + i)), dinp + i)
            i += 8
        }
        while i < n {
            dinp[i] = dout[i] * derivative(Vec(repeating: inp[i]))[0]
            i += 1
        }
    }

    @inline(__always)
    static func derivative(_ x: Vec) -> Vec {
        0.5 * (1 + verf(x * 0.7071067811865476)) + x * vexp(-0.5 * x * x) * 0.3989422804014327
    }
}
