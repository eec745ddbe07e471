import Foundation

public enum TailError: Error, Equatable, CustomStringConvertible {
    case tooFewExcesses(count: Int, needed: Int)
    case nonFinite(index: Int)
    case negativeExcess(index: Int)
    case constant
    case tooFewScores(count: Int, needed: Int)
    case invalidProbability(Double)
    /// A stored tail is malformed (loading a saved model).
    case invalidField(field: String, detail: String)

    public var description: String {
        switch self {
        case let .tooFewExcesses(count, needed): return "a tail fit needs at least \(needed) excesses over the threshold, got \(count)"
        case let .nonFinite(index): return "value \(index) is not finite (NaN or infinity)"
        case let .negativeExcess(index): return "excess \(index) is negative; excesses are values minus the threshold"
        case .constant: return "every value is the same, so no tail can be fitted; the frames are probably identical"
        case let .tooFewScores(count, needed): return "a score tail needs at least \(needed) normal scores, got \(count)"
        case let .invalidProbability(p): return "a tail probability must be in (0, 1], got \(p)"
        case let .invalidField(field, detail): return "tail field '\(field)' is invalid: \(detail)"
        }
    }
}

/// The generalized Pareto distribution of excesses over a high threshold (Pickands-Balkema-de Haan): survival
/// S(y) = (1 + ξ y / σ)^(-1/ξ), exp(-y/σ) at ξ = 0; for ξ < 0 the support ends at -σ/ξ.
public struct GeneralizedPareto: Codable, Sendable, Equatable {
    /// ξ: > 0 a heavy tail, 0 exponential, < 0 bounded.
    public let shape: Double
    /// σ > 0.
    public let scale: Double

    public init(shape: Double, scale: Double) {
        self.shape = shape
        self.scale = scale
    }

    /// |ξ| below this is the exponential case (the formulas' limit), which avoids cancellation.
    static let exponentialBand = 1e-9

    /// ln S(y), for y ≥ 0; -infinity beyond a bounded tail's end.
    public func logSurvival(_ y: Double) -> Double {
        let y = max(0, y)
        if abs(shape) < Self.exponentialBand { return -y / scale }
        let t = 1 + shape * y / scale
        return t > 0 ? -Foundation.log(t) / shape : -.infinity
    }

    /// The excess y with S(y) = exp(logSurvival), logSurvival ≤ 0.
    public func quantile(logSurvival l: Double) -> Double {
        if abs(shape) < Self.exponentialBand { return -l * scale }
        return scale / shape * (Foundation.exp(-shape * l) - 1)
    }

    /// The log-likelihood of `excesses` (all ≥ 0).
    public func logLikelihood(_ excesses: [Double]) -> Double {
        let k = Double(excesses.count)
        if abs(shape) < Self.exponentialBand { return -k * Foundation.log(scale) - excesses.reduce(0, +) / scale }
        var sum = 0.0
        for y in excesses {
            let t = 1 + shape * y / scale
            guard t > 0 else { return -.infinity }
            sum += Foundation.log(t)
        }
        return -k * Foundation.log(scale) - (1 + 1 / shape) * sum
    }

    /// The maximum-likelihood fit with location 0, as scipy's `genpareto.fit(y, floc=0)` estimates it.
    ///
    /// Grimshaw's reduction (Technometrics 1993): with θ = ξ/σ, the likelihood is maximised in ξ at
    /// ξ(θ) = mean(ln(1 + θ y)), leaving one variable. The profile ℓ(θ) = -k ln(ξ(θ)/θ) - k - k ξ(θ) is searched on
    /// a grid over θ ∈ (-1/max y, 1e4/mean y] (θ → 0 is the exponential fit), then refined by golden section
    /// around the best grid point. The likelihood is unbounded as ξ → -∞ at θ = -1/max y; like scipy's optimiser,
    /// the search keeps ξ ≥ -1, where the maximum is a proper one.
    public static func fit(excesses y: [Double]) throws -> GeneralizedPareto {
        let needed = 3
        guard y.count >= needed else { throw TailError.tooFewExcesses(count: y.count, needed: needed) }
        if let bad = y.firstIndex(where: { !$0.isFinite }) { throw TailError.nonFinite(index: bad) }
        if let bad = y.firstIndex(where: { $0 < 0 }) { throw TailError.negativeExcess(index: bad) }
        let k = Double(y.count)
        let mean = y.reduce(0, +) / k
        let top = y.max()!
        guard top > 0, mean > 0 else { throw TailError.constant }

        func xi(_ theta: Double) -> Double { y.reduce(0) { $0 + Foundation.log1p(theta * $1) } / k }
        /// The profile log-likelihood, -infinity where ξ(θ) < -1 or outside the support.
        func profile(_ theta: Double) -> Double {
            if abs(theta) * top < 1e-12 { return -k * Foundation.log(mean) - k }
            guard theta * top > -1 else { return -.infinity }
            let x = xi(theta)
            guard x >= -1, x / theta > 0 else { return -.infinity }
            return -k * Foundation.log(x / theta) - k - k * x
        }
        // The grid: θ·max y from -1 (excluded) to 0 and θ·mean y from 0 to 1e4, log-spaced on each side.
        var grid: [Double] = [0]
        let steps = 60
        for i in 0..<steps {
            let a = Foundation.pow(10, -8 + 8 * Double(i) / Double(steps - 1))   // 1e-8 ... 1
            grid.append(-(1 - 1e-9) * a / top)
            grid.append(a * 1e4 / mean)
        }
        grid.sort()
        var best = 0
        var bestValue = -Double.infinity
        for (i, t) in grid.enumerated() {
            let v = profile(t)
            if v > bestValue { bestValue = v; best = i }
        }
        // Golden section between the best point's neighbours (the profile is unimodal there).
        var lo = grid[max(0, best - 1)], hi = grid[min(grid.count - 1, best + 1)]
        let golden = (5.0.squareRoot() - 1) / 2
        var a = hi - golden * (hi - lo), b = lo + golden * (hi - lo)
        var fa = profile(a), fb = profile(b)
        var iterations = 0
        while iterations < 200, hi - lo > 1e-14 * max(1, abs(lo) + abs(hi)) {
            iterations += 1
            if fa >= fb { hi = b; b = a; fb = fa; a = hi - golden * (hi - lo); fa = profile(a) }
            else { lo = a; a = b; fa = fb; b = lo + golden * (hi - lo); fb = profile(b) }
        }
        var theta = fa >= fb ? a : b
        if max(fa, fb) < bestValue { theta = grid[best] }
        if abs(theta) * top < 1e-12 { return GeneralizedPareto(shape: 0, scale: mean) }
        let x = xi(theta)
        return GeneralizedPareto(shape: x, scale: x / theta)
    }
}
