import CBLAS
import Foundation

/// Why a Gaussian could not be fitted, used, or rebuilt from stored parameters.
public enum FeatureGaussianError: Error, CustomStringConvertible, Equatable {
    case tooFewSamples(count: Int)
    /// A buffer's length does not match count × dimension.
    case dimensionMismatch(expected: Int, found: Int)
    case nonFiniteFeature(row: Int, column: Int)
    case invalidVarianceKept(Double)
    /// Every feature is (numerically) the same point, so there is no variance to whiten.
    case degenerateFeatures(totalVariance: Double)
    case eigendecompositionFailed(info: Int)
    case choleskyFailed(order: Int, info: Int)
    /// A stored parameter is malformed (used when rebuilding a saved model).
    case invalidParameter(field: String, detail: String)

    public var description: String {
        switch self {
        case let .tooFewSamples(count):
            return "The feature Gaussian needs at least 2 normal frames to estimate a covariance, but got \(count)."
        case let .dimensionMismatch(expected, found):
            return "The feature buffer holds \(found) values, but \(expected) were expected (count × feature width)."
        case let .nonFiniteFeature(row, column):
            return "Feature row \(row) has a non-finite value (NaN or infinity) in column \(column)."
        case let .invalidVarianceKept(value):
            return "The share of variance the PCA keeps must be in (0, 1), but it is \(value)."
        case let .degenerateFeatures(total):
            return "The normal frames' features have total variance \(total), so there is nothing to whiten; collect frames that actually vary."
        case let .eigendecompositionFailed(info):
            return "LAPACK dsyevd failed to diagonalise the feature covariance (info \(info))."
        case let .choleskyFailed(order, info):
            return "The \(order)×\(order) covariance of the whitened features is not positive definite (dpotrf info \(info)); the normal frames are probably near-duplicates: collect more varied frames or lower the PCA variance share."
        case let .invalidParameter(field, detail):
            return "Gaussian parameter '\(field)' is invalid: \(detail)."
        }
    }
}

/// Transformaly's pretrained-feature Gaussian (ALGORITHM.md 4.5): PCA whitening of the teacher's CLS feature,
/// then a single full-covariance Gaussian on the whitened features. The score is the squared Mahalanobis distance
/// (u−μ̂)ᵀΣ̂⁻¹(u−μ̂), which ranks frames exactly like −LL_p (the dropped terms are constants). The feature may also be
/// CLS + mean patch token (`GaussianFeature`), and the covariance a Ledoit-Wolf shrinkage of all directions instead
/// of the PCA cut (`GaussianCovariance`), stored in the same form.
///
/// The model is fitted in double precision and stored in Float32, the precision the bundle keeps on disk, so a
/// fitted model and the same model loaded back score identically.
public struct FeatureGaussian: Sendable, Equatable {
    /// What the feature is; its width is `dimension`.
    public let feature: GaussianFeature
    /// Feature width d.
    public let dimension: Int
    /// Principal components kept, k.
    public let components: Int
    /// Feature mean μ, [d].
    public let mean: [Float]
    /// Whitening matrix Λ_k^{-1/2}·V_kᵀ, [k, d] row-major: row j is the j-th eigenvector divided by √λ_j.
    public let projection: [Float]
    /// The kept eigenvalues λ_0 ≥ … ≥ λ_{k−1} of the ddof-1 covariance, [k].
    public let eigenvalues: [Float]
    /// Sum of all d eigenvalues, so that the kept share of variance can be reported.
    public let totalVariance: Double
    /// μ̂, the mean of the whitened training features, [k].
    public let whitenedMean: [Float]
    /// Lower-triangular L with Σ̂ = L·Lᵀ, [k, k] row-major, zeros above the diagonal.
    public let cholesky: [Float]

    /// sklearn GaussianMixture's default `reg_covar`, which Transformaly keeps.
    public static let defaultRegularization = 1e-6

    /// Share of the total variance the kept components explain.
    public var explainedVarianceRatio: Double { eigenvalues.reduce(0) { $0 + Double($1) } / totalVariance }

    /// Rebuilds a model from stored parameters, checking shapes and values so that scoring cannot misbehave.
    public init(feature: GaussianFeature = .cls, dimension d: Int, components k: Int, mean: [Float], projection: [Float], eigenvalues: [Float],
                totalVariance: Double, whitenedMean: [Float], cholesky: [Float]) throws {
        func check(_ field: String, _ values: [Float], count: Int) throws {
            guard values.count == count else {
                throw FeatureGaussianError.invalidParameter(field: field, detail: "it has \(values.count) values, expected \(count)")
            }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw FeatureGaussianError.invalidParameter(field: field, detail: "value \(bad) is not finite")
            }
        }
        guard d >= 1, k >= 1, k <= d else {
            throw FeatureGaussianError.invalidParameter(field: "components", detail: "\(k) components of a \(d)-wide feature (need 1 ≤ k ≤ d)")
        }
        try check("mean", mean, count: d)
        try check("projection", projection, count: k * d)
        try check("eigenvalues", eigenvalues, count: k)
        try check("whitened_mean", whitenedMean, count: k)
        try check("cholesky", cholesky, count: k * k)
        guard eigenvalues.allSatisfy({ $0 > 0 }) else {
            throw FeatureGaussianError.invalidParameter(field: "eigenvalues", detail: "kept eigenvalues must be positive")
        }
        guard totalVariance.isFinite, totalVariance >= Double(eigenvalues.reduce(0, +)) * (1 - 1e-5) else {
            throw FeatureGaussianError.invalidParameter(field: "total_variance", detail: "\(totalVariance) is smaller than the kept eigenvalues' sum")
        }
        for i in 0..<k {
            guard cholesky[i * k + i] > 0 else {
                throw FeatureGaussianError.invalidParameter(field: "cholesky", detail: "diagonal element \(i) is not positive")
            }
            guard cholesky[(i * k + i + 1)..<(i * k + k)].allSatisfy({ $0 == 0 }) else {
                throw FeatureGaussianError.invalidParameter(field: "cholesky", detail: "row \(i) is not lower triangular")
            }
        }
        self.feature = feature
        dimension = d
        components = k
        self.mean = mean
        self.projection = projection
        self.eigenvalues = eigenvalues
        self.totalVariance = totalVariance
        self.whitenedMean = whitenedMean
        self.cholesky = cholesky
    }

    /// Fits the model on `count` features of width `dimension`, row-major in `features`.
    /// n ≤ d is fine (the PCA drops the null space; Ledoit-Wolf shrinkage fills it), n < 2 is not.
    public static func fit(features: [Float], count n: Int, dimension d: Int, feature: GaussianFeature = .cls,
                           covariance: GaussianCovariance = .pca, varianceKept: Double = 0.9,
                           regularization: Double = defaultRegularization) throws -> FeatureGaussian {
        guard n >= 2 else { throw FeatureGaussianError.tooFewSamples(count: n) }
        guard d >= 1, features.count == n * d else { throw FeatureGaussianError.dimensionMismatch(expected: n * d, found: features.count) }
        guard covariance == .ledoitWolf || (varianceKept > 0 && varianceKept < 1) else {
            throw FeatureGaussianError.invalidVarianceKept(varianceKept)
        }
        try checkFinite(features, width: d)

        // Mean and centred features in double: CLS features share a large common offset, and the covariance
        // of many nearly equal vectors loses digits in single precision.
        var mu = [Double](repeating: 0, count: d)
        for r in 0..<n { for c in 0..<d { mu[c] += Double(features[r * d + c]) } }
        for c in 0..<d { mu[c] /= Double(n) }
        var centred = [Double](repeating: 0, count: n * d)
        for r in 0..<n { for c in 0..<d { centred[r * d + c] = Double(features[r * d + c]) - mu[c] } }

        // np.cov (ddof 1), then its eigen-structure.
        var cov = [Double](repeating: 0, count: d * d)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(n), 1 / Double(n - 1),
                    centred, Int32(d), 0, &cov, Int32(d))
        for i in 0..<d { for j in 0..<i { cov[i * d + j] = cov[j * d + i] } }
        let (ascending, vectors) = try symmetricEigen(cov, order: d)
        let lambda = Array(ascending.reversed())
        let total = lambda.reduce(0, +)
        guard total.isFinite, total > 0 else { throw FeatureGaussianError.degenerateFeatures(totalVariance: total) }
        if covariance == .ledoitWolf {
            return try shrunk(centred: centred, mean: mu, count: n, dimension: d, feature: feature,
                              eigenvalues: lambda, eigenvectors: vectors, totalVariance: total)
        }
        // The kept eigenvalues are positive: λ_0 > 0 as total > 0, and the rule stops before the small tail.
        let k = componentCount(descendingEigenvalues: lambda, varianceKept: varianceKept)

        // Row j of the projection is the eigenvector of the j-th largest eigenvalue over √λ_j (sklearn whiten=True).
        // dsyevd returns eigenvectors as columns of a column-major matrix, i.e. contiguous runs of d values.
        var projection = [Double](repeating: 0, count: k * d)
        for j in 0..<k {
            let column = d - 1 - j
            let scale = 1 / lambda[j].squareRoot()
            for c in 0..<d { projection[j * d + c] = vectors[column * d + c] * scale }
        }
        // The stored (Float) projection defines the model; whiten the training features with it so that the
        // Gaussian below matches what scoring computes.
        let storedProjection = projection.map { Float($0) }
        let storedMean = mu.map { Float($0) }
        var recentred = [Double](repeating: 0, count: n * d)
        for r in 0..<n { for c in 0..<d { recentred[r * d + c] = Double(features[r * d + c]) - Double(storedMean[c]) } }
        var whitened = [Double](repeating: 0, count: n * k)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(k), Int32(d), 1, recentred, Int32(d),
                    storedProjection.map { Double($0) }, Int32(d), 0, &whitened, Int32(k))

        // One-component GaussianMixture: EM converges in one step to the maximum-likelihood (1/n) covariance.
        var muHat = [Double](repeating: 0, count: k)
        for r in 0..<n { for c in 0..<k { muHat[c] += whitened[r * k + c] } }
        for c in 0..<k { muHat[c] /= Double(n) }
        for r in 0..<n { for c in 0..<k { whitened[r * k + c] -= muHat[c] } }
        var sigma = [Double](repeating: 0, count: k * k)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(k), Int32(n), 1 / Double(n), whitened, Int32(k),
                    0, &sigma, Int32(k))
        for i in 0..<k {
            sigma[i * k + i] += regularization
            for j in 0..<i { sigma[i * k + j] = sigma[j * k + i] }
        }
        let lower = try choleskyLower(sigma, order: k)

        return try FeatureGaussian(feature: feature, dimension: d, components: k, mean: storedMean, projection: storedProjection,
                                   eigenvalues: lambda[0..<k].map { Float($0) }, totalVariance: total,
                                   whitenedMean: muHat.map { Float($0) }, cholesky: lower.map { Float($0) })
    }

    /// Ledoit-Wolf (2004) with sklearn's estimate of the shrinkage: C = (1 − ρ)·S + ρ·m·I, S the maximum-likelihood
    /// (1/n) covariance, m = tr(S)/d, ρ = min(β, δ)/δ with δ = ‖S − m·I‖²/d and β = (Σᵢ‖xᵢ‖⁴/n − ‖S‖²)/(d·n) over the
    /// centred rows xᵢ (Frobenius norms). C has S's eigenvectors and eigenvalues (1 − ρ)·sⱼ + ρ·m, so it is stored as a
    /// whitening of all d directions with an identity second stage: the score is Σⱼ (vⱼᵀ(x − μ))² / cⱼ.
    private static func shrunk(centred: [Double], mean mu: [Double], count n: Int, dimension d: Int,
                               feature: GaussianFeature, eigenvalues lambda: [Double], eigenvectors vectors: [Double],
                               totalVariance total: Double) throws -> FeatureGaussian {
        let biased = Double(n - 1) / Double(n)
        let s = lambda.map { max($0, 0) * biased }           // eigenvalues of S, descending
        let trace = s.reduce(0, +)
        let m = trace / Double(d)
        let frobenius = s.reduce(0) { $0 + $1 * $1 }         // ‖S‖², the sum of squared eigenvalues
        var fourth = 0.0
        for r in 0..<n {
            var norm = 0.0
            for c in 0..<d { norm += centred[r * d + c] * centred[r * d + c] }
            fourth += norm * norm
        }
        let delta = (frobenius - 2 * m * trace + Double(d) * m * m) / Double(d)
        let beta = min((fourth / Double(n) - frobenius) / (Double(d) * Double(n)), delta)
        let rho = delta > 0 ? max(beta / delta, 0) : 1
        // A floor far below m keeps the whitening finite should ρ come out 0 with n ≤ d.
        let shrunk = s.map { max((1 - rho) * $0 + rho * m, 1e-9 * m) }
        var projection = [Float](repeating: 0, count: d * d)
        for j in 0..<d {
            let column = d - 1 - j
            let scale = 1 / shrunk[j].squareRoot()
            for c in 0..<d { projection[j * d + c] = Float(vectors[column * d + c] * scale) }
        }
        var identity = [Float](repeating: 0, count: d * d)
        for i in 0..<d { identity[i * d + i] = 1 }
        return try FeatureGaussian(feature: feature, dimension: d, components: d, mean: mu.map { Float($0) },
                                   projection: projection, eigenvalues: shrunk.map { Float($0) }, totalVariance: total,
                                   whitenedMean: [Float](repeating: 0, count: d), cholesky: identity)
    }

    /// Transformaly's PCA size rule (eval.py:137-146), replicated for parity: k is the first 0-based index i whose
    /// cumulative explained variance ratio exceeds `varianceKept`, which is one fewer than the smallest number of
    /// components that exceeds it. The ratio is computed as the reference does (cumsum / cumsum[-1]). k is at
    /// least 1, because the reference's k = 0 (one dominant direction) would leave nothing to score.
    public static func componentCount(descendingEigenvalues lambda: [Double], varianceKept: Double) -> Int {
        var cumulative = [Double](repeating: 0, count: lambda.count)
        var sum = 0.0
        for (i, value) in lambda.enumerated() {
            sum += value
            cumulative[i] = sum
        }
        var k = lambda.count - 1
        for i in lambda.indices where cumulative[i] / sum > varianceKept {
            k = i
            break
        }
        return max(k, 1)
    }

    /// Squared Mahalanobis distances of `count` features (row-major, width `dimension`): one GEMM projects the
    /// whole batch, one triangular solve applies L⁻¹.
    public func scores(_ features: [Float], count n: Int) throws -> [Double] {
        let d = dimension, k = components
        guard features.count == n * d else { throw FeatureGaussianError.dimensionMismatch(expected: n * d, found: features.count) }
        guard n > 0 else { return [] }
        try Self.checkFinite(features, width: d)
        var centred = features
        for r in 0..<n { for c in 0..<d { centred[r * d + c] -= mean[c] } }
        var residual = [Float](repeating: 0, count: n * k)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(k), Int32(d), 1, centred, Int32(d),
                    projection, Int32(d), 0, &residual, Int32(k))
        for r in 0..<n { for c in 0..<k { residual[r * k + c] -= whitenedMean[c] } }
        // Rows become y = L⁻¹r (Y·Lᵀ = R), and rᵀΣ̂⁻¹r = ‖y‖².
        cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, Int32(n), Int32(k), 1,
                    cholesky, Int32(k), &residual, Int32(k))
        return (0..<n).map { r in
            var s = 0.0
            for c in 0..<k { s += Double(residual[r * k + c]) * Double(residual[r * k + c]) }
            return s
        }
    }

    /// Squared Mahalanobis distance of one feature, e.g. `ViTOutput.cls(b)`.
    public func score<C: Collection>(_ feature: C) throws -> Double where C.Element == Float {
        try scores(Array(feature), count: 1)[0]
    }

    private static func checkFinite(_ features: [Float], width d: Int) throws {
        if let bad = features.firstIndex(where: { !$0.isFinite }) {
            throw FeatureGaussianError.nonFiniteFeature(row: bad / d, column: bad % d)
        }
    }

    /// Eigenvalues (ascending) and eigenvectors (column-major columns) of a symmetric matrix, by LAPACK dsyevd.
    static func symmetricEigen(_ matrix: [Double], order n: Int) throws -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var w = [Double](repeating: 0, count: n)
        var size = Int32(n), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workSize = 0.0
        var iworkSize: Int32 = 0
        // Workspace query first, as LAPACK recommends; the symmetric matrix reads the same in either storage order.
        dsyevd_("V", "U", &size, &a, &size, &w, &workSize, &lwork, &iworkSize, &liwork, &info)
        guard info == 0 else { throw FeatureGaussianError.eigendecompositionFailed(info: Int(info)) }
        lwork = Int32(workSize)
        liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_("V", "U", &size, &a, &size, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw FeatureGaussianError.eigendecompositionFailed(info: Int(info)) }
        return (w, a)
    }

    /// Row-major lower-triangular L with A = L·Lᵀ, by LAPACK dpotrf.
    static func choleskyLower(_ matrix: [Double], order n: Int) throws -> [Double] {
        var a = matrix
        var size = Int32(n), info: Int32 = 0
        // Column-major upper U (A = UᵀU) read row-major is L = Uᵀ.
        dpotrf_("U", &size, &a, &size, &info)
        guard info == 0 else { throw FeatureGaussianError.choleskyFailed(order: n, info: Int(info)) }
        // dpotrf leaves the other triangle (row-major upper) holding A's entries.
        for i in 0..<n { for j in (i + 1)..<n { a[i * n + j] = 0 } }
        return a
    }
}
