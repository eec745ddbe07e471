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
    /// Variance the PCA whitening keeps before the Gaussian (Transformaly's 0.9). Keeping 0.99 scored better on
    /// Fashion-MNIST with 900 training images (benchmarks/quality, `--variance 0.99`), but on a few hundred frames of
    /// one steady scene the extra near-zero-variance directions, once whitened, turn codec noise into false episodes
    /// (the daemon's end-to-end test), so the default stays 0.9.
    public var varianceKept: Double = 0.9
    /// Quantile of held-out normal scores that becomes the threshold (normalised score 0.5).
    public var thresholdQuantile: Double = 0.99

    public init() {}
}
