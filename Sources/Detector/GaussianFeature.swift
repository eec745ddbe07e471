import Engine

/// What the pretrained-feature Gaussian models of a frame's teacher pass.
public enum GaussianFeature: String, Codable, Sendable, CaseIterable {
    /// The final-LayerNorm CLS token: Transformaly's z_p.
    case cls
    /// The CLS token followed by the mean of the final-LayerNorm patch tokens: the patches keep local appearance
    /// that the CLS token summarises away (benchmarks/quality/RESULTS.md).
    case clsPatchMean = "cls+patch_mean"
    /// Not a teacher feature: the log of the student's per-channel squared error against the teacher, averaged over
    /// the patches (`StudentScore.profileFeature`), which the `mkd_profile` score models. Never the `gaussian_feature`
    /// setting.
    case studentErrorProfile = "student_error_profile"

    /// The settings' choices for the pretrained-feature Gaussian.
    public static let teacherFeatures: [GaussianFeature] = [.cls, .clsPatchMean]

    public func width(teacherWidth d: Int) -> Int { self == .clsPatchMean ? 2 * d : d }

    /// Appends frame `b`'s feature to `out`.
    public func append(_ output: ViTOutput, frame b: Int, to out: inout [Float]) {
        precondition(self != .studentErrorProfile, "the error profile comes from the student, not the teacher pass")
        out += output.cls(b)
        guard self == .clsPatchMean else { return }
        let d = output.width, t = output.tokens
        var mean = [Float](repeating: 0, count: d)
        output.finalTokens.withUnsafeBufferPointer { tokens in
            for i in 1..<t {
                let row = (b * t + i) * d
                for c in 0..<d { mean[c] += tokens[row + c] }
            }
        }
        let scale = 1 / Float(t - 1)
        out += mean.map { $0 * scale }
    }
}

/// How the Gaussian's covariance is estimated from the normal frames' features.
public enum GaussianCovariance: String, Codable, Sendable, CaseIterable {
    /// Transformaly: PCA keeping a share of the variance, whitening, then a full-covariance Gaussian on the kept
    /// components (ALGORITHM.md 4.5).
    case pca
    /// Every direction, with the covariance shrunk towards the scaled identity by the Ledoit-Wolf estimate of the
    /// optimal amount: the shrinkage grows as the frames get few for the feature width, so a small steady scene
    /// does not whiten codec noise into alarms the way a hard PCA cut at a high share does.
    case ledoitWolf = "ledoit_wolf"
}
