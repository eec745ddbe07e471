import Publisher

/// The promotion rule for a refit's candidate, on scores already computed:
/// - on held-out buffered normal frames, the candidate's false-alarm rate (normalised score at or above the cut,
///   each model at its own threshold) may exceed the live model's by at most `falseAlarmMargin`;
/// - every stored anomaly-evidence frame must still score at or above the cut under the candidate (a buffer
///   poisoned with novel objects teaches the candidate to accept them, and this catches it).
public struct RefitValidation: Sendable, Equatable {
    public let figures: ValidationFigures
    /// Nil when the candidate may be promoted; otherwise why not, in words for the log and the model message.
    public let rejection: String?

    public var accepted: Bool { rejection == nil }

    public init(liveHoldout: [Double], candidateHoldout: [Double], candidateEvidence: [Double], cut: Double,
                falseAlarmMargin: Double) {
        precondition(liveHoldout.count == candidateHoldout.count, "both models score the same held-out frames")
        func rate(_ s: [Double]) -> Double { s.isEmpty ? 0 : Double(s.filter { $0 >= cut }.count) / Double(s.count) }
        let live = rate(liveHoldout), candidate = rate(candidateHoldout)
        let detected = candidateEvidence.filter { $0 >= cut }.count
        figures = ValidationFigures(holdoutFrames: liveHoldout.count, liveFalseAlarmRate: live,
                                    candidateFalseAlarmRate: candidate, falseAlarmMargin: falseAlarmMargin,
                                    evidenceFrames: candidateEvidence.count, evidenceDetected: detected)
        if liveHoldout.isEmpty {
            rejection = "no held-out frames to validate on"
        } else if candidate > live + falseAlarmMargin {
            rejection = String(format: "false-alarm rate on %d held-out normal frames %.3f exceeds the live model's %.3f by more than %.3f",
                               liveHoldout.count, candidate, live, falseAlarmMargin)
        } else if detected < candidateEvidence.count {
            rejection = "the candidate scores \(candidateEvidence.count - detected) of \(candidateEvidence.count) stored anomaly-evidence frames below the threshold"
        } else {
            rejection = nil
        }
    }
}
