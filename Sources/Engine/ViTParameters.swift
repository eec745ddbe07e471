import Checkpoint
import Kernels

/// Where each parameter lives inside the single flat allocation (offsets in floats).
public struct ViTLayout: Sendable {
    public struct Block: Sendable {
        public let norm1W, norm1B, qkvW, qkvB, projW, projB, norm2W, norm2B, fc1W, fc1B, fc2W, fc2B: Int
    }
    public let patchW, patchB, cls, pos: Int
    public let blocks: [Block]
    public let normW, normB, headW, headB: Int
    public let count: Int
    /// (timm name, shape, offset) for every tensor, in allocation order.
    public let entries: [(name: String, shape: [Int], offset: Int)]

    public init(_ c: ViTConfig) {
        var entries: [(String, [Int], Int)] = []
        var next = 0
        func take(_ name: String, _ shape: [Int]) -> Int {
            let o = next
            entries.append((name, shape, o))
            next += shape.reduce(1, *)
            return o
        }
        let d = c.width
        patchW = take("patch_embed.proj.weight", [d, c.channels, c.patchSize, c.patchSize])
        patchB = take("patch_embed.proj.bias", [d])
        cls = take("cls_token", [1, 1, d])
        pos = take("pos_embed", [1, c.tokens, d])
        blocks = (0..<c.depth).map { i in
            let p = "blocks.\(i)."
            return Block(norm1W: take(p + "norm1.weight", [d]), norm1B: take(p + "norm1.bias", [d]),
                         qkvW: take(p + "attn.qkv.weight", [3 * d, d]), qkvB: take(p + "attn.qkv.bias", [3 * d]),
                         projW: take(p + "attn.proj.weight", [d, d]), projB: take(p + "attn.proj.bias", [d]),
                         norm2W: take(p + "norm2.weight", [d]), norm2B: take(p + "norm2.bias", [d]),
                         fc1W: take(p + "mlp.fc1.weight", [c.mlpWidth, d]), fc1B: take(p + "mlp.fc1.bias", [c.mlpWidth]),
                         fc2W: take(p + "mlp.fc2.weight", [d, c.mlpWidth]), fc2B: take(p + "mlp.fc2.bias", [d]))
        }
        normW = take("norm.weight", [d])
        normB = take("norm.bias", [d])
        headW = c.numClasses > 0 ? take("head.weight", [c.numClasses, d]) : -1
        headB = c.numClasses > 0 ? take("head.bias", [c.numClasses]) : -1
        count = next
        self.entries = entries
    }
}

/// All parameters of a ViT in one contiguous Float32 allocation (llm.c style), addressed through `ViTLayout`.
/// Written only by whoever made it and still holds the only reference (loading, initialising, training a student,
/// accumulating gradients); once shared (a teacher, a bundle's student) it is read-only.
// @unchecked Sendable: raw pointer storage that is read-only once shared (above); scratch never shares it.
public final class ViTParameters: @unchecked Sendable {
    public let config: ViTConfig
    public let layout: ViTLayout
    public let storage: Tensor

    public init(config: ViTConfig) {
        self.config = config
        self.layout = ViTLayout(config)
        self.storage = Tensor([layout.count])
    }

    @inline(__always) public func ptr(_ offset: Int) -> UnsafeMutablePointer<Float> { storage.data + offset }

    /// Loads a timm-named checkpoint, inferring the architecture from its tensors. `heads` overrides width/64.
    public convenience init(checkpoint file: SafetensorsFile, heads: Int? = nil) throws {
        let config = try ViTConfig(inferringFrom: file, heads: heads)
        self.init(config: config)
        for e in layout.entries {
            try file.copyFloats(e.name, shape: e.shape, into: storage.data + e.offset)
        }
    }
}

extension ViTConfig {
    /// Reads the architecture off the tensors: patch size and channels from `patch_embed.proj.weight`, width from
    /// its first dimension, depth from the `blocks.N` present, tokens from `pos_embed`, heads = width/64 unless given.
    public init(inferringFrom file: SafetensorsFile, heads: Int? = nil) throws {
        let path = file.path
        let pw = try file.shape("patch_embed.proj.weight")
        guard pw.count == 4, pw[2] == pw[3], pw[2] > 0, pw[1] > 0, pw[0] > 0 else {
            throw CheckpointError.unexpectedShape(path: path, tensor: "patch_embed.proj.weight",
                                                  expected: [-1, -1, -1, -1], found: pw)
        }
        let width = pw[0], channels = pw[1], patch = pw[2]
        let pos = try file.shape("pos_embed")
        guard pos.count == 3, pos[0] == 1, pos[2] == width, pos[1] > 1 else {
            throw CheckpointError.unexpectedShape(path: path, tensor: "pos_embed", expected: [1, -1, width], found: pos)
        }
        let grid = Int(Double(pos[1] - 1).squareRoot().rounded())
        guard grid * grid == pos[1] - 1 else {
            throw CheckpointError.invalidArchitecture(
                path: path, detail: "pos_embed has \(pos[1]) tokens; expected 1 class token plus a square grid of patches")
        }
        var indices = Set<Int>()
        for name in file.tensorNames where name.hasPrefix("blocks.") {
            let rest = name.dropFirst("blocks.".count)
            if let dot = rest.firstIndex(of: "."), let n = Int(rest[..<dot]) { indices.insert(n) }
        }
        guard let maxIndex = indices.max() else {
            throw CheckpointError.invalidArchitecture(path: path, detail: "no transformer blocks (blocks.N.*) found")
        }
        if let gap = (0...maxIndex).first(where: { !indices.contains($0) }) {
            throw CheckpointError.missingTensor(path: path, tensor: "blocks.\(gap).*")
        }
        let fc1 = try file.shape("blocks.0.mlp.fc1.weight")
        guard fc1.count == 2, fc1[1] == width, fc1[0] > 0 else {
            throw CheckpointError.unexpectedShape(path: path, tensor: "blocks.0.mlp.fc1.weight",
                                                  expected: [-1, width], found: fc1)
        }
        let h = heads ?? max(1, width / 64)
        guard h >= 1, width % h == 0 else {
            throw CheckpointError.invalidArchitecture(path: path, detail: "width \(width) is not divisible by \(h) heads")
        }
        var classes = 0
        if file.info("head.weight") != nil {
            let hw = try file.shape("head.weight")
            guard hw.count == 2, hw[1] == width else {
                throw CheckpointError.unexpectedShape(path: path, tensor: "head.weight", expected: [-1, width], found: hw)
            }
            classes = hw[0]
        }
        self.init(imageSize: grid * patch, patchSize: patch, channels: channels, width: width, depth: maxIndex + 1,
                  heads: h, mlpWidth: fc1[0], layerNormEps: 1e-6, numClasses: classes)
        guard channels == 3 else {
            throw CheckpointError.invalidArchitecture(path: path, detail: "patch_embed expects \(channels) channels; anomalyd feeds RGB (3)")
        }
    }
}

/// A frozen ViT's Linear weights packed once for `FastPath.linear` (inference only: a student in training changes
/// its weights every step and runs the OpenBLAS kernels), the instruction set FastPath runs on them, and the
/// precision of its GEMMs (bf16 and int8 only with the AVX-512 kernels).
public final class PackedViTWeights: Sendable {
    public struct Block: Sendable {
        public let qkv, proj, fc1, fc2: PackedWeight
    }
    public let patch: PackedWeight
    public let blocks: [Block]
    public let head: PackedWeight?
    public let isa: FastPath.ISA
    public let precision: FastPath.Precision

    public init(_ p: ViTParameters, isa: FastPath.ISA, precision: FastPath.Precision = .fp32) {
        precondition(precision == .fp32 || isa == .avx512, "\(precision) runs in the AVX-512 kernels only")
        self.isa = isa
        self.precision = precision
        let c = p.config, l = p.layout, d = c.width
        func pack(_ offset: Int, _ inF: Int, _ outF: Int) -> PackedWeight {
            PackedWeight(p.ptr(offset), inFeatures: inF, outFeatures: outF, precision: precision)
        }
        patch = pack(l.patchW, c.patchDim, d)
        blocks = l.blocks.map { b in
            Block(qkv: pack(b.qkvW, d, 3 * d), proj: pack(b.projW, d, d), fc1: pack(b.fc1W, d, c.mlpWidth),
                  fc2: pack(b.fc2W, c.mlpWidth, d))
        }
        head = c.numClasses > 0 ? pack(l.headW, d, c.numClasses) : nil
    }
}
