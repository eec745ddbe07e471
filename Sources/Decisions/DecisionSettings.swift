/// How per-frame scores become anomaly episodes (CONVENTIONS.md §2): a pipeline's `decision:` section. Absent keys
/// keep the defaults below; `firstInvalid` holds the ranges, which the configuration loader and the stage enforce.
public struct DecisionSettings: Codable, Sendable, Equatable {
    /// Moves the cut on the normalised score at run time: a frame is above the cut when score ≥ 1 − sensitivity.
    public var sensitivity: Double = 0.5
    /// Evidence that starts an episode: above frames, less `DecisionStage.belowWeight` per below frame since the
    /// evidence last rose from 0. 5 is half a second at the default 10 frames/s: blips shorter never open one.
    public var framesToStart: Int = 5
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

    /// False episodes an hour the user accepts on normal video (`BudgetCut` turns it into the cut).
    public var falseAlarmsPerHour: Double = 1
    /// Seconds of detection under a new model during which its calibration keeps learning the live scene's normal
    /// scores (the pipeline's live calibration).
    public var burnInSeconds: Double = 600
    /// A change of the scene's light by at least this fraction (brighter or darker over most of the picture, as
    /// Frigate's `lightning_threshold` tells it from motion) opens no episode while it lasts and for
    /// `lightChangeHoldSeconds` after, while the live calibration catches up with the new light; 0 turns it off.
    public var lightChange: Double = 0.1
    public var lightChangeHoldSeconds: Double = 5

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case sensitivity, framesToStart = "frames_to_start", framesToEnd = "frames_to_end", medianWindow = "median_window"
        case maxDurationSeconds = "max_duration_s", updateIntervalSeconds = "update_interval_s"
        case updateMinScoreIncrease = "update_min_score_increase", updateMinCellShift = "update_min_cell_shift"
        case regionFraction = "region_fraction"
        case falseAlarmsPerHour = "false_alarms_per_hour", burnInSeconds = "burn_in_s"
        case lightChange = "light_change", lightChangeHoldSeconds = "light_change_hold_s"
    }

    /// The keys a configuration file may set; the others are tuned in code.
    public static let configKeys: [CodingKeys] = [.sensitivity, .framesToStart, .framesToEnd, .maxDurationSeconds,
                                                  .updateIntervalSeconds, .falseAlarmsPerHour, .burnInSeconds,
                                                  .lightChange, .lightChangeHoldSeconds]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sensitivity = try c.decodeIfPresent(Double.self, forKey: .sensitivity) ?? sensitivity
        framesToStart = try c.decodeIfPresent(Int.self, forKey: .framesToStart) ?? framesToStart
        framesToEnd = try c.decodeIfPresent(Int.self, forKey: .framesToEnd) ?? framesToEnd
        medianWindow = try c.decodeIfPresent(Int.self, forKey: .medianWindow) ?? medianWindow
        maxDurationSeconds = try c.decodeIfPresent(Double.self, forKey: .maxDurationSeconds) ?? maxDurationSeconds
        updateIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .updateIntervalSeconds) ?? updateIntervalSeconds
        updateMinScoreIncrease = try c.decodeIfPresent(Double.self, forKey: .updateMinScoreIncrease) ?? updateMinScoreIncrease
        updateMinCellShift = try c.decodeIfPresent(Int.self, forKey: .updateMinCellShift) ?? updateMinCellShift
        regionFraction = try c.decodeIfPresent(Double.self, forKey: .regionFraction) ?? regionFraction
        falseAlarmsPerHour = try c.decodeIfPresent(Double.self, forKey: .falseAlarmsPerHour) ?? falseAlarmsPerHour
        burnInSeconds = try c.decodeIfPresent(Double.self, forKey: .burnInSeconds) ?? burnInSeconds
        lightChange = try c.decodeIfPresent(Double.self, forKey: .lightChange) ?? lightChange
        lightChangeHoldSeconds = try c.decodeIfPresent(Double.self, forKey: .lightChangeHoldSeconds) ?? lightChangeHoldSeconds
    }

    /// The first setting the state machine cannot work with, and what it must be; nil when all are usable. NaN
    /// fails every comparison, so it is out of every range.
    public var firstInvalid: (key: CodingKeys, problem: String)? {
        func expect(_ ok: Bool, _ key: CodingKeys, _ range: String, _ value: Any) -> (key: CodingKeys, problem: String)? {
            ok ? nil : (key, "expected \(range), got \(value)")
        }
        let checks: [(key: CodingKeys, problem: String)?] = [
            expect((0...1).contains(sensitivity), .sensitivity, "a value in [0, 1]", sensitivity),
            expect((1...10_000).contains(framesToStart), .framesToStart, "1...10000 frames", framesToStart),
            expect((1...10_000).contains(framesToEnd), .framesToEnd, "1...10000 frames", framesToEnd),
            expect((1...99).contains(medianWindow) && medianWindow % 2 == 1, .medianWindow,
                   "an odd number of frames in 1...99 (1 = off)", medianWindow),
            expect(maxDurationSeconds > 0 && maxDurationSeconds <= 86_400, .maxDurationSeconds,
                   "a duration in (0, 86400] seconds", maxDurationSeconds),
            expect((0...3600).contains(updateIntervalSeconds), .updateIntervalSeconds, "a duration in [0, 3600] seconds",
                   updateIntervalSeconds),
            expect((0...1).contains(updateMinScoreIncrease), .updateMinScoreIncrease, "a score in [0, 1]",
                   updateMinScoreIncrease),
            expect((1...1000).contains(updateMinCellShift), .updateMinCellShift, "1...1000 cells", updateMinCellShift),
            expect(regionFraction > 0 && regionFraction <= 1, .regionFraction, "a fraction in (0, 1]", regionFraction),
            expect(falseAlarmsPerHour >= 0.001 && falseAlarmsPerHour <= 3600, .falseAlarmsPerHour,
                   "false episodes an hour in [0.001, 3600]", falseAlarmsPerHour),
            expect((0...86_400).contains(burnInSeconds), .burnInSeconds, "a duration in [0, 86400] seconds", burnInSeconds),
            expect(lightChange >= 0 && lightChange < 1, .lightChange, "a fraction in [0, 1) (0 = off)", lightChange),
            expect((0...600).contains(lightChangeHoldSeconds), .lightChangeHoldSeconds, "a duration in [0, 600] seconds",
                   lightChangeHoldSeconds),
        ]
        return checks.lazy.compactMap { $0 }.first
    }

    /// For settings built in code; the error names the key, as the configuration file writes it.
    public func validate() throws {
        if let (key, problem) = firstInvalid { throw DecisionError.invalidSetting(field: key.stringValue, reason: problem) }
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
