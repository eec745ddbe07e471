import Publisher

/// The promotion rule for a refit's candidate, on scores already computed:
/// - on held-out buffered normal frames, the candidate's false-alarm rate (normalised score at or above the cut,
///   each model at its own threshold) may exceed the reference by at most `falseAlarmMargin`. The reference is the
///   live model's rate there, but never less than the candidate's expected rate: the buffer holds only frames the
///   live model scored clearly normal, so its rate on them is biased towards zero, while a threshold set at the
///   quantile q of n held-out scores is exceeded by a new normal frame with probability about max(1 - q, 1/(n+1));
/// - every stored anomaly-evidence frame must still score at or above the cut under the candidate (a buffer
///   poisoned with novel objects teaches the candidate to accept them, and this catches it).
public struct RefitValidation: Sendable, Equatable {
    public let figures: ValidationFigures
    /// Nil when the candidate may be promoted; otherwise why not, in words for the log and the model message.
    public let rejection: String?

    public var accepted: Bool { rejection == nil }

    public init(liveHoldout: [Double], candidateHoldout: [Double], candidateEvidence: [Double], cut: Double,
                falseAlarmMargin: Double, expectedFalseAlarmRate: Double) {
        precondition(liveHoldout.count == candidateHoldout.count, "both models score the same held-out frames")
        func rate(_ s: [Double]) -> Double { s.isEmpty ? 0 : Double(s.filter { $0 >= cut }.count) / Double(s.count) }
        let live = rate(liveHoldout), candidate = rate(candidateHoldout)
        let reference = max(live, expectedFalseAlarmRate)
        let detected = candidateEvidence.filter { $0 >= cut }.count
        figures = ValidationFigures(holdoutFrames: liveHoldout.count, liveFalseAlarmRate: live,
                                    candidateFalseAlarmRate: candidate, expectedFalseAlarmRate: expectedFalseAlarmRate,
                                    falseAlarmMargin: falseAlarmMargin,
                                    evidenceFrames: candidateEvidence.count, evidenceDetected: detected)
        if liveHoldout.isEmpty {
            rejection = "no held-out frames to validate on"
        } else if candidate > reference + falseAlarmMargin {
            rejection = String(format: "false-alarm rate on %d held-out normal frames %.3f exceeds the reference %.3f (live model %.3f, expected %.3f) by more than %.3f",
                               liveHoldout.count, candidate, reference, live, expectedFalseAlarmRate, falseAlarmMargin)
        } else if detected < candidateEvidence.count {
            rejection = "the candidate scores \(candidateEvidence.count - detected) of \(candidateEvidence.count) stored anomaly-evidence frames below the threshold"
        } else {
            rejection = nil
        }
    }
}
