import CBLAS

/// y = x·Wᵀ + b over flat row-major buffers, with W kept in the checkpoint's [out, in] layout.
public enum Linear {
    /// out[rows, outF] = inp[rows, inF] · weight[outF, inF]ᵀ (+ bias[outF]).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                               rows: Int, inFeatures: Int, outFeatures: Int) {
        var beta: Float = 0
        if let bias {
            for r in 0..<rows { (out + r * outFeatures).update(from: bias, count: outFeatures) }
            beta = 1
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outFeatures), Int32(inFeatures),
                    1, inp, Int32(inFeatures), weight, Int32(inFeatures), beta, out, Int32(outFeatures))
    }
}

/// Thread count of OpenBLAS's own pool (process-wide).
public enum BLAS {
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// The kernel family OpenBLAS chose for this CPU (e.g. "Haswell", "Cooperlake").
    public static var coreName: String { String(cString: openblas_get_corename()) }
}
