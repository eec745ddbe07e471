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

    /// Backward of `forward`. Every gradient is ACCUMULATED (+=), llm.c style: callers zero the buffers first, and a
    /// residual stream's gradient can collect from both of its branches without a copy.
    /// dinp[rows, inF] += dout·W; dweight[outF, inF] += doutᵀ·inp; dbias[outF] += Σ_rows dout.
    /// `dinp` is nil when the input needs no gradient (the patch embedding's pixels).
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rows: Int, inFeatures: Int, outFeatures: Int) {
        let (m, k, n) = (Int32(rows), Int32(inFeatures), Int32(outFeatures))
        if let dinp {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k, n, 1, dout, n, weight, k, 1, dinp, k)
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, k, m, 1, dout, n, inp, k, 1, dweight, k)
        if let dbias {
            for r in 0..<rows {
                let row = dout + r * outFeatures
                for o in 0..<outFeatures { dbias[o] += row[o] }
            }
        }
    }
}

/// Thread count of OpenBLAS's own pool (process-wide).
public enum BLAS {
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// The kernel family OpenBLAS chose for this CPU (e.g. "Haswell", "Cooperlake").
    public static var coreName: String { String(cString: openblas_get_corename()) }
}
