import Engine
import Foundation

/// One frame's scores: the raw detector scores, the calibrated verdict, and where in the picture the novelty is.
public struct FrameScore: Sendable {
    /// The raw scores by component, as `Calibration` takes them.
    public let raw: [ScoreComponent: Double]
    /// Under the bundle's calibration; the pipeline re-weighs the raw scores under its live one.
    public let verdict: Verdict
    /// Where the frame is novel, one G×G row-major map per tile, tile after tile: the patch memory's map when the
    /// model has one (`PatchMemory.map`), else the student's per-patch errors; empty (grid 0) for a model with neither.
    public let map: [Float]
    public let grid: Int
    /// The model inputs the frame was scored as (its tiles); 1 for a frame scored whole.
    public let tiles: Int
    /// Index of the largest map cell (tile = peak / grid², row = peak / grid % grid, column = peak % grid); 0 without
    /// a map.
    public let peak: Int
    /// The patch memory's cell scores and eq. 7 factors, tile after tile (`PatchMemory.Scored`), which the live
    /// levels re-score the frame from; empty without a patch memory.
    public let patchCells: [Float]
    public let patchWeights: [Float]
    /// The patch memory's most novel cells of the frame, with their features; empty without a patch memory.
    public var novel = NovelPatches()

    public var mkd: Double? { raw[.mkd] }
    public var gaussian: Double? { raw[.gaussian] }
    /// The student's error profile's squared Mahalanobis distance, when the student is scored that way.
    public var mkdProfile: Double? { raw[.mkdProfile] }
    /// The patch memory's reweighted largest nearest-neighbour distance.
    public var patch: Double? { raw[.patch] }
}

/// A batch's raw scores: one per frame for every component the scorer has, and the maps that locate novelty.
public struct RawScores {
    public var raw: [ScoreComponent: [Double]] = [:]
    /// The student's scores and per-patch errors.
    public var mkd: MKDScores?
    /// The patch memory's cells, factors and score per frame (`PatchMemory.score`).
    public var patch: [PatchMemory.Scored] = []
}

/// The detectors' raw scores for packed frames: the teacher runs once per frame for all of them. Owns the teacher's
/// and the student's scratch buffers, so each user (a stage, a refit, a command) makes its own.
public final class RawScorer {
    public let teacher: ViTRunner
    public let gaussian: FeatureGaussian?
    /// The Gaussian of the training frames' error profiles, when the student is scored by its profile.
    public let profileGaussian: FeatureGaussian?
    public let patchMemory: PatchMemory?
    private let mkd: MaskedDistillationScorer?

    /// `teacher`'s workers and the student's each score a batch of up to `teacher`'s batch (BLAS single-threaded
    /// inside each).
    public init(teacher: ViTRunner, student: ViTParameters?, gaussian: FeatureGaussian?, profileGaussian: FeatureGaussian? = nil,
                patchMemory: PatchMemory? = nil) {
        self.teacher = teacher
        self.gaussian = gaussian
        self.profileGaussian = profileGaussian
        self.patchMemory = patchMemory
        mkd = student.map {
            MaskedDistillationScorer(student: Student(parameters: $0), workers: teacher.workers, maxBatch: teacher.maxBatch)
        }
    }

    public var imageBytes: Int { teacher.vit.config.imageSize * teacher.vit.config.imageSize * 3 }

    /// The teacher blocks whose outputs the scorer needs beyond the final tokens.
    public var capturedBlocks: Set<Int> { Set(patchMemory?.blocks ?? []) }

    /// Every component's raw scores and the maps for `count` frames packed at `rgb` (at most the teacher's batch).
    public func scores(rgb: UnsafePointer<UInt8>, count: Int) throws -> RawScores {
        try scores(teacher: teacher.forward(rgb: rgb, batch: count, captureBlocks: capturedBlocks), rgb: rgb)
    }

    /// The same from the teacher's output for those frames (with `capturedBlocks`), for callers that cache it (the
    /// quality benchmark).
    public func scores(teacher: ViTOutput, rgb: UnsafePointer<UInt8>) throws -> RawScores {
        var out = RawScores()
        out.mkd = mkd?.score(teacher: teacher, rgb: rgb)
        if let m = out.mkd {
            out.raw[.mkd] = m.scores.map(Double.init)
            if let profileGaussian {
                out.raw[.mkdProfile] = try profileGaussian.scores(StudentScore.profileFeature(m.profiles), count: m.batch)
            }
        }
        if let gaussian {
            var features = [Float]()
            features.reserveCapacity(teacher.batch * gaussian.dimension)
            for b in 0..<teacher.batch { gaussian.feature.append(teacher, frame: b, to: &features) }
            out.raw[.gaussian] = try gaussian.scores(features, count: teacher.batch)
        }
        if let patchMemory {
            out.patch = patchMemory.scores(teacher, workers: self.teacher.workers)
            out.raw[.patch] = out.patch.map(\.score)
        }
        return out
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
                        gaussian: bundle.gaussian, profileGaussian: bundle.profileGaussian, patchMemory: bundle.patchMemory)
    }

    public var version: String { bundle.metadata.modelVersion }
    /// The side of the square RGB frames it scores.
    public var imageSize: Int { raw.teacher.vit.config.imageSize }

    /// Tiles per frame the bundle was calibrated for (`FrameCounts.tilesPerFrame`).
    public var tilesPerFrame: Int { bundle.metadata.frames.tiles }

    /// Scores any number of frames packed as RGB24 (`imageSize`² × 3 bytes per image, `tilesPerFrame` images per
    /// frame, tile-major), a batch of images at a time, after the bundle's brightness gain (on a copy). A tiled
    /// frame's raw score per component is its tiles' largest, the statistic the bundle's tails were fitted on.
    public func score(_ rgb: UnsafeBufferPointer<UInt8>) throws -> [FrameScore] {
        let tiles = tilesPerFrame
        let images = try scoreImages(rgb)
        guard tiles > 1 else { return images }
        precondition(images.count % tiles == 0, "\(images.count) images are not whole frames of \(tiles) tiles")
        return try stride(from: 0, to: images.count, by: tiles).map { try combine(images[$0..<($0 + tiles)]) }
    }

    /// One frame's score from its tiles' scores.
    private func combine(_ tiles: ArraySlice<FrameScore>) throws -> FrameScore {
        var raw: [ScoreComponent: Double] = [:]
        for t in tiles { raw.merge(t.raw, uniquingKeysWith: max) }
        let map = tiles.flatMap(\.map)
        let peak = map.indices.max { map[$0] < map[$1] } ?? 0
        return FrameScore(raw: raw, verdict: try bundle.calibration.evaluate(raw), map: map, grid: tiles.first!.grid,
                          tiles: tiles.count, peak: peak, patchCells: tiles.flatMap(\.patchCells),
                          patchWeights: tiles.flatMap(\.patchWeights),
                          novel: NovelPatches(tiles: tiles.map(\.novel), cellsPerTile: tiles.first!.grid * tiles.first!.grid))
    }

    private func scoreImages(_ rgb: UnsafeBufferPointer<UInt8>) throws -> [FrameScore] {
        let bytes = raw.imageBytes, count = rgb.count / bytes
        precondition(rgb.count == count * bytes, "\(rgb.count) bytes are not whole \(bytes)-byte frames")
        var out: [FrameScore] = []
        out.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: raw.teacher.maxBatch) {
            let n = min(raw.teacher.maxBatch, count - start)
            let frames = rgb.baseAddress! + start * bytes
            guard let gain = bundle.metadata.brightness else {
                out += try score(raw.scores(rgb: frames, count: n))
                continue
            }
            var batch = Array(UnsafeBufferPointer(start: frames, count: n * bytes))
            gain.apply(to: &batch, imageBytes: bytes)
            out += try batch.withUnsafeBufferPointer { try score(raw.scores(rgb: $0.baseAddress!, count: n)) }
        }
        return out
    }

    public func score(_ rgb: [UInt8]) throws -> [FrameScore] {
        try rgb.withUnsafeBufferPointer { try score($0) }
    }

    /// Scores frames whose teacher output the caller already has (the quality benchmark caches it); `rgb` must
    /// already have the bundle's brightness gain, as the teacher's input had.
    public func score(teacher: ViTOutput, rgb: UnsafePointer<UInt8>) throws -> [FrameScore] {
        try score(raw.scores(teacher: teacher, rgb: rgb))
    }

    private func score(_ scores: RawScores) throws -> [FrameScore] {
        let count = scores.raw.values.first?.count ?? 0
        return try (0..<count).map { b in
            let raw = scores.raw.mapValues { $0[b] }
            let verdict = try bundle.calibration.evaluate(raw)
            let map: [Float], grid: Int
            let patch = scores.patch.isEmpty ? nil : scores.patch[b]
            if let memory = self.raw.patchMemory, let patch {
                (map, grid) = (memory.map(patch.cells), memory.grid)
            } else if let mkd = scores.mkd {
                let cells = mkd.grid * mkd.grid
                (map, grid) = (Array(mkd.maps[(b * cells)..<((b + 1) * cells)]), mkd.grid)
            } else {
                return FrameScore(raw: raw, verdict: verdict, map: [], grid: 0, tiles: 1, peak: 0, patchCells: [], patchWeights: [])
            }
            let peak = map.indices.max { map[$0] < map[$1] } ?? 0
            return FrameScore(raw: raw, verdict: verdict, map: map, grid: grid, tiles: 1, peak: peak,
                              patchCells: patch?.cells ?? [], patchWeights: patch?.weights ?? [],
                              novel: patch?.novel ?? NovelPatches())
        }
    }
}
