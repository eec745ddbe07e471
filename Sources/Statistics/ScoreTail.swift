import Foundation

/// The distribution of a score on normal frames, as a tail probability: the empirical distribution in the body and
/// a generalized Pareto tail fitted by peaks over threshold beyond it (README "The fusion, specified"). The
/// empirical part alone cannot say how rare a score beyond every normal one is; the fitted tail can, which is what
/// a cut at a false-alarm budget of one per hour (a tail probability near 1e-4 per frame) needs.
///
/// With n normal scores, the k = max(`minimumExceedances`, share·n) largest (at most n/2) are the exceedances of
/// the threshold u, the (k+1)-th largest score. P(X > x) = (#{scores > x} + 1)/(n + 1) for x ≤ u, and
/// (k + 1)/(n + 1) · S_GPD(x − u) beyond, continuous at u (the +1 keeps every probability positive). The tail is at
/// least exponential (ξ ≥ 0).
public struct ScoreTail: Codable, Sendable, Equatable {
    /// The normal scores, ascending.
    public let sorted: [Double]
    public let threshold: Double
    public let exceedances: Int
    public let pareto: GeneralizedPareto

    public static let minimumScores = 8
    public static let defaultShare = 0.1
    public static let minimumExceedances = 10

    public static func fit(_ scores: [Double], share: Double = defaultShare) throws -> ScoreTail {
        guard scores.count >= minimumScores else { throw TailError.tooFewScores(count: scores.count, needed: minimumScores) }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) { throw TailError.nonFinite(index: bad) }
        let sorted = scores.sorted()
        let n = sorted.count
        let k = min(n / 2, max(minimumExceedances, Int((share * Double(n)).rounded())))
        let u = sorted[n - k - 1]
        let excesses = sorted[(n - k)...].map { $0 - u }
        var pareto = try GeneralizedPareto.fit(excesses: excesses)
        // A bounded fit (ξ < 0) would call every score past its end impossible: a normal frame a little beyond the
        // learning frames would be maximally novel. The exponential tail (ξ = 0, its own MLE) never does.
        if pareto.shape < 0 { pareto = GeneralizedPareto(shape: 0, scale: excesses.reduce(0, +) / Double(k)) }
        return ScoreTail(sorted: sorted, threshold: u, exceedances: k, pareto: pareto)
    }

    /// ln of the tail's share at the threshold, (k + 1)/(n + 1).
    private var logRate: Double { Foundation.log(Double(exceedances + 1) / Double(sorted.count + 1)) }

    /// ln P(X > x) under the normal distribution: 0 at most, -infinity beyond a bounded tail's end.
    public func logSurvival(_ x: Double) -> Double {
        if x > threshold { return logRate + pareto.logSurvival(x - threshold) }
        // Scores strictly above x, by binary search.
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return Foundation.log(Double(sorted.count - lo + 1) / Double(sorted.count + 1))
    }

    /// The score whose tail probability is exp(`logSurvival`): beyond the threshold from the fitted tail, in the body
    /// the smallest normal score with at most that probability above it.
    public func quantile(logSurvival l: Double) -> Double {
        if l < logRate { return threshold + pareto.quantile(logSurvival: l - logRate) }
        let above = Int((Foundation.exp(l) * Double(sorted.count + 1)).rounded(.down)) - 1   // scores allowed above
        return sorted[max(0, min(sorted.count - 1, sorted.count - 1 - above))]
    }

    /// Checks a decoded tail, naming the first bad field.
    public func validate() throws {
        func bad(_ field: String, _ detail: String) -> TailError { .invalidField(field: field, detail: detail) }
        guard sorted.count >= Self.minimumScores else { throw bad("sorted", "\(sorted.count) scores; at least \(Self.minimumScores) are needed") }
        guard sorted.allSatisfy(\.isFinite), zip(sorted, sorted.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw bad("sorted", "the scores are not finite and ascending")
        }
        guard exceedances >= 1, exceedances < sorted.count else { throw bad("exceedances", "\(exceedances) is not in 1..<\(sorted.count)") }
        guard threshold == sorted[sorted.count - exceedances - 1] else { throw bad("threshold", "\(threshold) is not the (k+1)-th largest score") }
        guard pareto.shape.isFinite, pareto.shape >= 0, pareto.scale.isFinite, pareto.scale > 0 else {
            throw bad("pareto", "shape \(pareto.shape), scale \(pareto.scale): the scale must be positive, the shape not negative, both finite")
        }
    }
}
