/// Exact (erf) GELU: 0.5·x·(1 + erf(x/√2)). Not the tanh approximation: timm's nn.GELU is exact.
public enum GELU {
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count n: Int) {
        mapVec(out, inp, n) { x in 0.5 * x * (1 + verf(x * 0.7071067811865476)) }
    }
}
