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
        level = max(-log10(frameProbability), Self.minimumLevel)
    }

    /// The cut never drops below p = 0.1: a budget of thousands an hour must not flag ordinary frames.
    static let minimumLevel = 1.0

    public func normalized(surprise s: Double) -> Double { min(1, max(0, 0.5 * s / level)) }
}

/// Which frames of the burn-in are normal enough to learn from, as the decision stage goes: quiet frames and blips
/// (runs of evidence that fell back) are; episodes, with the frames that built up to them, are not (a novel
/// object's first frames must not teach the scene that it is normal). Counts up to `frames` accepted frames.
public struct BurnIn<Sample: Sendable>: Sendable {
    public let frames: Int
    public private(set) var accepted = 0
    /// Frames of a run of evidence still undecided.
    private var pending: [Sample] = []

    public init(frames: Int) { self.frames = max(0, frames) }

    public var isOver: Bool { accepted >= frames }

    static var pendingLimit: Int { 4096 }

    /// One frame and the stage's phase with it; returns the frames that join the normal ones now.
    public mutating func observe(_ sample: Sample, phase: DecisionPhase) -> [Sample] {
        guard !isOver else { return [] }
        switch phase {
        case .building:
            // Bounded: evidence may hover below a large `frames_to_start` for a long time.
            if pending.count == Self.pendingLimit { pending.removeFirst(Self.pendingLimit / 2) }
            pending.append(sample)
            return []
        case .episode:
            pending.removeAll()
            return []
        case .quiet:
            pending.append(sample)
            let out = Array(pending.prefix(frames - accepted))
            accepted += out.count
            pending.removeAll()
            return out
        }
    }
}
