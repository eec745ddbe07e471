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
    case tooFewJointScores(detail: String)
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
        case let .tooFewJointScores(detail):
            return "The fused scores of the frames every component scored cannot be calibrated: \(detail)."
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

/// How the components' tail probabilities become the frame's (`detector.fusion`).
public enum Fusion: String, Codable, Sendable, CaseIterable {
    /// m · min_j p_j (Bonferroni's bound on Tippett's minimum): a frame is as novel as its most surprised component.
    case minP = "min_p"
    /// Fisher's T = −Σ ln p_j under T's own tail on the learning frames (`Calibration.JointTail`).
    case fisher
}

/// Fusion in calibrated units (README "The fusion, specified"): each component's raw score becomes a tail
/// probability p_j under its own normal scores (`ScoreTail`: empirical in the body, a generalized Pareto tail beyond),
/// and the frame's p is, by default, m times the smallest (`Fusion.minP`): a frame is as novel as its most surprised
/// component says, and a component that adds nothing costs a factor m in p, never its own noise. Summing raw
/// z-scores instead let a heavy-tailed component's normal outliers drown the best component (frame AUROC on the demo
/// belt: Gaussian 0.980, student 0.852, z-sum 0.945).
///
/// `Fusion.fisher` sums the evidence instead, T = −Σ ln p_j, under T's own tail fitted on the learning frames that
/// every component scored (`JointTail`; the components are correlated, so T's normal distribution is measured, not
/// assumed). Where both components inform it ranks better (solar cells with the PCA at 0.99: 94.49 against 94.18),
/// but on video a nuisance that lifts both components a little (a light step, drift after the burn-in) adds up: on
/// the 60-minute shift it opened 2 false episodes where min-p opened none (benchmarks/quality/RESULTS.md, session 21).
///
/// Each component's tail rests on its own out-of-sample normal scores (`ModelFitting`): the Gaussian's and the patch
/// memory's are cross-fitted over every learning frame, the student's come from the held-out frames.
public struct Calibration: Codable, Sendable, Equatable {
    public struct ComponentTail: Codable, Sendable, Equatable {
        public let component: ScoreComponent
        public let tail: ScoreTail
    }

    /// The fused statistic's normal distribution.
    public struct JointTail: Codable, Sendable, Equatable {
        /// The learning frames' out-of-sample raw scores, one row per frame every component scored, in `tails` order:
        /// a refit (`adding`) recomputes their sums under refitted component tails.
        public let rows: [[Double]]
        public let tail: ScoreTail
    }

    /// One per fused component, in `ScoreComponent` order.
    public let tails: [ComponentTail]
    /// Frames held out from the student's training (their scores are the student's tails).
    public let holdoutCount: Int
    /// Fisher's sum's tail (`Fusion.fisher` with two components or more); absent with min-p.
    public let joint: JointTail?

    public var components: [ScoreComponent] { tails.map(\.component) }
    public var fusion: Fusion { joint == nil ? .minP : .fisher }

    /// Fits each component's tail on its out-of-sample normal scores, keyed by learning frame (the frames may differ
    /// between components), and with Fisher's fusion T's tail on the frames they share.
    public static func fit(frames normal: [ScoreComponent: [Int: Double]], holdoutCount: Int,
                           fusion: Fusion = .minP) throws -> Calibration {
        guard !normal.isEmpty else { throw CalibrationError.noComponents }
        let components = normal.keys.sorted()
        let tails = try components.map { c in try componentTail(c, Array(normal[c]!.values)) }
        guard fusion == .fisher else { return try Calibration(tails: tails, holdoutCount: holdoutCount, rows: nil) }
        let shared = components.dropFirst().reduce(Set(normal[components[0]]!.keys)) { $0.intersection(normal[$1]!.keys) }
        let rows = shared.sorted().map { frame in components.map { normal[$0]![frame]! } }
        return try Calibration(tails: tails, holdoutCount: holdoutCount, rows: rows)
    }

    /// The same, each component's scores in frame order (the i-th score of every component is frame i's).
    public static func fit(normal: [ScoreComponent: [Double]], holdoutCount: Int, fusion: Fusion = .minP) throws -> Calibration {
        try fit(frames: normal.mapValues { Dictionary(uniqueKeysWithValues: $0.enumerated().map { ($0.offset, $0.element) }) },
                holdoutCount: holdoutCount, fusion: fusion)
    }

    private static func componentTail(_ component: ScoreComponent, _ scores: [Double]) throws -> ComponentTail {
        do {
            return ComponentTail(component: component, tail: try ScoreTail.fit(scores))
        } catch let e as TailError {
            throw CalibrationError.tooFewScores(component: component, detail: e.description)
        }
    }

    /// With the component tails fitted: the joint tail over `rows` (none for min-p, or for one component).
    private init(tails: [ComponentTail], holdoutCount: Int, rows: [[Double]]?) throws {
        self.tails = tails
        self.holdoutCount = holdoutCount
        guard let rows, tails.count > 1 else { joint = nil; return }
        let sums = rows.map { row in Self.fisher(zip(tails, row).map { $0.tail.logSurvival($1) }) }
        do {
            joint = JointTail(rows: rows, tail: try ScoreTail.fit(sums))
        } catch let e as TailError {
            throw CalibrationError.tooFewJointScores(detail: e.description)
        }
    }

    /// The same components' tails refitted on the normal scores they rest on plus `more`, the live scene's quiet
    /// frames under the same model (`LiveCalibration`), each with every component's raw score: the learning frames
    /// cannot show every way the scene varies, and a tail fitted on them alone is over-confident where it varies more
    /// (the student's, under changing light).
    public func adding(_ more: [[ScoreComponent: Double]]) throws -> Calibration {
        let refitted = try tails.map { t in
            try Self.componentTail(t.component, t.tail.sorted + more.compactMap { $0[t.component] })
        }
        guard let joint else { return try Calibration(tails: refitted, holdoutCount: holdoutCount, rows: nil) }
        let complete = more.compactMap { frame in
            components.allSatisfy { frame[$0] != nil } ? components.map { frame[$0]! } : nil
        }
        return try Calibration(tails: refitted, holdoutCount: holdoutCount, rows: joint.rows + complete)
    }

    /// Fisher's statistic −Σ ln p_j.
    static func fisher(_ logSurvivals: [Double]) -> Double { -logSurvivals.reduce(0, +) }

    /// ln of the frame's fused tail probability: with min-p, m · min p_j, not clamped to 1, so frames that every
    /// component finds ordinary still rank by their least ordinary component (the clamp tied a third of the solar-cell
    /// test images, session 15; the cut lies far below 1, so no decision changes); with Fisher's, T's tail at T.
    public func logProbability(_ raw: [ScoreComponent: Double]) throws -> Double {
        let logs = try tails.map { t in
            guard let value = raw[t.component] else { throw CalibrationError.missingScore(component: t.component) }
            guard value.isFinite else { throw CalibrationError.nonFiniteRawScore(component: t.component) }
            return t.tail.logSurvival(value)
        }
        if let joint { return joint.tail.logSurvival(Self.fisher(logs)) }
        return logs.min()! + Foundation.log(Double(tails.count))
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
        if let joint {
            guard tails.count > 1 else { throw bad("joint", "a joint tail needs two components or more, there is one") }
            guard joint.rows.allSatisfy({ $0.count == tails.count && $0.allSatisfy(\.isFinite) }) else {
                throw bad("joint.rows", "every row needs \(tails.count) finite scores, one per component")
            }
            do { try joint.tail.validate() } catch let e as TailError { throw bad("joint.tail", e.description) }
        }
    }
}
