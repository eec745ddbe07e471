import Foundation
import Statistics

/// The false-alarm budget turned into the cut, and a frame's surprise into the normalised score that
/// `DecisionStage` cuts at 1 − sensitivity (0.5 by default).
///
/// A frame's surprise is s = −log10 p, p its calibrated tail probability under normal frames (`Calibration`).
/// - Budget to cut: every episode takes at least `framesToStart` above frames of its own (`DecisionStage`), so with
///   a per-frame probability q of being above the cut there are at most 3600·fps·q / framesToStart false episodes
///   an hour, whatever the frames' dependence. q = budget · framesToStart / (3600 · fps); the cut is the surprise
///   exceeded with probability q.
/// - Where that surprise lies: under a perfect calibration, at −log10 q; the live scene decides. During the burn-in
///   (the first `burn_in_s` of detection) every frame outside an episode and the run of evidence that opened it
///   feeds a streaming peaks-over-threshold tail (SPOT), and the cut follows it; after it the cut stays. The normalised score is 0.5·s/cut, clamped to [0, 1].
public struct BudgetCut: Sendable {
    public let falseAlarmsPerHour: Double
    public let framesPerSecond: Double
    /// q: the per-frame probability of being above the cut.
    public let frameProbability: Double
    public let burnInFrames: Int
    /// The surprise at the cut: normalised 0.5.
    public private(set) var level: Double
    public private(set) var observed = 0
    private var tail = StreamingTail.ideal()
    /// Frames of a run of evidence still undecided: a blip's are normal and join the tail when it falls back,
    /// an episode's are not and are dropped (a novel object's first frames must not raise the cut).
    private var pending: [Double] = []

    /// Where the decision stage is with a frame.
    public enum Phase: Sendable {
        /// No evidence and no episode.
        case quiet
        /// Evidence building, no episode yet.
        case building
        /// Inside an episode (including the frame that opened or ended it).
        case episode
    }

    public static func frameProbability(falseAlarmsPerHour: Double, framesPerSecond: Double, framesToStart: Int) -> Double {
        min(0.5, falseAlarmsPerHour * Double(framesToStart) / (3600 * framesPerSecond))
    }

    public init(settings: DecisionSettings, framesPerSecond: Double) {
        falseAlarmsPerHour = settings.falseAlarmsPerHour
        self.framesPerSecond = framesPerSecond
        frameProbability = Self.frameProbability(falseAlarmsPerHour: settings.falseAlarmsPerHour,
                                                 framesPerSecond: framesPerSecond, framesToStart: settings.framesToStart)
        burnInFrames = Int((settings.burnInSeconds * framesPerSecond).rounded())
        level = max(-log10(frameProbability), Self.minimumLevel)
    }

    static let pendingLimit = 4096

    /// The cut never drops below p = 0.1: a scene duller than its learning frames must not flag ordinary frames.
    static let minimumLevel = 1.0

    public var burningIn: Bool { observed < burnInFrames }

    public func normalized(surprise s: Double) -> Double { min(1, max(0, 0.5 * s / level)) }

    /// One frame's surprise and where the decision stage is with it. During the burn-in, quiet frames and blips
    /// join the tail; episodes, with the frames that built up to them, do not.
    public mutating func observe(surprise s: Double, phase: Phase) {
        guard burningIn, s.isFinite else { return }
        switch phase {
        case .building:
            // Bounded: evidence may hover below a large `frames_to_start` for a long time.
            if pending.count == Self.pendingLimit { pending.removeFirst(Self.pendingLimit / 2) }
            pending.append(s)
            return
        case .episode:
            pending.removeAll()
            return
        case .quiet:
            pending.append(s)
        }
        for x in pending {
            observed += 1
            try? tail.observe(x)
        }
        pending.removeAll()
        if let adapted = try? tail.level(exceededWith: frameProbability) { level = max(adapted, Self.minimumLevel) }
    }
}
