import Checkpoint
import Engine
import Foundation
import Kernels

/// The MKD student (ALGORITHM.md §2.2): a ViT with the teacher's width, heads, MLP ratio, patch and image size, a
/// configurable depth, no classifier head, randomly initialised, with a FIXED 2-D sin-cos position embedding.
/// Its parameters share `ViTLayout` with the engine, so a saved student is a timm-named checkpoint that
/// `ViTParameters(checkpoint:)` loads and `ViT.forward` runs.
public final class Student: Sendable {
    public let parameters: ViTParameters
    public var config: ViTConfig { parameters.config }

    /// The teacher's architecture at `depth` blocks (nil: the teacher's depth), without a head.
    public static func config(teacher t: ViTConfig, depth: Int? = nil) -> ViTConfig {
        ViTConfig(imageSize: t.imageSize, patchSize: t.patchSize, channels: t.channels, width: t.width,
                  depth: depth ?? t.depth, heads: t.heads, mlpWidth: t.mlpWidth, layerNormEps: t.layerNormEps,
                  numClasses: 0)
    }

    /// Wraps parameters already set (a loaded student).
    public init(parameters: ViTParameters) {
        precondition(parameters.config.numClasses == 0, "a student has no classifier head")
        self.parameters = parameters
    }

    /// A freshly initialised student (MAE `initialize_weights`), reproducible from `seed`:
    /// Linear weights and the patch conv viewed [D, C·P·P] xavier_uniform; Linear biases 0; the conv bias PyTorch's
    /// default uniform(±1/√fan_in); LayerNorm γ=1, β=0; cls_token ~ N(0, 0.02); pos_embed the sin-cos table.
    public convenience init(config c: ViTConfig, seed: UInt64) {
        precondition(c.numClasses == 0, "a student has no classifier head")
        let p = ViTParameters(config: c)
        var rng = SeededRandom(seed: seed)
        for e in p.layout.entries {
            let dst = p.ptr(e.offset)
            let n = e.shape.reduce(1, *)
            let name = e.name
            if name == "pos_embed" {
                let table = Student.sinCosPositionEmbedding(grid: c.grid, width: c.width)
                table.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: n) }
            } else if name == "cls_token" {
                for i in 0..<n { dst[i] = Float(0.02 * rng.normal()) }
            } else if name == "patch_embed.proj.bias" {
                let bound = 1 / Double(c.patchDim).squareRoot()
                for i in 0..<n { dst[i] = Float(rng.uniform(bound: bound)) }
            } else if name.hasSuffix(".weight") && e.shape.count >= 2 {
                // fan_out = first dimension, fan_in = the product of the rest (the conv's [D, C·P·P] view).
                let fanOut = e.shape[0], fanIn = n / fanOut
                let bound = (6 / Double(fanIn + fanOut)).squareRoot()
                for i in 0..<n { dst[i] = Float(rng.uniform(bound: bound)) }
            } else if name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name == "norm.weight" {
                dst.update(repeating: 1, count: n)
            } else {
                dst.update(repeating: 0, count: n)   // Linear and LayerNorm biases
            }
        }
        self.init(parameters: p)
    }

    /// MAE's `get_2d_sincos_pos_embed` with a class token, [1 + G², D] row-major: the CLS row is zero; the patch at
    /// grid row i, column j gets [sin(j·ω), cos(j·ω), sin(i·ω), cos(i·ω)], ω_k = 10000^(−k/(D/4)), k < D/4.
    public static func sinCosPositionEmbedding(grid g: Int, width d: Int) -> [Float] {
        precondition(d % 4 == 0, "the 2-D sin-cos embedding needs a width divisible by 4")
        let q = d / 4
        var table = [Float](repeating: 0, count: (1 + g * g) * d)
        for i in 0..<g {
            for j in 0..<g {
                let row = (1 + i * g + j) * d
                for k in 0..<q {
                    let omega = 1 / pow(10000, Double(k) / Double(q))
                    table[row + k] = Float(sin(Double(j) * omega))
                    table[row + q + k] = Float(cos(Double(j) * omega))
                    table[row + 2 * q + k] = Float(sin(Double(i) * omega))
                    table[row + 3 * q + k] = Float(cos(Double(i) * omega))
                }
            }
        }
        return table
    }

    /// AdamW groups over the layout (timm `param_groups_weight_decay` by shape): tensors with ≥2 dimensions decay,
    /// 1-D ones (biases, LayerNorm) do not, and the fixed position embedding is left out, so it never changes.
    public var optimizerGroups: [AdamW.Group] {
        var groups: [AdamW.Group] = []
        for e in parameters.layout.entries where e.name != "pos_embed" {
            let range = e.offset..<(e.offset + e.shape.reduce(1, *))
            let decay = e.shape.count >= 2
            // Neighbouring tensors of the same kind merge into one range.
            if let last = groups.last, last.decay == decay, last.range.upperBound == range.lowerBound {
                groups[groups.count - 1].range = last.range.lowerBound..<range.upperBound
            } else {
                groups.append(.init(range: range, decay: decay))
            }
        }
        return groups
    }

    /// Every parameter under its timm name, in layout order (what `save` writes; for bundling elsewhere).
    public var namedTensors: [(name: String, shape: [Int], values: [Float])] {
        let p = parameters
        return p.layout.entries.map { e in
            (name: e.name, shape: e.shape,
             values: Array(UnsafeBufferPointer(start: p.ptr(e.offset), count: e.shape.reduce(1, *))))
        }
    }

    /// Writes the student as a timm-named F32 safetensors file (atomically). The head count goes in the metadata
    /// because the engine's loader would otherwise assume width/64.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        var meta = metadata
        meta["heads"] = String(config.heads)
        try SafetensorsWriter.write(namedTensors, metadata: meta, to: path)
    }

    /// Loads a student written by `save`.
    public convenience init(checkpoint path: String) throws {
        let file = try SafetensorsFile(path: path)
        self.init(parameters: try ViTParameters(checkpoint: file, heads: file.metadata["heads"].flatMap { Int($0) }))
    }
}
