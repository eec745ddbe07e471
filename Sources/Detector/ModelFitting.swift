import Engine
import Foundation
import Kernels

/// Where a fit is: the teacher pass over the frames, then the student's epochs (from the trainer), then calibration.
public enum FitProgress: Sendable {
    case teacher(frames: Int, of: Int)
    case training(TrainingProgress)
    /// Every 64 greedy steps of a patch-memory coreset (seconds each on a large learning set).
    case choosingPatches
    case calibrating
}

/// Turns normal frames into a calibrated model bundle:
/// hold out a share of the frames (in runs of `blockLength` consecutive frames, so neighbours of a held-out frame
/// do not leak into training); run the teacher once per frame; train the student by masked distillation on the
/// training frames; fit the Gaussian on every frame's feature. Calibrate each component on scores of frames it did
/// not learn from (`Calibration`): the Gaussian's by cross-fitting (`crossFitFolds` runs of consecutive frames, each
/// scored by a Gaussian of the others: one score per learning frame, for the price of a few small fits); the
/// student's, too costly to train again, on the held-out frames, scored through the same path as run time; the
/// patch memory's, like the Gaussian's, by cross-fitting (`PatchMemory`: a coreset of the other folds' patches,
/// at the budget's share of them, scores each fold's frames; frames not kept for the memory are scored by their
/// fold's memory in a second teacher pass, so the tail has one score per learning frame). Without a student nothing
/// is held out and the frames are taken in time order.
/// `shouldStop` (asked between batches and training steps) ends the fit with `CancellationError`: it runs on a
/// plain thread, where task cancellation cannot reach. `initialStudent` (same shape) warm-starts the student
/// instead of a random initialisation.
public enum ModelFitting {
    public static func fit(rgb: [UInt8], count: Int, teacher: ViTRunner, teacherIdentity: TeacherIdentity,
                           settings: DetectorSettings, components: Set<ScoreComponent> = [.mkd, .gaussian],
                           blockLength: Int = 1, workers: Int = 2,
                           progress: (@Sendable (FitProgress) -> Void)? = nil,
                           shouldStop: @escaping @Sendable () -> Bool = { false },
                           initialStudent: ViTParameters? = nil, tilesPerFrame: Int = 1,
                           maxPatchCandidates: Int = PatchCandidates.maxPatches) throws -> ModelBundle {
        let c = teacher.vit.config
        var components = settings.patchMemory > 0 ? components.union([.patch]) : components.subtracting([.patch])
        if !settings.hasStudent { components.remove(.mkd) }
        // Before the teacher pass: a bad depth fails at once.
        let shape = components.contains(.mkd) ? try settings.studentConfig(teacher: c) : c
        let imageBytes = c.imageSize * c.imageSize * 3
        precondition(rgb.count == count * imageBytes, "rgb holds \(rgb.count / imageBytes) frames, not \(count)")
        precondition(tilesPerFrame >= 1 && count % tilesPerFrame == 0, "\(count) images are not whole frames of \(tilesPerFrame) tiles")
        // A frame's tiles are held out together: runs are whole frames.
        let split = try HoldoutSplit.split(count: count, fraction: settings.holdout, seed: settings.seed,
                                           blockLength: blockLength * tilesPerFrame)
        // Every frame the model sees, here and at run time, gets the same gain (none for black learning frames).
        let brightness = settings.normalizeBrightness
            ? rgb.withUnsafeBufferPointer { BrightnessGain.fit(rgb: $0) }.nonBlack : nil
        func gather(_ indices: ArraySlice<Int>) -> [UInt8] { Self.gather(rgb, indices, imageBytes, brightness) }

        // One teacher pass per frame: distillation targets from the training frames, the Gaussian's features from
        // all (rows in `order`).
        // Without a student nothing is held out: every component is cross-fitted, in time order.
        let order = components.contains(.mkd) ? split.train + split.holdout : Array(0..<count)
        var targets = TeacherTargets(teacher: c)
        if components.contains(.mkd) { targets.reserveCapacity(frames: split.train.count) }
        var features = [Float]()
        let featureWidth = settings.gaussianFeature.width(teacherWidth: c.width)
        if components.contains(.gaussian) { features.reserveCapacity(count * featureWidth) }
        var patches = PatchCandidates(teacher: c, count: count, enabled: components.contains(.patch), maxPatches: maxPatchCandidates)
        let batch = teacher.maxBatch
        var start = 0
        while start < order.count {
            if shouldStop() { throw CancellationError() }
            // A batch ends where the training frames do: only those are distillation targets.
            let n = min(batch, (start < split.train.count ? split.train.count : order.count) - start)
            defer { start += n }
            let packed = gather(order[start..<(start + n)])
            packed.withUnsafeBufferPointer { buf in
                let frames = buf.baseAddress!
                let out = teacher.forward(rgb: frames, batch: n, captureBlocks: Set(patches.blocks))
                if components.contains(.mkd), start < split.train.count { targets.append(out, rgb: frames) }
                if components.contains(.gaussian) { for b in 0..<n { settings.gaussianFeature.append(out, frame: b, to: &features) } }
                for b in 0..<n { patches.take(out, frame: b, index: order[start + b]) }
                progress?(.teacher(frames: start + n, of: count))
            }
        }

        var student: Student?
        var loss: [Double] = []
        if components.contains(.mkd) {
            let s = Student(config: shape, seed: settings.seed)
            // Warm start (a refit): continue from the live student's weights, copied so the live model is untouched.
            // A student of another shape (the depth setting changed) cannot be continued: it starts afresh.
            if let initial = initialStudent, initial.config.depth == shape.depth, initial.layout.count == s.parameters.layout.count {
                s.parameters.storage.data.update(from: initial.storage.data, count: initial.layout.count)
            }
            let trainer = MaskedDistillationTrainer(student: s, settings: settings, workers: workers)
            let report = trainer.train(targets, progress: { progress?(.training($0)) }, shouldStop: shouldStop)
            guard report.completed else { throw CancellationError() }
            student = s
            loss = report.epochLosses.map(Double.init)
        }
        // The student's error profiles on its training frames, from the cached targets (no second teacher pass).
        var profileGaussian: FeatureGaussian?
        if let student, settings.studentScore == .channelProfile {
            let scorer = MaskedDistillationScorer(student: student, workers: workers, maxBatch: batch)
            var profiles = [Float]()
            profiles.reserveCapacity(targets.count * c.width)
            for start in stride(from: 0, to: targets.count, by: batch) {
                if shouldStop() { throw CancellationError() }
                profiles += scorer.score(targets: targets, frames: start..<min(start + batch, targets.count)).profiles
            }
            profileGaussian = try FeatureGaussian.fit(features: StudentScore.profileFeature(profiles), count: targets.count,
                                                      dimension: c.width,
                                                      feature: .studentErrorProfile, covariance: .ledoitWolf)
        }
        targets = TeacherTargets(teacher: c)   // release the cached targets before calibrating
        progress?(.calibrating)
        var normal: [ScoreComponent: [Int: Double]] = [:]
        var gaussian: FeatureGaussian?
        if components.contains(.gaussian) {
            func fitGaussian(_ rows: [Int]) throws -> FeatureGaussian {
                var x = [Float]()
                x.reserveCapacity(rows.count * featureWidth)
                for r in rows { x += features[(r * featureWidth)..<((r + 1) * featureWidth)] }
                return try FeatureGaussian.fit(features: x, count: rows.count, dimension: featureWidth,
                                               feature: settings.gaussianFeature, covariance: settings.gaussianCovariance,
                                               varianceKept: settings.varianceKept)
            }
            gaussian = try fitGaussian(Array(order.indices))
            // Folds are runs of consecutive frames: a frame's neighbours are near-duplicates of it.
            let folds = min(crossFitFolds, count / 2)
            var scores = [Double](repeating: 0, count: order.count)
            for fold in 0..<folds {
                if shouldStop() { throw CancellationError() }
                let inFold = order.indices.filter { order[$0] * folds / count == fold }
                let fitted = try fitGaussian(order.indices.filter { order[$0] * folds / count != fold })
                for r in inFold { scores[r] = try fitted.score(features[(r * featureWidth)..<((r + 1) * featureWidth)]) }
            }
            normal[.gaussian] = Self.perFrame(scores, images: order, tiles: tilesPerFrame)
        }
        var patchMemory: PatchMemory?
        if components.contains(.patch) {
            // The coresets ask this every 64 steps: that is the fit's progress too (the daemon's watchdog waits for it).
            let choosing = { progress?(.choosingPatches); return shouldStop() }
            patches.scaleChannels()
            var folds = try patches.foldMemories(budget: settings.patchMemory, seed: settings.seed, folds: crossFitFolds,
                                                 shouldStop: choosing)
            // Each cell's normalisation from the kept frames' out-of-sample distances, then those frames scored with it.
            let found = patches.nearestKept(folds) { progress?(.calibrating) }
            let normalization = PatchMemory.cellNormalization(distances: found.flatMap(\.distances), grid: patches.grid)
            folds = try folds.map { try $0.with(normalization, baseline: 0) }
            var (scores, cells) = patches.scoreKept(folds, found)
            // The frames not kept for the memory are scored too, in a second teacher pass: the tail then rests on every
            // learning frame (500 scores of a 3,000-frame learning phase left its shape to a handful of them).
            let rest = (0..<count).filter { !patches.keeps($0) }
            for start in stride(from: 0, to: rest.count, by: batch) {
                if shouldStop() { throw CancellationError() }
                let frames = rest[start..<min(start + batch, rest.count)]
                let out = gather(frames).withUnsafeBufferPointer {
                    teacher.forward(rgb: $0.baseAddress!, batch: frames.count, captureBlocks: Set(patches.blocks))
                }
                for r in PatchMemory.scores(out, workers: workers, memory: { folds[patches.fold(of: frames[start + $0])] }) {
                    scores.append(r.score)
                    cells += r.cells
                }
                progress?(.calibrating)
            }
            // Each cell's own level, per tile (a frame's tiles are consecutive images), for the live levels.
            let images = patches.indices + rest, p = patches.grid * patches.grid
            var byTile = [[Float]](repeating: [], count: tilesPerFrame)
            for (k, image) in images.enumerated() { byTile[image % tilesPerFrame] += cells[(k * p)..<((k + 1) * p)] }
            let levels = byTile.contains(where: \.isEmpty) ? nil : byTile.flatMap { PatchMemory.levels($0, cellsPerFrame: p) }
            let baseline = cells.isEmpty ? 0 : PatchMemory.quantile(&cells, PatchMemory.cellQuantile)
            patchMemory = try patches.memory(budget: settings.patchMemory, seed: settings.seed, shouldStop: choosing)
                .with(normalization, baseline: baseline, cellLevels: levels)
            normal[.patch] = Self.perFrame(scores, images: patches.indices + rest, tiles: tilesPerFrame)
        }
        if let student {
            // The student's tail: the held-out frames, scored exactly as frames will be at run time.
            let scorer = RawScorer(teacher: teacher, student: student.parameters, gaussian: nil, profileGaussian: profileGaussian)
            let component = settings.studentScore.component
            var scores = [Double]()
            for start in stride(from: 0, to: split.holdout.count, by: batch) {
                let n = min(batch, split.holdout.count - start)
                let packed = gather(split.holdout[start..<(start + n)])
                let raw = try packed.withUnsafeBufferPointer { try scorer.scores(rgb: $0.baseAddress!, count: n).raw }
                scores += raw[component] ?? []
                progress?(.calibrating)
            }
            normal[component] = Self.perFrame(scores, images: split.holdout, tiles: tilesPerFrame)
        }
        let calibration = try Calibration.fit(frames: normal, holdoutCount: split.holdout.count, fusion: settings.fusion)
        // The calibration holds for the teacher as it ran here: record its precision.
        var teacherRan = teacherIdentity
        teacherRan.precision = teacher.vit.precision.rawValue
        return ModelBundle(student: student?.parameters, gaussian: gaussian, profileGaussian: profileGaussian,
                           patchMemory: patchMemory, calibration: calibration,
                           teacher: teacherRan, settings: settings,
                           frames: FrameCounts(train: split.train.count, holdout: split.holdout.count,
                                               tilesPerFrame: tilesPerFrame > 1 ? tilesPerFrame : nil),
                           trainingLoss: loss, brightness: brightness)
    }

    /// One score per frame, keyed by frame, from scores of its tiles (`images[i]` is the image `scores[i]` is of; a
    /// frame's tiles are consecutive images): the largest, as `FrameScorer` takes a tiled frame's at run time, so the
    /// tail is the frame's and the budget counts frames, not tiles. The keys align the components' scores of a frame
    /// for the fused statistic's tail.
    static func perFrame(_ scores: [Double], images: [Int], tiles: Int) -> [Int: Double] {
        var largest: [Int: Double] = [:]
        for (score, image) in zip(scores, images) { largest[image / tiles] = max(largest[image / tiles] ?? -.infinity, score) }
        return largest
    }

    /// Cross-fitting folds for the Gaussian's and the patch memory's out-of-sample scores.
    public static let crossFitFolds = 5

    /// One batch's frames, packed and brightened: batches are gathered as they are used, so the frames are never
    /// copied whole.
    static func gather(_ rgb: [UInt8], _ indices: ArraySlice<Int>, _ imageBytes: Int, _ brightness: BrightnessGain?) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(indices.count * imageBytes)
        for i in indices { out += rgb[(i * imageBytes)..<((i + 1) * imageBytes)] }
        brightness?.apply(to: &out, imageBytes: imageBytes)
        return out
    }
}

/// The learning frames' patch features for the patch memory: every frame's, or every k-th frame's when all would
/// exceed `maxPatches` (consecutive video frames are near-duplicates; 98,304 patches of ViT-Ti's 384-wide feature
/// hold 150 MB while learning), and its cross-fit.
public struct PatchCandidates {
    public static let maxPatches = 98_304

    let blocks: [Int]
    let grid: Int
    let dimension: Int
    let count: Int
    /// Every `step`-th frame (by index) is kept.
    let step: Int
    private(set) var indices: [Int] = []
    private(set) var features: [Float] = []
    /// The columns' scales (`PatchMemory.channelScales`), once `scaleChannels` has applied them to `features`.
    private(set) var channelScales: [Float]?

    init(teacher c: ViTConfig, count: Int, enabled: Bool, maxPatches: Int) {
        blocks = enabled ? PatchMemory.blocks(teacherDepth: c.depth) : []
        grid = c.imageSize / c.patchSize
        dimension = blocks.count * c.width
        self.count = count
        step = max(1, (count * grid * grid + maxPatches - 1) / maxPatches)
        if enabled { features.reserveCapacity((count + step - 1) / step * grid * grid * dimension) }
    }

    mutating func take(_ output: ViTOutput, frame b: Int, index: Int) {
        guard !blocks.isEmpty, index % step == 0 else { return }
        indices.append(index)
        PatchMemory.appendFeatures(output, frame: b, blocks: blocks, to: &features)
    }

    func keeps(_ index: Int) -> Bool { index % step == 0 }

    /// Scales every kept feature's columns by the scales their own spread gives; the memories chosen afterwards keep
    /// them, so that frames scored later are scaled alike.
    mutating func scaleChannels() {
        guard !features.isEmpty, channelScales == nil else { return }
        let scales = PatchMemory.channelScales(features: features, dimension: dimension)
        for i in features.indices { features[i] *= scales[i % dimension] }
        channelScales = scales
    }

    /// Cross-fitting folds are runs of consecutive frames (a frame's neighbours are near-duplicates of it).
    private(set) var folds = 1
    func fold(of index: Int) -> Int { index * folds / count }

    /// A coreset of the kept patches of `rows` (indices into the kept frames).
    func memory(_ rows: [Int]? = nil, budget: Int, seed: UInt64, shouldStop: () -> Bool) throws -> PatchMemory {
        let frameWidth = grid * grid * dimension
        var x = [Float]()
        if let rows {
            x.reserveCapacity(rows.count * frameWidth)
            for r in rows { x += features[(r * frameWidth)..<((r + 1) * frameWidth)] }
        }
        return try PatchMemory.fit(features: rows == nil ? features : x, dimension: dimension, blocks: blocks, grid: grid,
                                   budget: budget, seed: seed, channelScales: channelScales, shouldStop: shouldStop)
    }

    /// Per fold, a memory of the other folds' kept patches at the budget's share of them, so that it is as dense as
    /// the whole memory is over all of them.
    mutating func foldMemories(budget: Int, seed: UInt64, folds wanted: Int, shouldStop: () -> Bool) throws -> [PatchMemory] {
        folds = max(1, min(wanted, indices.count / 2))
        return try (0..<folds).map { f in
            let others = indices.indices.filter { fold(of: indices[$0]) != f }
            return try memory(others, budget: max(1, budget * others.count / indices.count), seed: seed, shouldStop: shouldStop)
        }
    }

    /// Each kept frame's nearest memory patches under its fold's memory.
    func nearestKept(_ memories: [PatchMemory], afterEach: () -> Void = {}) -> [(distances: [Float], rows: [Int])] {
        let frameWidth = grid * grid * dimension
        return features.withUnsafeBufferPointer { f in
            indices.enumerated().map { r, index in
                defer { afterEach() }
                return memories[fold(of: index)].nearest(f.baseAddress! + r * frameWidth, patches: grid * grid)
            }
        }
    }

    /// Each kept frame's score and cells under its fold's memory, from `nearestKept`'s search.
    func scoreKept(_ memories: [PatchMemory], _ found: [(distances: [Float], rows: [Int])]) -> (scores: [Double], cells: [Float]) {
        let frameWidth = grid * grid * dimension
        var scores = [Double](), cells = [Float]()
        features.withUnsafeBufferPointer { f in
            for (r, index) in indices.enumerated() {
                let scored = memories[fold(of: index)].score(f.baseAddress! + r * frameWidth, found[r])
                scores.append(scored.score)
                cells += scored.cells
            }
        }
        return (scores, cells)
    }
}
