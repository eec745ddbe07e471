import Engine
import Foundation
import Kernels

/// Where a fit is: the teacher pass over the frames, then the student's epochs (from the trainer), then calibration.
public enum FitProgress: Sendable {
    case teacher(frames: Int, of: Int)
    case training(TrainingProgress)
    case calibrating
}

/// Turns normal frames into a calibrated model bundle:
/// hold out a share of the frames (in runs of `blockLength` consecutive frames, so neighbours of a held-out frame
/// do not leak into training); run the teacher once per frame; train the student by masked distillation on the
/// training frames; fit the Gaussian on their CLS features; score the held-out frames through the same path as
/// run time; calibrate on those scores. `shouldStop` (asked between batches and training steps) ends the fit with
/// `CancellationError`: it runs on a plain thread, where task cancellation cannot reach. `initialStudent` (same
/// shape) warm-starts the student instead of a random initialisation.
public enum ModelFitting {
    public static func fit(rgb: [UInt8], count: Int, teacher: ViTRunner, teacherIdentity: TeacherIdentity,
                           settings: DetectorSettings, components: Set<ScoreComponent> = [.mkd, .gaussian],
                           blockLength: Int = 1, workers: Int = 2,
                           progress: (@Sendable (FitProgress) -> Void)? = nil,
                           shouldStop: @escaping @Sendable () -> Bool = { false },
                           initialStudent: ViTParameters? = nil) throws -> ModelBundle {
        let c = teacher.vit.config
        let shape = try settings.studentConfig(teacher: c)   // before the teacher pass: a bad depth fails at once
        let imageBytes = c.imageSize * c.imageSize * 3
        precondition(rgb.count == count * imageBytes, "rgb holds \(rgb.count / imageBytes) frames, not \(count)")
        let split = try HoldoutSplit.split(count: count, fraction: settings.holdout, seed: settings.seed,
                                           blockLength: blockLength)

        // One teacher pass over the training frames: distillation targets and the Gaussian's features.
        var targets = TeacherTargets(teacher: c)
        if components.contains(.mkd) { targets.reserveCapacity(frames: split.train.count) }
        var features = [Float]()   // the Gaussian's, one row per training frame
        features.reserveCapacity(split.train.count * settings.gaussianFeature.width(teacherWidth: c.width))
        let batch = teacher.maxBatch
        for start in stride(from: 0, to: split.train.count, by: batch) {
            if shouldStop() { throw CancellationError() }
            let n = min(batch, split.train.count - start)
            let packed = gather(rgb, split.train[start..<(start + n)], imageBytes)
            packed.withUnsafeBufferPointer { buf in
                let frames = buf.baseAddress!
                let out = teacher.forward(rgb: frames, batch: n)
                if components.contains(.mkd) { targets.append(out, rgb: frames) }
                for b in 0..<n { settings.gaussianFeature.append(out, frame: b, to: &features) }
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
        let gaussian = components.contains(.gaussian)
            ? try FeatureGaussian.fit(features: features, count: split.train.count,
                                      dimension: settings.gaussianFeature.width(teacherWidth: c.width),
                                      feature: settings.gaussianFeature, covariance: settings.gaussianCovariance,
                                      varianceKept: settings.varianceKept)
            : nil

        // Calibrate on the held-out frames, scored exactly as frames will be at run time.
        progress?(.calibrating)
        let scorer = RawScorer(teacher: teacher, student: student?.parameters, gaussian: gaussian, profileGaussian: profileGaussian)
        var fused: Set<ScoreComponent> = []
        if student != nil { fused.insert(settings.studentScore.component) }
        if gaussian != nil { fused.insert(.gaussian) }
        var held: [ScoreComponent: [Double]] = [:]
        for start in stride(from: 0, to: split.holdout.count, by: teacher.maxBatch) {
            let n = min(teacher.maxBatch, split.holdout.count - start)
            let packed = gather(rgb, split.holdout[start..<(start + n)], imageBytes)
            let (_, raw) = try packed.withUnsafeBufferPointer { try scorer.scores(rgb: $0.baseAddress!, count: n) }
            for (component, scores) in raw where fused.contains(component) { held[component, default: []] += scores }
            progress?(.calibrating)
        }
        let calibration = try Calibration.fit(holdout: held, quantile: settings.thresholdQuantile)
        return ModelBundle(student: student?.parameters, gaussian: gaussian, profileGaussian: profileGaussian,
                           calibration: calibration,
                           teacher: teacherIdentity, settings: settings,
                           frames: FrameCounts(train: split.train.count, holdout: split.holdout.count),
                           trainingLoss: loss)
    }

    /// One batch's frames, packed: batches are gathered as they are used, so the frames are never copied whole.
    static func gather(_ rgb: [UInt8], _ indices: ArraySlice<Int>, _ imageBytes: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(indices.count * imageBytes)
        for i in indices { out += rgb[(i * imageBytes)..<((i + 1) * imageBytes)] }
        return out
    }
}
