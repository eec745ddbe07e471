import Foundation

/// The standard normal distribution's upper tail in log space, as Stouffer's fusion needs it: z-scores of tail
/// probabilities far below what a Double can hold (a frame beyond a fitted tail has ln p of −10⁴ and less).
public enum StandardNormal {
    /// ln P(Z > z).
    public static func logSurvival(_ z: Double) -> Double {
        if z < 0 { return Foundation.log1p(-0.5 * Foundation.erfc(-z / 2.0.squareRoot())) }
        if z <= asymptoticFrom { return Foundation.log(0.5 * Foundation.erfc(z / 2.0.squareRoot())) }
        // Mills' ratio: erfc underflows near z = 37; at z ≥ 30 four terms are exact to 1e-10.
        let r = 1 / (z * z)
        return logDensity(z) - Foundation.log(z) + Foundation.log1p(-r * (1 - 3 * r * (1 - 5 * r)))
    }

    /// The z with ln P(Z > z) = `l` (l ≤ 0; 0 gives −infinity): Newton's method on the concave ln P(Z > z), from
    /// Abramowitz and Stegun's rational guess (26.2.23); −infinity gives +infinity.
    public static func quantile(logSurvival l: Double) -> Double {
        precondition(l <= 0, "a log probability is at most 0, got \(l)")
        if l == 0 { return -.infinity }
        if l == -.infinity { return .infinity }
        // Below the median from the upper tail; above it by symmetry, from the lower one.
        let upper = l < Foundation.log(0.5)
        let lt = upper ? l : Foundation.log(-Foundation.expm1(l))   // ln of the smaller tail
        let t = (-2 * lt).squareRoot()
        var z = t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1 + t * (1.432788 + t * (0.189269 + t * 0.001308)))
        if !upper { z = -z }
        for _ in 0..<8 {
            let s = logSurvival(z)
            let slope = -Foundation.exp(logDensity(z) - s)   // d/dz ln P(Z > z)
            let step = (s - l) / slope
            z -= step
            if abs(step) <= 1e-12 * max(1, abs(z)) { break }
        }
        return z
    }

    static let asymptoticFrom = 30.0

    static func logDensity(_ z: Double) -> Double { -0.5 * z * z - 0.5 * Foundation.log(2 * Double.pi) }
}
