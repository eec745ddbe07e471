import Foundation

/// The raw per-frame scores the detector can fuse; both grow with novelty.
public enum ScoreComponent: String, Codable, CaseIterable, Sendable, Comparable {
    /// The masked-distillation student's score (ALGORITHM.md 2.7).
    case mkd
    /// The feature Gaussian's squared Mahalanobis distance (ALGORITHM.md 4.5).
    case gaussian
    /// The student's per-channel error profile under a Gaussian of the training frames' profiles
    /// (`StudentScore.channelProfile`).
    case mkdProfile = "mkd_profile"

    public static func < (a: ScoreComponent, b: ScoreComponent) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    case noComponents
    case tooFewHoldoutScores(component: ScoreComponent, count: Int)
    case countMismatch(component: ScoreComponent, count: Int, expected: Int)
    case nonFiniteScore(component: ScoreComponent, index: Int)
    /// A frame being scored has a NaN or infinite raw score.
    case nonFiniteRawScore(component: ScoreComponent)
    case constantScores(component: ScoreComponent)
    case zeroSpread
    case invalidQuantile(Double)
    case missingScore(component: ScoreComponent)
    case invalidHoldoutFraction(Double)
    case invalidBlockLength(Int)
    case tooFewFrames(count: Int, holdout: Int)
    /// A stored calibration value is malformed (used when loading a saved model).
    case invalidField(field: String, detail: String)

    public var description: String {
        switch self {
        case .noComponents:
            return "Calibration needs held-out scores of at least one component (mkd, gaussian or mkd_profile)."
        case let .tooFewHoldoutScores(component, count):
            return "Calibration needs at least 2 held-out \(component.rawValue) scores to estimate a spread, but got \(count)."
        case let .countMismatch(component, count, expected):
            return "There are \(count) held-out \(component.rawValue) scores but \(expected) of the other component; score the same frames with both."
        case let .nonFiniteScore(component, index):
            return "The held-out \(component.rawValue) score of frame \(index) is not finite (NaN or infinity)."
        case let .nonFiniteRawScore(component):
            return "The frame's \(component.rawValue) score is not finite (NaN or infinity)."
        case let .constantScores(component):
            return "Every held-out \(component.rawValue) score is the same, so it cannot be standardised; the held-out frames are probably identical."
        case .zeroSpread:
            return "The fused held-out scores are all equal, so there is no spread to normalise by."
        case let .invalidQuantile(q):
            return "The threshold quantile must be in (0, 1), but it is \(q); 1 would be the maximum normal score."
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
    /// Holds out `fraction` of `count` frames (at least 2, so a spread can be estimated), chosen at random as whole
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
        let wanted = max(2, Int((fraction * Double(count)).rounded()))
        var held = Set<Int>()
        var heldFrames = 0
        for block in order where heldFrames < wanted {
            held.insert(block)
            heldFrames += min(blockLength, count - block * blockLength)
        }
        guard heldFrames >= 2, count - heldFrames >= 2 else { throw CalibrationError.tooFewFrames(count: count, holdout: wanted) }
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

/// One frame's calibrated score. Where it is cut is the decision stage's business (`DecisionStage.cut`).
public struct Verdict: Sendable, Equatable {
    /// The fused raw score (sum of z-scores), kept in events for audits.
    public let raw: Double
    /// The anomalib-style score in [0, 1]; the calibrated threshold is 0.5.
    public let normalized: Double
}

/// Turns raw scores into a fused score, a normalised score and a verdict, from held-out normal frames only
/// (CONVENTIONS 2).
///
/// - Fusion: each raw score is standardised by the mean and sample standard deviation (ddof 1) of its held-out
///   scores; the fused score is the sum of these z-scores (ALGORITHM.md "Score"). With one component it is that
///   component's z-score, so the MKD and Gaussian scores can be calibrated and reported alone.
/// - Threshold: the `quantile` (linear interpolation, numpy's default) of the held-out fused scores.
/// - Normalisation like anomalib: normalized = clamp((fused − threshold) / spread + 0.5, 0, 1), where the spread is
///   max − min of the held-out fused scores. The threshold maps to 0.5; a score half a held-out range above it
///   reaches 1.
/// - The decision stage cuts the normalised score at 1 − sensitivity (`DecisionStage.cut`): the default 0.5 cuts at
///   the calibrated threshold.
public struct Calibration: Codable, Sendable, Equatable {
    public struct Standardizer: Codable, Sendable, Equatable {
        public let component: ScoreComponent
        public let mean: Double
        public let std: Double
    }

    /// One per fused component, in `ScoreComponent` order.
    public let standardizers: [Standardizer]
    public let quantile: Double
    /// Fused raw score that maps to normalised 0.5.
    public let threshold: Double
    /// Smallest and largest held-out fused score; their difference is the normalisation spread.
    public let minimum: Double
    public let maximum: Double
    public let holdoutCount: Int

    public var components: [ScoreComponent] { standardizers.map(\.component) }

    /// Calibrates from the held-out normal frames' raw scores, one array per component, all for the same frames.
    public static func fit(holdout: [ScoreComponent: [Double]], quantile: Double) throws -> Calibration {
        guard quantile > 0, quantile < 1 else { throw CalibrationError.invalidQuantile(quantile) }
        let components = holdout.keys.sorted()
        guard let first = components.first else { throw CalibrationError.noComponents }
        let count = holdout[first]!.count
        var standardizers: [Standardizer] = []
        for component in components {
            let scores = holdout[component]!
            guard scores.count == count else {
                throw CalibrationError.countMismatch(component: component, count: scores.count, expected: count)
            }
            guard count >= 2 else { throw CalibrationError.tooFewHoldoutScores(component: component, count: count) }
            if let bad = scores.firstIndex(where: { !$0.isFinite }) {
                throw CalibrationError.nonFiniteScore(component: component, index: bad)
            }
            let mean = scores.reduce(0, +) / Double(count)
            let variance = scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)
            guard variance > 0 else { throw CalibrationError.constantScores(component: component) }
            standardizers.append(Standardizer(component: component, mean: mean, std: variance.squareRoot()))
        }
        let fused = (0..<count).map { i in
            standardizers.reduce(0.0) { $0 + (holdout[$1.component]![i] - $1.mean) / $1.std }
        }.sorted()
        guard fused.last! > fused.first! else { throw CalibrationError.zeroSpread }
        return Calibration(standardizers: standardizers, quantile: quantile, threshold: interpolatedQuantile(fused, quantile),
                           minimum: fused.first!, maximum: fused.last!, holdoutCount: count)
    }

    /// numpy's default quantile of sorted values: linear interpolation between the two nearest order statistics.
    static func interpolatedQuantile(_ sorted: [Double], _ q: Double) -> Double {
        let h = Double(sorted.count - 1) * q
        let lower = Int(h.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (h - Double(lower)) * (sorted[upper] - sorted[lower])
    }

    /// The sum of the standardised scores of one frame.
    public func fuse(_ raw: [ScoreComponent: Double]) throws -> Double {
        try standardizers.reduce(0.0) { sum, s in
            guard let value = raw[s.component] else { throw CalibrationError.missingScore(component: s.component) }
            guard value.isFinite else { throw CalibrationError.nonFiniteRawScore(component: s.component) }
            return sum + (value - s.mean) / s.std
        }
    }

    /// The anomalib-style normalised score of a fused score, in [0, 1].
    public func normalize(fused: Double) -> Double {
        min(1, max(0, (fused - threshold) / (maximum - minimum) + 0.5))
    }

    public func evaluate(_ raw: [ScoreComponent: Double]) throws -> Verdict {
        let fused = try fuse(raw)
        return Verdict(raw: fused, normalized: normalize(fused: fused))
    }

    /// Checks a decoded calibration, naming the first bad field.
    public func validate() throws {
        func bad(_ field: String, _ detail: String) -> CalibrationError { .invalidField(field: field, detail: detail) }
        guard !standardizers.isEmpty else { throw bad("standardizers", "no score component is calibrated") }
        guard components == Set(components).sorted() else {
            throw bad("standardizers", "components \(components.map(\.rawValue)) are repeated or out of order")
        }
        for s in standardizers {
            guard s.mean.isFinite else { throw bad("standardizers.\(s.component.rawValue).mean", "\(s.mean) is not finite") }
            guard s.std.isFinite, s.std > 0 else { throw bad("standardizers.\(s.component.rawValue).std", "\(s.std) is not positive") }
        }
        guard quantile > 0, quantile < 1 else { throw bad("quantile", "\(quantile) is not in (0, 1)") }
        guard minimum.isFinite, maximum.isFinite, minimum < maximum else {
            throw bad("minimum", "the held-out range [\(minimum), \(maximum)] is empty or not finite")
        }
        guard threshold >= minimum, threshold <= maximum else {
            throw bad("threshold", "\(threshold) lies outside the held-out range [\(minimum), \(maximum)]")
        }
        guard holdoutCount >= 2 else { throw bad("holdout_count", "\(holdoutCount) is fewer than 2 frames") }
    }
}
