import Foundation

/// How the student's errors against the teacher become its score in the fusion.
public enum StudentScore: String, Codable, Sendable, CaseIterable {
    /// RN §2.7: the mean squared error over patches and channels (the `mkd` score).
    case mean
    /// The squared Mahalanobis distance of the log of the frame's per-channel error profile under a Ledoit-Wolf
    /// Gaussian of the training frames' log profiles (the `mkd_profile` score): which channels the student gets
    /// wrong, not only how much. The profile's mean over the channels is the `mkd` score. See benchmarks/quality.
    case channelProfile = "channel_profile"

    /// The calibrated component that carries the student's score.
    public var component: ScoreComponent { self == .mean ? .mkd : .mkdProfile }

    /// The profile Gaussian's feature: the log of each channel's mean squared error (errors are positive and
    /// spread over orders of magnitude; their logs are closer to normal). The floor keeps a perfect match finite.
    public static func profileFeature(_ profiles: [Float]) -> [Float] { profiles.map { log(max($0, 1e-12)) } }
}
