import Engine
import Foundation

/// One frame's scores: the raw detector scores, the calibrated verdict, and where in the picture the novelty is.
public struct FrameScore: Sendable {
    public let mkd: Double?
    public let gaussian: Double?
    /// The student's error profile's squared Mahalanobis distance, when the student is scored that way.
    public let mkdProfile: Double?
    public let verdict: Verdict
    /// Per-patch MKD errors, G×G row-major (empty for a Gaussian-only model).
    public let map: [Float]
    public let grid: Int
    /// Index of the largest map cell (row = peak / grid, column = peak % grid); 0 without a map.
    public let peak: Int
}

/// The detectors' raw scores for a batch, from the teacher's output for it: the teacher runs once per frame for
/// all of them.
public final class RawScorer: @unchecked Sendable {
    public let gaussian: FeatureGaussian?
    /// The Gaussian of the training frames' error profiles, when the student is scored by its profile.
    public let profileGaussian: FeatureGaussian?
    private let mkd: MaskedDistillationScorer?

    /// `workers` threads score a batch of up to `maxBatch` frames (BLAS single-threaded inside each).
    public init(student: ViTParameters?, gaussian: FeatureGaussian?, profileGaussian: FeatureGaussian? = nil,
                workers: Int, maxBatch: Int) {
        self.gaussian = gaussian
        self.profileGaussian = profileGaussian
        mkd = student.map { MaskedDistillationScorer(student: Student(parameters: $0), workers: workers, maxBatch: maxBatch) }
    }

    /// The student's scores and maps, and one raw score per frame of every component this scorer can give.
    public func scores(teacher: ViTOutput, rgb: UnsafePointer<UInt8>) throws
        -> (mkd: MKDScores?, raw: [ScoreComponent: [Double]]) {
        var raw: [ScoreComponent: [Double]] = [:]
        let m = mkd?.score(teacher: teacher, rgb: rgb)
        if let m {
            raw[.mkd] = m.scores.map(Double.init)
            if let profileGaussian {
                raw[.mkdProfile] = try profileGaussian.scores(StudentScore.profileFeature(m.profiles), count: m.batch)
            }
        }
        if let gaussian {
            var features = [Float]()
            features.reserveCapacity(teacher.batch * gaussian.dimension)
            for b in 0..<teacher.batch { gaussian.feature.append(teacher, frame: b, to: &features) }
            raw[.gaussian] = try gaussian.scores(features, count: teacher.batch)
        }
        return (m, raw)
    }
}

/// A loaded detector: raw scores plus their calibration, giving each frame a verdict and a novelty map.
public final class AnomalyModel: @unchecked Sendable {
    public let bundle: ModelBundle
    private let raw: RawScorer

    public init(bundle: ModelBundle, workers: Int, maxBatch: Int) {
        self.bundle = bundle
        raw = RawScorer(student: bundle.student, gaussian: bundle.gaussian, profileGaussian: bundle.profileGaussian,
                        workers: workers, maxBatch: maxBatch)
    }

    public var version: String { bundle.metadata.modelVersion }

    public func score(teacher: ViTOutput, rgb: UnsafePointer<UInt8>, sensitivity: Double = 0.5) throws -> [FrameScore] {
        let (mkd, batchRaw) = try raw.scores(teacher: teacher, rgb: rgb)
        return try (0..<teacher.batch).map { b in
            let raw = batchRaw.mapValues { $0[b] }
            let verdict = try bundle.calibration.evaluate(raw, sensitivity: sensitivity)
            guard let mkd else {
                return FrameScore(mkd: nil, gaussian: raw[.gaussian], mkdProfile: nil, verdict: verdict, map: [], grid: 0, peak: 0)
            }
            let cells = mkd.grid * mkd.grid
            let map = Array(mkd.maps[(b * cells)..<((b + 1) * cells)])
            let peak = map.indices.max { map[$0] < map[$1] } ?? 0
            return FrameScore(mkd: raw[.mkd], gaussian: raw[.gaussian], mkdProfile: raw[.mkdProfile], verdict: verdict,
                              map: map, grid: mkd.grid, peak: peak)
        }
    }
}
