import Foundation

/// Streaming peaks over threshold (SPOT, Siffer et al., KDD 2017): the tail of a live score keeps adapting as
/// observations arrive. Every observation counts towards n; those above the threshold u add their excess to the
/// peaks, and the generalized Pareto tail is refitted. The level exceeded with probability q is
/// z_q = u + GPD quantile at q·n/N_peaks.
///
/// Until `minimumPeaks` live peaks have arrived, the level comes from a prior tail (the ideal one, or the learning
/// frames'); from then on from the live peaks alone. The tail is refitted as the peaks grow by a twentieth, which
/// keeps the cost per frame small (a fit is linear in the peaks) while the estimate follows the data.
public struct StreamingTail: Sendable {
    public let threshold: Double
    public let prior: GeneralizedPareto
    /// The prior's share of observations above the threshold.
    public let priorRate: Double
    public static let minimumPeaks = 30
    public private(set) var peaks: [Double] = []
    public private(set) var observations = 0
    public private(set) var pareto: GeneralizedPareto?
    private var fittedPeaks = 0

    public init(threshold: Double, prior: GeneralizedPareto, priorRate: Double) {
        self.threshold = threshold
        self.prior = prior
        self.priorRate = priorRate
    }

    /// The ideal calibration of s = -log10 p with p uniform: P(s > t) = 10^-t, so excesses over `threshold` are
    /// exponential with scale 1/ln 10 and occur at rate 10^-threshold.
    public static func ideal(threshold: Double = 1) -> StreamingTail {
        StreamingTail(threshold: threshold, prior: GeneralizedPareto(shape: 0, scale: 1 / Foundation.log(10.0)),
                      priorRate: Foundation.pow(10, -threshold))
    }

    /// Takes one observation; refits the tail when the peaks have grown enough.
    public mutating func observe(_ x: Double) throws {
        guard x.isFinite else { throw TailError.nonFinite(index: observations) }
        observations += 1
        guard x > threshold else { return }
        peaks.append(x - threshold)
        if peaks.count >= Self.minimumPeaks, peaks.count >= fittedPeaks + max(1, fittedPeaks / 20) {
            pareto = try GeneralizedPareto.fit(excesses: peaks)
            fittedPeaks = peaks.count
        }
    }

    /// The level exceeded with probability `q` per observation.
    public func level(exceededWith q: Double) throws -> Double {
        guard q > 0, q <= 1 else { throw TailError.invalidProbability(q) }
        let (tail, rate) = pareto.map { ($0, Double(peaks.count) / Double(observations)) } ?? (prior, priorRate)
        guard q < rate else { return threshold }
        return threshold + tail.quantile(logSurvival: Foundation.log(q / rate))
    }
}
