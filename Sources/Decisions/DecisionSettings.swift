/// How per-frame scores become anomaly episodes (CONVENTIONS.md §2), as plain Codable values.
public struct DecisionSettings: Codable, Sendable, Equatable {
    /// Moves the cut on the normalised score at run time: a frame is above the cut when score ≥ 1 − sensitivity.
    public var sensitivity: Double = 0.5
    /// Consecutive frames above the cut that start an episode.
    public var framesToStart: Int = 3
    /// Consecutive frames below the cut that end it (hysteresis).
    public var framesToEnd: Int = 5
    /// Rolling median over this many frames (odd) applied to the score before the cut; 1 turns it off.
    /// The median removes single-frame spikes and dips before the consecutive-frame counts see them.
    public var medianWindow: Int = 1
    /// Longest episode, in seconds of capture time; longer ones end with reason "max_duration" and re-arm.
    public var maxDurationSeconds: Double = 300
    /// At most one `update` per episode in this many seconds of capture time.
    public var updateIntervalSeconds: Double = 1
    /// An `update` needs the episode's peak score to have risen by at least this much since the last message...
    public var updateMinScoreIncrease: Double = 0.05
    /// ...or the current frame's peak cell to have moved at least this many cells (Chebyshev distance).
    public var updateMinCellShift: Int = 2
    /// Cells connected to the peak cell whose error is at least this fraction of the peak's join its bounding
    /// box; 1 keeps only the peak cell.
    public var regionFraction: Double = 0.5

    public init() {}

    /// Rejects values the state machine cannot work with, naming the field.
    public func validate() throws {
        func check(_ ok: Bool, _ field: String, _ reason: String) throws {
            if !ok { throw DecisionError.invalidSetting(field: field, reason: reason) }
        }
        try check((0...1).contains(sensitivity), "sensitivity", "must be in [0, 1], got \(sensitivity)")
        try check(framesToStart >= 1, "framesToStart", "must be at least 1, got \(framesToStart)")
        try check(framesToEnd >= 1, "framesToEnd", "must be at least 1, got \(framesToEnd)")
        try check(medianWindow >= 1 && medianWindow % 2 == 1, "medianWindow",
                  "must be an odd number ≥ 1 (1 = off), got \(medianWindow)")
        try check(maxDurationSeconds > 0, "maxDurationSeconds", "must be positive, got \(maxDurationSeconds)")
        try check(updateIntervalSeconds >= 0, "updateIntervalSeconds", "must not be negative, got \(updateIntervalSeconds)")
        try check(updateMinScoreIncrease >= 0, "updateMinScoreIncrease", "must not be negative, got \(updateMinScoreIncrease)")
        try check(updateMinCellShift >= 1, "updateMinCellShift", "must be at least 1, got \(updateMinCellShift)")
        try check(regionFraction > 0 && regionFraction <= 1, "regionFraction", "must be in (0, 1], got \(regionFraction)")
    }
}

public enum DecisionError: Error, Equatable, CustomStringConvertible {
    case invalidSetting(field: String, reason: String)

    public var description: String {
        switch self {
        case .invalidSetting(let field, let reason): return "invalid decision setting \(field): \(reason)"
        }
    }
}
