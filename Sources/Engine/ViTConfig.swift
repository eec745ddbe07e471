/// The shape of a Vision Transformer, inferred from a checkpoint's tensors.
public struct ViTConfig: Sendable, Equatable, CustomStringConvertible {
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int
    public var width: Int
    public var depth: Int
    public var heads: Int
    public var mlpWidth: Int
    public var layerNormEps: Float
    public var numClasses: Int   // 0 when the checkpoint has no classifier head

    public init(imageSize: Int = 224, patchSize: Int = 16, channels: Int = 3, width: Int, depth: Int,
                heads: Int, mlpWidth: Int, layerNormEps: Float = 1e-6, numClasses: Int = 0) {
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.channels = channels
        self.width = width
        self.depth = depth
        self.heads = heads
        self.mlpWidth = mlpWidth
        self.layerNormEps = layerNormEps
        self.numClasses = numClasses
    }

    public var grid: Int { imageSize / patchSize }
    public var patches: Int { grid * grid }
    public var tokens: Int { patches + 1 }
    public var headDim: Int { width / heads }
    public var patchDim: Int { channels * patchSize * patchSize }

    public var description: String {
        "ViT(image \(imageSize), patch \(patchSize), width \(width), depth \(depth), heads \(heads), "
            + "mlp \(mlpWidth), tokens \(tokens), classes \(numClasses), eps \(layerNormEps))"
    }
}
