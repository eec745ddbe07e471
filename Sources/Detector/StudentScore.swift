/// How the student's errors against the teacher become its score in the fusion.
public enum StudentScore: String, Codable, Sendable, CaseIterable {
    /// RN §2.7: the mean squared error over patches and channels (the `mkd` score).
    case mean
    /// The squared Mahalanobis distance of the frame's per-channel error profile under a Ledoit-Wolf Gaussian of
    /// the training frames' profiles (the `mkd_profile` score): which channels the student gets wrong, not only how
    /// much. Its mean over the channels is the `mkd` score. One-class Fashion-MNIST: 94.2 mean AUROC against 92.3 for
    /// the mean, and it adds to the pretrained-feature Gaussian where the mean does not (benchmarks/quality).
    case channelProfile = "channel_profile"

    /// The calibrated component that carries the student's score.
    public var component: ScoreComponent { self == .mean ? .mkd : .mkdProfile }
}
