import CKernels
import Glibc

/// The inference forward's kernels (Sources/CKernels), in AVX-512 and AVX2+FMA: a GEMM over weights packed once
/// (OpenBLAS repacks them on every call) with bias, GELU and the residual add fused into its epilogue, attention in
/// one pass per block of query rows (the T×T weights stay in L1, never written out), and LayerNorm. Forward only:
/// training runs the OpenBLAS kernels beside them, which are also the reference and the fallback on CPUs without
/// AVX2. Every kernel takes the instruction set to run in; both read the same packed weights.
public enum FastPath {
    /// The instruction sets the kernels come in (ckernels.h's CK_AVX2 and CK_AVX512).
    public enum ISA: Int32, Sendable, CaseIterable {
        case avx2 = 1, avx512 = 2
    }

    /// Every instruction set this CPU runs the kernels in, narrowest first (the tests check each).
    public static let supported = ISA.allCases.filter { $0.rawValue <= ck_best_isa() }

    /// The kernels this process runs: the widest the CPU has, or nil (the OpenBLAS path) without AVX2.
    /// ANOMALYD_KERNELS=avx2 runs the AVX2 kernels on an AVX-512 CPU, =blas the OpenBLAS path, to compare them on
    /// one machine; it never asks for more than the CPU has.
    public static let isa: ISA? = {
        switch getenv("ANOMALYD_KERNELS").map({ String(cString: $0) }) {
        case "blas": return nil
        case "avx2": return supported.first
        default: return supported.last
        }
    }()

    /// What the GEMM (`linear`) multiplies in: fp32; bf16 with fp32 sums (AVX512_BF16); or int8, s8 weights per
    /// output and u8 inputs per row with exact int32 sums (AVX512_VNNI; ckernels.h says how each is quantized).
    /// bf16 and int8 run in the AVX-512 kernels only. Attention, LayerNorm and the GEMM's epilogue (bias, GELU,
    /// residual) are fp32 whatever the precision.
    public enum Precision: String, Sendable, CaseIterable {
        case fp32, bf16, int8
    }

    /// Every precision this CPU runs the GEMM in (the tests check each): bf16 needs AVX512_BF16, int8 AVX512_VNNI.
    public static let precisions = Precision.allCases.filter {
        switch $0 {
        case .fp32: true
        case .bf16: ck_has_bf16() != 0
        case .int8: ck_has_vnni() != 0
        }
    }

    /// The precision this process packs inference weights in (`PackedWeight`) unless told otherwise (`anomalyd run`
    /// takes `engine.precision`): fp32 unless ANOMALYD_PRECISION asks for bf16 or int8 and the CPU can run it. fp32
    /// stays the default: see benchmarks/RESULTS.md, "bf16 GEMM" and "int8 GEMM".
    public static let precision: Precision = {
        runnable(getenv("ANOMALYD_PRECISION").flatMap { Precision(rawValue: String(cString: $0)) } ?? .fp32)
    }()

    /// `asked` if this process can run it (the AVX-512 kernels, and the CPU's BF16 or VNNI for bf16 and int8), else fp32.
    public static func runnable(_ asked: Precision) -> Precision {
        isa == .avx512 && precisions.contains(asked) ? asked : .fp32
    }

    /// Row tile of the AVX-512 GEMM and of its attention's query blocks (twice AVX2's): threads split rows in
    /// multiples of it.
    static let rowTile = 12

    /// `rows` split into up to `parts` ranges of whole row tiles (fewer when there are not enough tiles).
    public static func split(_ rows: Int, _ parts: Int) -> [Range<Int>] {
        let chunk = ((rows + parts - 1) / parts + rowTile - 1) / rowTile * rowTile
        return stride(from: 0, to: rows, by: max(chunk, 1)).map { $0..<min($0 + chunk, rows) }
    }

    /// out[rows, outF] = act(inp[rows, inF]·Wᵀ + bias) (+ residual), act GELU (exact) when `gelu`, else identity.
    /// `residual` may be `out`. In the weight's precision: bf16 and int8 weights run their AVX-512 kernel whatever
    /// `isa`.
    public static func linear(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: PackedWeight,
                              _ bias: UnsafePointer<Float>?, gelu: Bool = false, residual: UnsafePointer<Float>? = nil,
                              rows: Int, isa: ISA) {
        let (m, k, n) = (Int32(rows), Int32(weight.inFeatures), Int32(weight.outFeatures))
        switch weight.precision {
        case .fp32:
            ck_linear(isa.rawValue, out, inp, weight.data.assumingMemoryBound(to: Float.self), bias, residual, m, k, n,
                      gelu ? 1 : 0)
        case .bf16:
            ck_linear_bf16(out, inp, weight.data.assumingMemoryBound(to: UInt16.self), bias, residual, m, k, n,
                           gelu ? 1 : 0)
        case .int8:
            ck_linear_int8(out, inp, weight.data.assumingMemoryBound(to: Int8.self), bias, residual, m, k, n,
                           gelu ? 1 : 0)
        }
    }

    /// Floats of scratch `attention` needs.
    public static func attentionScratchCount(tokens: Int, width: Int, heads: Int) -> Int {
        ck_attention_scratch(Int32(tokens), Int32(width / heads))
    }

    /// `Attention.forward` without the [B, H, T, T] weights, for the query rows `queries` of each sequence (all
    /// by default; threads split them, each with its own scratch): only the CLS query's row of each head's weights
    /// is written, to clsProbs[(b·H + h)·clsStride + j], when `clsProbs` is given and `queries` holds row 0.
    public static func attention(_ out: UnsafeMutablePointer<Float>, clsProbs: UnsafeMutablePointer<Float>?,
                                 clsStride: Int, _ qkv: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                 batch: Int, tokens t: Int, width d: Int, heads: Int, queries: Range<Int>? = nil,
                                 isa: ISA) {
        let q = queries ?? 0..<t
        ck_attention(isa.rawValue, out, clsProbs, clsStride, qkv, scratch, Int32(batch), Int32(t), Int32(d), Int32(heads),
                     Int32(q.lowerBound), Int32(q.upperBound))
    }

    /// `LayerNorm.forward`, vectorised.
    public static func layerNorm(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                                 _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
                                 mean: UnsafeMutablePointer<Float>? = nil, rstd: UnsafeMutablePointer<Float>? = nil,
                                 rows: Int, channels c: Int, eps: Float, isa: ISA) {
        ck_layernorm(isa.rawValue, out, inp, gamma, beta, mean, rstd, Int32(rows), Int32(c), eps)
    }
}

/// A Linear weight [outF, inF] packed once into `FastPath.linear`'s panels: fp32 ones (the same for every
/// instruction set), bf16 ones (rounded here, once) or int8 ones (quantized here, once, with their scales); bf16
/// and int8 need a CPU whose `FastPath.precisions` holds them.
/// Read-only once made.
// @unchecked Sendable: the buffer is written only in init.
public final class PackedWeight: @unchecked Sendable {
    public let inFeatures, outFeatures: Int
    public let precision: FastPath.Precision
    let data: UnsafeMutableRawPointer

    public init(_ weight: UnsafePointer<Float>, inFeatures: Int, outFeatures: Int,
                precision: FastPath.Precision = .fp32) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.precision = precision
        let (n, k) = (Int32(outFeatures), Int32(inFeatures))
        switch precision {
        case .fp32:
            let count = ck_packed_count(n, k)
            data = .allocate(byteCount: count * MemoryLayout<Float>.size, alignment: 64)
            ck_pack(data.bindMemory(to: Float.self, capacity: count), weight, n, k)
        case .bf16:
            precondition(FastPath.precisions.contains(.bf16), "bf16 weights on a CPU without AVX512_BF16")
            let count = ck_packed_bf16_count(n, k)
            data = .allocate(byteCount: count * MemoryLayout<UInt16>.size, alignment: 64)
            ck_pack_bf16(data.bindMemory(to: UInt16.self, capacity: count), weight, n, k)
        case .int8:
            precondition(FastPath.precisions.contains(.int8), "int8 weights on a CPU without AVX512_VNNI")
            let count = ck_packed_int8_bytes(n, k)
            data = .allocate(byteCount: count, alignment: 64)
            ck_pack_int8(data.bindMemory(to: Int8.self, capacity: count), weight, n, k)
        }
    }

    deinit { data.deallocate() }
}
