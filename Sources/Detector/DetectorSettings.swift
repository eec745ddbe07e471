/// Hyper-parameters of the detector (ALGORITHM.md "Decisions for anomalyd"), as plain Codable values.
public struct DetectorSettings: Codable, Sendable, Equatable {
    /// Student depth in blocks; nil means the teacher's depth.
    public var studentDepth: Int?
    /// Fraction of patches the guided mask drops during training (RN: 0.5).
    public var maskRatio: Double = 0.5
    public var epochs: Int = 10
    public var batchSize: Int = 8
    public var learningRate: Float = 1e-4
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var weightDecay: Float = 0.05
    public var seed: UInt64 = 0
    /// Share of normal frames held out for calibration.
    public var holdout: Double = 0.1
    /// What the Gaussian models, and how its covariance is estimated: Transformaly's CLS token with PCA by default.
    /// CLS + mean patch token with Ledoit-Wolf shrinkage scored higher on Fashion-MNIST (94.8 against 93.9 mean
    /// AUROC, benchmarks/quality/RESULTS.md) but opened false episodes on the 54 training frames of the daemon's
    /// end-to-end belt scene, so it is a setting, not the default.
    public var gaussianFeature: GaussianFeature = .cls
    public var gaussianCovariance: GaussianCovariance = .pca
    /// Variance the PCA keeps when `gaussianCovariance` is `.pca` (Transformaly's 0.9).
    public var varianceKept: Double = 0.9
    /// How the student's errors are scored: RN's mean, or a Gaussian of their per-channel profile.
    public var studentScore: StudentScore = .mean
    /// Quantile of held-out normal scores that becomes the threshold (normalised score 0.5).
    public var thresholdQuantile: Double = 0.99

    public init() {}

    enum CodingKeys: String, CodingKey {
        case studentDepth, maskRatio, epochs, batchSize, learningRate, beta1, beta2, weightDecay, seed, holdout
        case gaussianFeature, gaussianCovariance, varianceKept, thresholdQuantile, studentScore
    }

    /// Every key may be absent (a bundle written by an older version): absent keys keep their defaults; for the
    /// Gaussian's that is also what older versions always did (CLS, PCA), whatever the defaults become.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        studentDepth = try c.decodeIfPresent(Int.self, forKey: .studentDepth)
        maskRatio = try c.decodeIfPresent(Double.self, forKey: .maskRatio) ?? maskRatio
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? epochs
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? batchSize
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? learningRate
        beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? beta1
        beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? beta2
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? weightDecay
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        holdout = try c.decodeIfPresent(Double.self, forKey: .holdout) ?? holdout
        gaussianFeature = try c.decodeIfPresent(GaussianFeature.self, forKey: .gaussianFeature) ?? .cls
        gaussianCovariance = try c.decodeIfPresent(GaussianCovariance.self, forKey: .gaussianCovariance) ?? .pca
        varianceKept = try c.decodeIfPresent(Double.self, forKey: .varianceKept) ?? varianceKept
        thresholdQuantile = try c.decodeIfPresent(Double.self, forKey: .thresholdQuantile) ?? thresholdQuantile
        studentScore = try c.decodeIfPresent(StudentScore.self, forKey: .studentScore) ?? .mean
    }
}
