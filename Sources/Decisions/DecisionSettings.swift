/// How per-frame scores become anomaly episodes (CONVENTIONS.md §2), as plain Codable values.
public struct DecisionSettings: Codable, Sendable, Equatable {
    /// Moves the cut on the normalised score at run time: a frame is above the cut when score ≥ 1 − sensitivity.
    public var sensitivity: Double = 0.5
    /// Consecutive frames above the cut that start an episode.
    public var framesToStart: Int = 3
    /// Consecutive frames below the cut that end it (hysteresis).
    public var framesToEnd: Int = 5
    /// Longest episode, in seconds; longer ones end with reason "max_duration" and re-arm.
    public var maxDurationSeconds: Double = 300

    public init() {}
}
