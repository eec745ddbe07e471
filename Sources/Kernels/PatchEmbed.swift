/// Patch embedding as a GEMM: im2col turns each P×P patch into a row ordered (c, ky, kx), matching the conv
/// weight [D, C, P, P] viewed as [D, C·P·P]; `Linear.forward` then does the projection.
public enum PatchEmbed {
    /// Packed RGB24 images [B, S, S, 3] (bytes) → normalised patch rows [B, G·G, 3·P·P] with x = (v/255 − mean)/std.
    public static func im2col(_ out: UnsafeMutablePointer<Float>, rgb: UnsafePointer<UInt8>, batch: Int,
                              imageSize s: Int, patchSize p: Int, mean: SIMD3<Float>, std: SIMD3<Float>) {
        let g = s / p
        let rowLen = 3 * p * p
        // v/255 then (·−mean)/std, folded into one multiply-add per channel.
        let mul = SIMD3<Float>(repeating: 1 / 255) / std
        let add = -mean / std
        for b in 0..<batch {
            let img = rgb + b * s * s * 3
            for gy in 0..<g {
                for gx in 0..<g {
                    let row = out + ((b * g + gy) * g + gx) * rowLen
                    for ky in 0..<p {
                        let src = img + ((gy * p + ky) * s + gx * p) * 3
                        for kx in 0..<p {
                            for c in 0..<3 {
                                row[c * p * p + ky * p + kx] = Float(src[kx * 3 + c]) * mul[c] + add[c]
                            }
                        }
                    }
                }
            }
        }
    }
}
