import Config
import Foundation

/// The `refit:` section with its defaults applied: learning while running (off unless `enabled: true`).
public struct RefitSettings: Sendable, Equatable {
    public var enabled = false
    /// A refit is due when the live model is this old (and enough frames are buffered) ...
    public var everyHours = 24.0
    /// ... or when this many frames entered the buffer since the live model was made.
    public var everyNewFrames: Int?
    /// Too few frames are not worth a refit (validation and calibration each hold some out).
    public var minFrames = 200
    /// A frame enters the buffer only when its normalised score is below the cut (0.5 at default sensitivity)
    /// by this much: frames near the threshold may be the start of an anomaly.
    public var normalMargin = 0.2
    /// At most one frame per interval enters the buffer: consecutive frames are near-duplicates, and disk writes
    /// stay modest.
    public var sampleIntervalS = 1.0
    public var maxFrames = 2000
    public var maxBytes = 512 * 1024 * 1024
    /// Student epochs of a refit; nil: the detector's `epochs`.
    public var epochs: Int?
    /// Share of the buffer held out (spread evenly over its time span) to compare live model and candidate.
    public var validationHoldout = 0.2
    /// The candidate may raise the held-out false-alarm rate by at most this much over the live model's.
    public var falseAlarmMargin = 0.05
    /// Frames of published episodes scoring at least this are kept as anomaly evidence the candidate must detect.
    public var evidenceMinScore = 0.8
    public var evidenceMaxFrames = 100

    public init() {}
}

extension PipelineConfig {
    public var refitSettings: RefitSettings {
        var s = RefitSettings()
        guard let r = refit else { return s }
        s.enabled = r.enabled ?? s.enabled
        s.everyHours = r.everyHours ?? s.everyHours
        s.everyNewFrames = r.everyNewFrames ?? s.everyNewFrames
        s.minFrames = r.minFrames ?? s.minFrames
        s.normalMargin = r.normalMargin ?? s.normalMargin
        s.sampleIntervalS = r.sampleIntervalS ?? s.sampleIntervalS
        s.maxFrames = r.maxFrames ?? s.maxFrames
        s.maxBytes = r.maxBytes ?? s.maxBytes
        s.epochs = r.epochs ?? s.epochs
        s.validationHoldout = r.validationHoldout ?? s.validationHoldout
        s.falseAlarmMargin = r.falseAlarmMargin ?? s.falseAlarmMargin
        s.evidenceMinScore = r.evidenceMinScore ?? s.evidenceMinScore
        s.evidenceMaxFrames = r.evidenceMaxFrames ?? s.evidenceMaxFrames
        return s
    }

    /// Where the normal-frame buffer and the anomaly evidence live.
    public var normalBufferPath: String { stateDir + "/normal" }
    public var evidencePath: String { stateDir + "/evidence" }
}
