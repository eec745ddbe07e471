import CBLAS
import Foundation
import Kernels

/// PatchCore's greedy coreset (Roth et al. 2022, Alg. 1; Sener and Savarese's k-center greedy): start from one
/// point, then repeatedly add the point farthest from everything chosen so far, so that `budget` points cover the
/// set with the smallest largest gap a greedy rule can find. Distances are taken after a seeded Gaussian random
/// projection to `projection` dimensions (Johnson-Lindenstrauss: distances kept within a small factor), as the paper
/// does, because each of the `budget` steps reads every point.
public enum Coreset {
    /// Indices of the chosen points, in the order chosen (the first is point `seed % count`). All points when
    /// `budget ≥ count`. `shouldStop`, asked every 64 steps, ends the choice with `CancellationError`.
    public static func select(points: UnsafePointer<Float>, count n: Int, dimension d: Int, budget: Int,
                              projection: Int = 128, seed: UInt64 = 0,
                              shouldStop: () -> Bool = { false }) throws -> [Int] {
        precondition(n >= 1 && d >= 1 && budget >= 1)
        guard budget < n else { return Array(0..<n) }
        let k = min(projection, d)
        var projected = [Float](repeating: 0, count: n * k)
        if k == d {
            projected.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: points, count: n * d) }
        } else {
            var rng = SplitMix64(seed: seed ^ 0x5EED_C0DE)
            let scale = 1 / Float(k).squareRoot()
            let matrix = (0..<(d * k)).map { _ in Float(rng.nextGaussian()) * scale }   // [d, k]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(k), Int32(d), 1, points, Int32(d),
                        matrix, Int32(k), 0, &projected, Int32(k))
        }
        return try greedy(projected, count: n, dimension: k, budget: budget, first: Int(seed % UInt64(n)), shouldStop: shouldStop)
    }

    /// The k-center greedy loop over already projected points: each step updates every point's distance to the
    /// chosen set with the newest centre (two halves on two threads) and takes the largest.
    static func greedy(_ x: [Float], count n: Int, dimension k: Int, budget: Int, first: Int,
                       shouldStop: () -> Bool) throws -> [Int] {
        var nearest = [Float](repeating: .infinity, count: n)
        var chosen = [first]
        chosen.reserveCapacity(budget)
        let parts = n >= 8192 ? 2 : 1
        var best = [(value: Float, index: Int)](repeating: (0, 0), count: parts)
        try x.withUnsafeBufferPointer { xs in
            try nearest.withUnsafeMutableBufferPointer { near in
                try best.withUnsafeMutableBufferPointer { best in
                    let xp = xs.baseAddress!, np = near.baseAddress!, bp = best.baseAddress!
                    while chosen.count < budget {
                        if chosen.count % 64 == 0, shouldStop() { throw CancellationError() }
                        let centre = xp + chosen.last! * k
                        Parallel.forEach(parts) { part in
                            let lo = part * n / parts, hi = (part + 1) * n / parts
                            var top: (value: Float, index: Int) = (-1, lo)
                            for i in lo..<hi {
                                let row = xp + i * k
                                var s: Float = 0
                                for j in 0..<k { let t = row[j] - centre[j]; s += t * t }
                                let m = min(np[i], s)
                                np[i] = m
                                if m > top.value { top = (m, i) }
                            }
                            bp[part] = top
                        }
                        var pick = bp[0]
                        for p in 1..<parts where bp[p].value > pick.value { pick = bp[p] }
                        chosen.append(pick.index)
                    }
                }
            }
        }
        return chosen
    }
}

extension SplitMix64 {
    /// A standard normal draw (Box-Muller on two uniforms in (0, 1]).
    mutating func nextGaussian() -> Double {
        let u1 = (Double(next() >> 11) + 1) / 9_007_199_254_740_992, u2 = Double(next() >> 11) / 9_007_199_254_740_992
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}
