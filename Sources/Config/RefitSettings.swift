/// The `refit:` section: learning while running (off unless `enabled: true`). Frames judged clearly normal fill a
/// bounded buffer on disk, and a background refit warm-started from the live student replaces the model when the
/// candidate passes validation.
public struct RefitSettings: Decodable, Sendable, Equatable {
    /// A 224x224 RGB frame, as the buffer stores it.
    static let frameBytes = 224 * 224 * 3

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
    /// Buffer caps. A refit reads the buffer into memory: 10000 frames are 1.5 GB.
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, everyHours = "every_hours", everyNewFrames = "every_new_frames", minFrames = "min_frames"
        case normalMargin = "normal_margin", sampleIntervalS = "sample_interval_s", maxFrames = "max_frames"
        case maxBytes = "max_bytes", epochs, validationHoldout = "validation_holdout"
        case falseAlarmMargin = "false_alarm_margin", evidenceMinScore = "evidence_min_score"
        case evidenceMaxFrames = "evidence_max_frames"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        everyHours = try c.decodeIfPresent(Double.self, forKey: .everyHours) ?? everyHours
        everyNewFrames = try c.decodeIfPresent(Int.self, forKey: .everyNewFrames)
        minFrames = try c.decodeIfPresent(Int.self, forKey: .minFrames) ?? minFrames
        normalMargin = try c.decodeIfPresent(Double.self, forKey: .normalMargin) ?? normalMargin
        sampleIntervalS = try c.decodeIfPresent(Double.self, forKey: .sampleIntervalS) ?? sampleIntervalS
        maxFrames = try c.decodeIfPresent(Int.self, forKey: .maxFrames) ?? maxFrames
        maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxBytes) ?? maxBytes
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs)
        validationHoldout = try c.decodeIfPresent(Double.self, forKey: .validationHoldout) ?? validationHoldout
        falseAlarmMargin = try c.decodeIfPresent(Double.self, forKey: .falseAlarmMargin) ?? falseAlarmMargin
        evidenceMinScore = try c.decodeIfPresent(Double.self, forKey: .evidenceMinScore) ?? evidenceMinScore
        evidenceMaxFrames = try c.decodeIfPresent(Int.self, forKey: .evidenceMaxFrames) ?? evidenceMaxFrames
    }

    var invalidKey: (key: String, problem: String)? {
        let frames = 20...LearningSettings.maximumFrames, bytes = (20 * Self.frameBytes)...(1 << 40)
        let checks: [(key: String, problem: String)?] = [
            expect(everyHours > 0 && everyHours <= 8760, CodingKeys.everyHours, "a period in (0, 8760] hours", everyHours),
            everyNewFrames.flatMap {
                expect((1...1_000_000).contains($0), CodingKeys.everyNewFrames, "1...1000000 frames", $0)
            },
            expect(frames.contains(minFrames), CodingKeys.minFrames,
                   "\(frames) frames (validation and calibration hold some out)", minFrames),
            expect(normalMargin >= 0 && normalMargin < 0.5, CodingKeys.normalMargin,
                   "a margin in [0, 0.5) below the threshold score 0.5", normalMargin),
            expect(sampleIntervalS >= 0 && sampleIntervalS <= 86_400, CodingKeys.sampleIntervalS,
                   "an interval in [0, 86400] seconds", sampleIntervalS),
            expect(frames.contains(maxFrames), CodingKeys.maxFrames, "\(frames) frames (a refit holds them in memory)", maxFrames),
            expect(bytes.contains(maxBytes), CodingKeys.maxBytes,
                   "\(bytes.lowerBound) (20 frames of 224x224 RGB) to \(bytes.upperBound) (1 TiB) bytes", maxBytes),
            epochs.flatMap { expect((1...1000).contains($0), CodingKeys.epochs, "1...1000", $0) },
            expect(validationHoldout > 0 && validationHoldout < 0.5, CodingKeys.validationHoldout, "a share in (0, 0.5)",
                   validationHoldout),
            expect((0...1).contains(falseAlarmMargin), CodingKeys.falseAlarmMargin, "a rate in [0, 1]", falseAlarmMargin),
            expect(evidenceMinScore > 0.5 && evidenceMinScore <= 1, CodingKeys.evidenceMinScore, "a score in (0.5, 1]",
                   evidenceMinScore),
            expect((0...10_000).contains(evidenceMaxFrames), CodingKeys.evidenceMaxFrames, "0...10000 frames", evidenceMaxFrames),
            expect(minFrames <= maxFrames, CodingKeys.minFrames, "at most max_frames (\(maxFrames))", minFrames),
        ]
        return checks.lazy.compactMap { $0 }.first
    }
}

extension RefitSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}
