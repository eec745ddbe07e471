import Foundation

/// The false-alarm budget turned into the cut, and a frame's surprise into the normalised score that
/// `DecisionStage` cuts at 1 − sensitivity (0.5 by default).
///
/// A frame's surprise is s = −log10 p, p its calibrated tail probability under normal frames. Every episode takes
/// at least `framesToStart` above frames of its own (`DecisionStage`), so with a per-frame probability q of being
/// above the cut there are at most 3600·fps·q / framesToStart false episodes an hour, whatever the frames'
/// dependence: q = budget · framesToStart / (3600 · fps), and the cut is at s = −log10 q. That holds as far as p is
/// calibrated on the live scene, which is what the burn-in (`BurnIn`, the pipeline's live calibration) sees to.
/// The normalised score is 0.5·s/cut, clamped to [0, 1].
public struct BudgetCut: Sendable, Equatable {
    public let falseAlarmsPerHour: Double
    public let framesPerSecond: Double
    /// q: the per-frame probability of being above the cut.
    public let frameProbability: Double
    /// Frames of detection during which the live calibration keeps learning the scene's normal scores.
    public let burnInFrames: Int
    /// Frames on either side of evidence that the burn-in leaves out (`BurnIn`): `burnInMarginSeconds` of them.
    public let burnInMargin: Int
    /// The surprise at the cut: normalised 0.5.
    public let level: Double

    public static func frameProbability(falseAlarmsPerHour: Double, framesPerSecond: Double, framesToStart: Int) -> Double {
        min(0.5, falseAlarmsPerHour * Double(framesToStart) / (3600 * framesPerSecond))
    }

    public init(settings: DecisionSettings, framesPerSecond: Double) {
        falseAlarmsPerHour = settings.falseAlarmsPerHour
        self.framesPerSecond = framesPerSecond
        frameProbability = Self.frameProbability(falseAlarmsPerHour: settings.falseAlarmsPerHour,
                                                 framesPerSecond: framesPerSecond, framesToStart: settings.framesToStart)
        burnInFrames = Int((settings.burnInSeconds * framesPerSecond).rounded())
        burnInMargin = Int((Self.burnInMarginSeconds * framesPerSecond).rounded())
        level = max(-log10(frameProbability), Self.minimumLevel)
    }

    /// Long enough to cover a belt object's entry or exit on either side of the frames where it crossed the cut.
    public static let burnInMarginSeconds = 5.0

    /// The cut never drops below p = 0.1: a budget of thousands an hour must not flag ordinary frames.
    static let minimumLevel = 1.0

    public func normalized(surprise s: Double) -> Double { min(1, max(0, 0.5 * s / level)) }
}

/// Which frames of the burn-in are normal enough to learn from, as the decision stage goes: quiet frames at least
/// `margin` frames away from any frame with evidence (building, episode, or a blip that fell back). A novel object
/// the cut misses still lifts the frames around it, and it enters and leaves view below the cut; if those frames
/// taught the tails, they would rise to the object's level and miss the next one like it (sessions 10 and 14).
/// Leaving out the neighbourhood of every blip also leaves out a few normal tail frames, so the refitted tail is a
/// little light. On the 60-minute shift (benchmarks/falsealarms/RESULTS.md, session 15) the margin took the objects
/// caught from 3 to 14 of 20 and the false episodes from 0 to 1 in an offline replay, and through the daemon caught
/// 19 of 20 with 7 false episodes. Counts up to `frames` accepted frames.
public struct BurnIn<Sample: Sendable>: Sendable {
    public let frames: Int
    public let margin: Int
    public private(set) var accepted = 0
    /// Quiet frames waiting out `margin` frames in which evidence would void them.
    private var held: [Sample] = []
    /// Quiet frames still to skip after the last frame with evidence.
    private var cooldown = 0

    public init(frames: Int, margin: Int) {
        self.frames = max(0, frames)
        self.margin = max(0, margin)
    }

    public var isOver: Bool { accepted >= frames }

    /// One frame and the stage's phase with it; returns the frame that joins the normal ones now, if any.
    public mutating func observe(_ sample: Sample, phase: DecisionPhase) -> Sample? {
        guard !isOver else { return nil }
        guard phase == .quiet else {
            held.removeAll()
            cooldown = margin
            return nil
        }
        if cooldown > 0 {
            cooldown -= 1
            return nil
        }
        held.append(sample)
        guard held.count > margin else { return nil }
        accepted += 1
        return held.removeFirst()
    }
}
