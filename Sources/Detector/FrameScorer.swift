import Engine
import Foundation

/// One frame's scores: the raw detector scores, the calibrated verdict, and where in the picture the novelty is.
public struct FrameScore: Sendable {
    /// The raw scores by component, as `Calibration` takes them.
    public let raw: [ScoreComponent: Double]
    /// Under the bundle's calibration; the pipeline re-weighs the raw scores under its live one.
    public let verdict: Verdict
    /// Per-patch MKD errors, G×G row-major; empty (grid 0) for a model without a student.
    public let map: [Float]
    public let grid: Int
    /// Index of the largest map cell (row = peak / grid, column = peak % grid); 0 without a map.
    public let peak: Int

    public var mkd: Double? { raw[.mkd] }
    public var gaussian: Double? { raw[.gaussian] }
    /// The student's error profile's squared Mahalanobis distance, when the student is scored that way.
    public var mkdProfile: Double? { raw[.mkdProfile] }
}

/// The detectors' raw scores for packed frames: the teacher runs once per frame for all of them. Owns the teacher's
/// and the student's scratch buffers, so each user (a stage, a refit, a command) makes its own.
public final class RawScorer {
    public let teacher: ViTRunner
    public let gaussian: FeatureGaussian?
    /// The Gaussian of the training frames' error profiles, when the student is scored by its profile.
    public let profileGaussian: FeatureGaussian?
    private let mkd: MaskedDistillationScorer?

    /// `teacher`'s workers and the student's each score a batch of up to `teacher`'s batch (BLAS single-threaded
    /// inside each).
    public init(teacher: ViTRunner, student: ViTParameters?, gaussian: FeatureGaussian?, profileGaussian: FeatureGaussian? = nil) {
        self.teacher = teacher
        self.gaussian = gaussian
        self.profileGaussian = profileGaussian
        mkd = student.map {
            MaskedDistillationScorer(student: Student(parameters: $0), workers: teacher.workers, maxBatch: teacher.maxBatch)
        }
    }

    public var imageBytes: Int { teacher.vit.config.imageSize * teacher.vit.config.imageSize * 3 }

    /// The student's scores and maps, and one raw score per frame of every component this scorer can give, for
    /// `count` frames packed at `rgb` (at most the teacher's batch).
    public func scores(rgb: UnsafePointer<UInt8>, count: Int) throws -> (mkd: MKDScores?, raw: [ScoreComponent: [Double]]) {
        try scores(teacher: teacher.forward(rgb: rgb, batch: count), rgb: rgb)
    }

    /// The same from the teacher's output for those frames, for callers that cache it (the quality benchmark).
    public func scores(teacher: ViTOutput, rgb: UnsafePointer<UInt8>) throws -> (mkd: MKDScores?, raw: [ScoreComponent: [Double]]) {
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

/// The teacher and a model bundle: the one way frames become calibrated scores, for the pipeline, refit
/// validation, `anomalyd score` and the tests. Not Sendable (it owns scratch buffers): each user makes its own.
public final class FrameScorer {
    public let bundle: ModelBundle
    private let raw: RawScorer

    /// Up to `maxBatch` frames at a time, spread over `workers` threads.
    public init(teacher: ViT, bundle: ModelBundle, workers: Int, maxBatch: Int) {
        self.bundle = bundle
        raw = RawScorer(teacher: ViTRunner(vit: teacher, workers: workers, maxBatch: maxBatch), student: bundle.student,
                        gaussian: bundle.gaussian, profileGaussian: bundle.profileGaussian)
    }

    public var version: String { bundle.metadata.modelVersion }
    /// The side of the square RGB frames it scores.
    public var imageSize: Int { raw.teacher.vit.config.imageSize }

    /// Scores any number of frames packed as RGB24 (`imageSize`² × 3 bytes each), a batch at a time, after the
    /// bundle's brightness gain (on a copy).
    public func score(_ rgb: UnsafeBufferPointer<UInt8>) throws -> [FrameScore] {
        let bytes = raw.imageBytes, count = rgb.count / bytes
        precondition(rgb.count == count * bytes, "\(rgb.count) bytes are not whole \(bytes)-byte frames")
        var out: [FrameScore] = []
        out.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: raw.teacher.maxBatch) {
            let n = min(raw.teacher.maxBatch, count - start)
            let frames = rgb.baseAddress! + start * bytes
            guard let gain = bundle.metadata.brightness else {
                out += try score(teacher: raw.teacher.forward(rgb: frames, batch: n), rgb: frames)
                continue
            }
            var batch = Array(UnsafeBufferPointer(start: frames, count: n * bytes))
            gain.apply(to: &batch, imageBytes: bytes)
            out += try batch.withUnsafeBufferPointer { b in
                try score(teacher: raw.teacher.forward(rgb: b.baseAddress!, batch: n), rgb: b.baseAddress!)
            }
        }
        return out
    }

    public func score(_ rgb: [UInt8]) throws -> [FrameScore] {
        try rgb.withUnsafeBufferPointer { try score($0) }
    }

    /// Scores frames whose teacher output the caller already has (the quality benchmark caches it); `rgb` must
    /// already have the bundle's brightness gain, as the teacher's input had.
    public func score(teacher: ViTOutput, rgb: UnsafePointer<UInt8>) throws -> [FrameScore] {
        let (mkd, batchRaw) = try raw.scores(teacher: teacher, rgb: rgb)
        return try (0..<teacher.batch).map { b in
            let raw = batchRaw.mapValues { $0[b] }
            let verdict = try bundle.calibration.evaluate(raw)
            guard let mkd else { return FrameScore(raw: raw, verdict: verdict, map: [], grid: 0, peak: 0) }
            let cells = mkd.grid * mkd.grid
            let map = Array(mkd.maps[(b * cells)..<((b + 1) * cells)])
            let peak = map.indices.max { map[$0] < map[$1] } ?? 0
            return FrameScore(raw: raw, verdict: verdict, map: map, grid: mkd.grid, peak: peak)
        }
    }
}
