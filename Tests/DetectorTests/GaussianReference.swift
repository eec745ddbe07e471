import Foundation
import Reference

// Plain double-precision linear algebra for checking FeatureGaussian: loops from the textbook, no BLAS or LAPACK.

extension RNG {
    /// Standard normal by Box-Muller.
    mutating func boxMullerNormal() -> Double {
        let u1 = (Double(next() >> 11) + 1) / 9007199254740993.0
        let u2 = Double(next() >> 11) / 9007199254740992.0
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

enum NaiveLinearAlgebra {
    /// Eigenvalues (descending) and unit eigenvectors (as rows) of a symmetric n×n matrix, by cyclic Jacobi rotations.
    static func symmetricEigen(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [[Double]]) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
            if off < 1e-30 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {  // A ← A·J
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {  // A ← Jᵀ·A
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {  // V ← V·J (eigenvectors are V's columns)
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] > a[$1 * n + $1] }
        return (order.map { a[$0 * n + $0] }, order.map { j in (0..<n).map { v[$0 * n + j] } })
    }

    /// x with A·x = b, by Gaussian elimination with partial pivoting.
    static func solve(_ matrix: [Double], _ rhs: [Double], n: Int) -> [Double] {
        var a = matrix, b = rhs
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0 * n + col]) < abs(a[$1 * n + col]) }!
            if pivot != col {
                for k in 0..<n { a.swapAt(col * n + k, pivot * n + k) }
                b.swapAt(col, pivot)
            }
            for row in (col + 1)..<n {
                let f = a[row * n + col] / a[col * n + col]
                for k in col..<n { a[row * n + k] -= f * a[col * n + k] }
                b[row] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var s = b[row]
            for k in (row + 1)..<n { s -= a[row * n + k] * x[k] }
            x[row] = s / a[row * n + row]
        }
        return x
    }

    /// Orthonormalises the columns of a row-major rows×cols matrix (modified Gram-Schmidt).
    static func orthonormalColumns(_ m: [Double], rows: Int, cols: Int) -> [Double] {
        var q = m
        for j in 0..<cols {
            for i in 0..<j {
                var dot = 0.0
                for r in 0..<rows { dot += q[r * cols + i] * q[r * cols + j] }
                for r in 0..<rows { q[r * cols + j] -= dot * q[r * cols + i] }
            }
            var norm = 0.0
            for r in 0..<rows { norm += q[r * cols + j] * q[r * cols + j] }
            for r in 0..<rows { q[r * cols + j] /= norm.squareRoot() }
        }
        return q
    }
}

/// Transformaly's z_p scoring (eval.py) written out in double precision from the formulas: np.cov, eigen-decomposition,
/// the 0.90 rule, whitened PCA, a one-component full-covariance Gaussian with reg 1e-6, squared Mahalanobis distance.
struct NaiveWhitenedGaussian {
    let k: Int
    let mean: [Double]
    let projection: [[Double]]
    let muHat: [Double]
    let sigma: [Double]

    init(features: [Float], n: Int, d: Int, varianceKept: Double = 0.9) {
        let x = features.map(Double.init)
        mean = (0..<d).map { c in (0..<n).reduce(0.0) { $0 + x[$1 * d + c] } / Double(n) }
        var cov = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0..<d {
                var s = 0.0
                for r in 0..<n { s += (x[r * d + i] - mean[i]) * (x[r * d + j] - mean[j]) }
                cov[i * d + j] = s / Double(n - 1)
            }
        }
        let (values, vectors) = NaiveLinearAlgebra.symmetricEigen(cov, n: d)
        let total = values.reduce(0, +)
        var cumulative = 0.0, chosen = d - 1
        for (i, value) in values.enumerated() {
            cumulative += value
            if cumulative / total > varianceKept { chosen = i; break }
        }
        k = max(chosen, 1)
        projection = (0..<k).map { j in vectors[j].map { $0 / values[j].squareRoot() } }
        let meanCopy = mean, projectionCopy = projection
        let whitened = (0..<n).map { r in Self.project(Array(x[(r * d)..<(r * d + d)]), meanCopy, projectionCopy) }
        let k = self.k
        let muHat = (0..<k).map { c in whitened.reduce(0.0) { $0 + $1[c] } / Double(n) }
        var sigma = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in 0..<k {
                sigma[i * k + j] = whitened.reduce(0.0) { $0 + ($1[i] - muHat[i]) * ($1[j] - muHat[j]) } / Double(n)
            }
            sigma[i * k + i] += 1e-6
        }
        self.muHat = muHat
        self.sigma = sigma
    }

    private static func project(_ z: [Double], _ mean: [Double], _ projection: [[Double]]) -> [Double] {
        projection.map { row in zip(row, zip(z, mean)).reduce(0.0) { $0 + $1.0 * ($1.1.0 - $1.1.1) } }
    }

    func score(_ feature: [Float]) -> Double {
        let u = Self.project(feature.map(Double.init), mean, projection)
        let r = zip(u, muHat).map { $0 - $1 }
        let solved = NaiveLinearAlgebra.solve(sigma, r, n: k)
        return zip(r, solved).reduce(0.0) { $0 + $1.0 * $1.1 }
    }
}
