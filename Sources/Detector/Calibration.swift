import Foundation
import Statistics

/// The raw per-frame scores the detector can fuse; both grow with novelty.
public enum ScoreComponent: String, Codable, CaseIterable, Sendable, Comparable {
    /// The masked-distillation student's score (ALGORITHM.md 2.7).
    case mkd
    /// The feature Gaussian's squared Mahalanobis distance (ALGORITHM.md 4.5).
    case gaussian
    /// The student's per-channel error profile under a Gaussian of the training frames' profiles
    /// (`StudentScore.channelProfile`).
    case mkdProfile = "mkd_profile"
    /// The patch memory's reweighted largest nearest-neighbour distance (`PatchMemory`).
    case patch

    public static func < (a: ScoreComponent, b: ScoreComponent) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    case noComponents
    case tooFewScores(component: ScoreComponent, detail: String)
    /// A frame being scored has a NaN or infinite raw score.
    case nonFiniteRawScore(component: ScoreComponent)
    case missingScore(component: ScoreComponent)
    case invalidHoldoutFraction(Double)
    case invalidBlockLength(Int)
    case tooFewFrames(count: Int, holdout: Int)
    /// A stored calibration value is malformed (used when loading a saved model).
    case invalidField(field: String, detail: String)

    public var description: String {
        switch self {
        case .noComponents:
            return "Calibration needs normal scores of at least one component (mkd, gaussian, mkd_profile or patch)."
        case let .tooFewScores(component, detail):
            return "The \(component.rawValue) scores of the normal frames cannot be calibrated: \(detail)."
        case let .nonFiniteRawScore(component):
            return "The frame's \(component.rawValue) score is not finite (NaN or infinity)."
        case let .missingScore(component):
            return "The \(component.rawValue) score is missing, but this calibration fuses it."
        case let .invalidHoldoutFraction(f):
            return "The held-out share of normal frames must be in (0, 1), but it is \(f)."
        case let .invalidBlockLength(length):
            return "The hold-out block length must be at least 1 frame, but it is \(length)."
        case let .tooFewFrames(count, holdout):
            return "\(count) normal frames are too few to hold out \(holdout) and still train on at least 2; collect more frames."
        case let .invalidField(field, detail):
            return "Calibration field '\(field)' is invalid: \(detail)."
        }
    }
}

/// The seeded split of normal frames into training and calibration (held-out) frames.
public enum HoldoutSplit {
    /// Holds out `fraction` of `count` frames (at least `ScoreTail.minimumScores`, which the student's tail needs),
    /// chosen at random as whole
    /// runs of `blockLength` consecutive frames: consecutive video frames are near-duplicates, and a frame whose
    /// neighbour was trained on would score too low and set the threshold too low. A run is at most a quarter of
    /// the frames, so a short learning phase at a high frame rate (a one-second run longer than all of it) still
    /// splits. Indices come back sorted.
    public static func split(count: Int, fraction: Double, seed: UInt64,
                             blockLength: Int = 1) throws -> (train: [Int], holdout: [Int]) {
        guard fraction > 0, fraction < 1 else { throw CalibrationError.invalidHoldoutFraction(fraction) }
        guard blockLength >= 1 else { throw CalibrationError.invalidBlockLength(blockLength) }
        let blockLength = min(blockLength, max(1, count / 4))
        let blocks = (count + blockLength - 1) / blockLength
        var order = Array(0..<blocks)
        var rng = SplitMix64(seed: seed)
        for i in stride(from: blocks - 1, to: 0, by: -1) {  // Fisher-Yates
            order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        let wanted = max(ScoreTail.minimumScores, Int((fraction * Double(count)).rounded()))
        var held = Set<Int>()
        var heldFrames = 0
        for block in order where heldFrames < wanted {
            held.insert(block)
            heldFrames += min(blockLength, count - block * blockLength)
        }
        guard heldFrames >= wanted, count - heldFrames >= 2 else { throw CalibrationError.tooFewFrames(count: count, holdout: wanted) }
        var train: [Int] = [], holdout: [Int] = []
        for i in 0..<count {
            if held.contains(i / blockLength) { holdout.append(i) } else { train.append(i) }
        }
        return (train, holdout)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seedable generator, so a split is reproducible from its seed.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One frame's calibrated score: its surprise s = −log10 p, p the probability that a normal frame is at least as
/// novel (the fused tail probability). Where it is cut, and how it maps to [0, 1], is `BudgetCut`'s business.
public struct Verdict: Sendable, Equatable {
    public let surprise: Double
}

/// Fusion in calibrated units (ALGORITHM.md "Calibrated fusion"): each component's raw score becomes a tail
/// probability under its own normal scores (`ScoreTail`: empirical in the body, a generalized Pareto tail beyond),
/// and the frame's p is the smallest of the m components' times m (Bonferroni's bound on Tippett's minimum): a
/// frame is as novel as its most surprised component says, and a component that adds nothing costs a factor m in
/// p (log10 m in surprise), never its own noise. Summing z-scores instead let a heavy-tailed component's normal
/// outliers drown the best component (frame AUROC on the demo belt: Gaussian 0.980, student 0.852, z-sum 0.945).
///
/// Each component's tail rests on its own out-of-sample normal scores (`ModelFitting`): the Gaussian's are
/// cross-fitted over every learning frame, the student's come from the held-out frames.
public struct Calibration: Codable, Sendable, Equatable {
    public struct ComponentTail: Codable, Sendable, Equatable {
        public let component: ScoreComponent
        public let tail: ScoreTail
    }

    /// One per fused component, in `ScoreComponent` order.
    public let tails: [ComponentTail]
    /// Frames held out from the student's training (their scores are the student's tails).
    public let holdoutCount: Int

    public var components: [ScoreComponent] { tails.map(\.component) }

    /// Fits each component's tail on its out-of-sample normal scores (the counts may differ between components).
    public static func fit(normal: [ScoreComponent: [Double]], holdoutCount: Int) throws -> Calibration {
        guard !normal.isEmpty else { throw CalibrationError.noComponents }
        let tails = try normal.keys.sorted().map { component in
            do {
                return ComponentTail(component: component, tail: try ScoreTail.fit(normal[component]!))
            } catch let e as TailError {
                throw CalibrationError.tooFewScores(component: component, detail: e.description)
            }
        }
        return Calibration(tails: tails, holdoutCount: holdoutCount)
    }

    /// The same components' tails refitted on the normal scores they rest on plus `more` (the live scene's quiet
    /// frames under the same model, `LiveCalibration`): the learning frames cannot show every way the scene varies,
    /// and a tail fitted on them alone is over-confident where it varies more (the student's, under changing light).
    public func adding(_ more: [ScoreComponent: [Double]]) throws -> Calibration {
        let refitted = try tails.map { t in
            do {
                return ComponentTail(component: t.component, tail: try ScoreTail.fit(t.tail.sorted + (more[t.component] ?? [])))
            } catch let e as TailError {
                throw CalibrationError.tooFewScores(component: t.component, detail: e.description)
            }
        }
        return Calibration(tails: refitted, holdoutCount: holdoutCount)
    }

    /// ln of the fused statistic m · min_j p_j: a tail probability (Bonferroni's bound) wherever it is below 1. It is
    /// not clamped to 1: frames that every component finds ordinary still rank by their least ordinary component
    /// instead of tying (the clamp tied a third of the solar-cell test images and cost the fused AUROC 2.4 points,
    /// benchmarks/quality/RESULTS.md, session 15); the cut lies far below 1, so no decision changes.
    public func logProbability(_ raw: [ScoreComponent: Double]) throws -> Double {
        var smallest = 0.0
        for t in tails {
            guard let value = raw[t.component] else { throw CalibrationError.missingScore(component: t.component) }
            guard value.isFinite else { throw CalibrationError.nonFiniteRawScore(component: t.component) }
            smallest = min(smallest, t.tail.logSurvival(value))
        }
        return smallest + Foundation.log(Double(tails.count))
    }

    /// The surprise, −log10 of the fused tail probability: from −log10 m (every component finds the frame ordinary) up,
    /// finite even beyond a bounded tail's end (capped at 300: no frame is that improbable under normal frames, and a
    /// cap keeps the number printable).
    public func evaluate(_ raw: [ScoreComponent: Double]) throws -> Verdict {
        Verdict(surprise: min(Self.maximumSurprise, -(try logProbability(raw)) / Foundation.log(10.0)))
    }

    public static let maximumSurprise = 300.0

    /// Checks a decoded calibration, naming the first bad field.
    public func validate() throws {
        func bad(_ field: String, _ detail: String) -> CalibrationError { .invalidField(field: field, detail: detail) }
        guard !tails.isEmpty else { throw bad("tails", "no score component is calibrated") }
        guard components == Set(components).sorted() else {
            throw bad("tails", "components \(components.map(\.rawValue)) are repeated or out of order")
        }
        for t in tails {
            do { try t.tail.validate() } catch let e as TailError {
                throw bad("tails.\(t.component.rawValue)", e.description)
            }
        }
        guard holdoutCount >= 2 else { throw bad("holdout_count", "\(holdoutCount) is fewer than 2 frames") }
    }
}
