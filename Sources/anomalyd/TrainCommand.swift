import ArgumentParser
import Detector
import Engine
import Foundation
import Ingest

extension GaussianFeature: ExpressibleByArgument {
    /// Only the teacher features: the error profile's Gaussian comes with `--student-score channel_profile`.
    public init?(argument: String) {
        guard let f = GaussianFeature(rawValue: argument), Self.teacherFeatures.contains(f) else { return nil }
        self = f
    }
    public static var allValueStrings: [String] { teacherFeatures.map(\.rawValue) }
}
extension GaussianCovariance: ExpressibleByArgument {}
extension StudentScore: ExpressibleByArgument {}
extension Fusion: ExpressibleByArgument {}

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Learn what normal looks like from frames: train the student, fit the Gaussian, calibrate, save a model bundle.")

    @OptionGroup var teacher: TeacherOptions

    @Option(parsing: .upToNextOption, help: "Normal frames: image folders, images or video files.")
    var normal: [String]

    @Option(help: "Model bundle directory to write.")
    var out: String

    @Option(help: "Frames per second sampled from videos.")
    var sampleFps: Double = 2

    @Option(help: "Use at most this many frames (the first ones).")
    var maxFrames: Int?

    @Option(help: "Student depth in blocks, at most the teacher's (default: 0, no student).")
    var studentDepth: Int = DetectorSettings().studentDepth ?? 0

    @Option(help: "Training epochs.")
    var epochs: Int = DetectorSettings().epochs

    @Option(help: "AdamW learning rate.")
    var learningRate: Float = DetectorSettings().learningRate

    @Option(help: "Share of frames held out from the student's training, for its calibration.")
    var holdout: Double = DetectorSettings().holdout

    @Option(help: "The Gaussian's input: cls, or cls+patch_mean (the mean patch token too).")
    var gaussianFeature: GaussianFeature = DetectorSettings().gaussianFeature

    @Option(help: "The Gaussian's covariance: pca (keep --variance-kept of the variance), or ledoit_wolf (shrinkage).")
    var gaussianCovariance: GaussianCovariance = DetectorSettings().gaussianCovariance

    @Option(help: "Share of the variance PCA keeps.")
    var varianceKept: Double = DetectorSettings().varianceKept

    @Option(help: "How the student's errors are scored: mean, or channel_profile (a Gaussian of their per-channel profile).")
    var studentScore: StudentScore = DetectorSettings().studentScore

    @Flag(inversion: .prefixedNo, help: "Bring every frame to the learning frames' mean brightness before the model sees it.")
    var normalizeBrightness = DetectorSettings().normalizeBrightness

    @Option(help: "Patches the patch memory keeps (PatchCore's coreset); 0: no patch memory.")
    var patchMemory: Int = DetectorSettings().patchMemory

    @Option(help: "How the components' tail probabilities combine: min_p, or fisher (Fisher's sum under its own tail).")
    var fusion: Fusion = DetectorSettings().fusion

    @Option(help: "Random seed (initialisation, masks, hold-out split).")
    var seed: UInt64 = 0

    @Option(help: "Consecutive frames held out together, so near-duplicate neighbours do not leak into training.")
    var holdoutBlock: Int = 1

    /// The options as the detector's settings.
    var settings: DetectorSettings {
        var s = DetectorSettings()
        s.studentDepth = studentDepth
        s.epochs = epochs
        s.learningRate = learningRate
        s.holdout = holdout
        s.seed = seed
        s.gaussianFeature = gaussianFeature
        s.gaussianCovariance = gaussianCovariance
        s.varianceKept = varianceKept
        s.studentScore = studentScore
        s.normalizeBrightness = normalizeBrightness
        s.patchMemory = patchMemory
        s.fusion = fusion
        return s
    }

    /// The settings' own ranges, named by the option (`variance_kept` is `--variance-kept`).
    func validate() throws {
        if let (key, problem) = settings.firstInvalid {
            throw ValidationError("--\(key.stringValue.replacingOccurrences(of: "_", with: "-")): \(problem)")
        }
    }

    func run() async throws {
        let runner = try teacher.load()
        let c = runner.vit.config
        var rgb: [UInt8] = []
        var count = 0
        let progress = ProgressLine()
        try await forEachFrame(normal, sampleFPS: sampleFps, resize: .squash, size: c.imageSize) { frame, _ in
            guard maxFrames.map({ count < $0 }) ?? true else { return }
            rgb += frame.pixels
            count += 1
            if count % 50 == 0 { progress.update("reading frames: \(count)") }
        }
        guard count >= 20 else {
            throw ValidationError("only \(count) normal frame(s) found in \(normal.joined(separator: ", ")); at least 20 are needed")
        }
        progress.finish("read \(count) normal frames")

        let started = Date()
        let bundle = try ModelFitting.fit(
            rgb: rgb, count: count, teacher: runner, teacherIdentity: try TeacherIdentity(path: teacher.teacher),
            settings: settings, blockLength: holdoutBlock, workers: max(1, teacher.workers)) { p in
                switch p {
                case .teacher(let done, let total):
                    progress.update("teacher: \(done)/\(total) frames")
                case .training(let t):
                    let done = Double(t.epoch * t.framesPerEpoch + t.frames)
                    let total = Double(t.epochs * t.framesPerEpoch)
                    let left = done > 0 ? t.elapsed * (total - done) / done : 0
                    progress.update(String(format: "epoch %d/%d  frames %d/%d  loss %.5f  %.0f s left",
                                           t.epoch + 1, t.epochs, t.frames, t.framesPerEpoch, t.loss, left),
                                    force: t.frames == t.framesPerEpoch)
                case .choosingPatches:
                    progress.update("choosing the patch memory's patches")
                case .calibrating:
                    progress.update("calibrating on held-out frames", force: true)
                }
            }
        try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent.isEmpty ? "." :
                                                    (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try bundle.save(to: out)
        let m = bundle.metadata
        // A model without a student (student_depth 0) trains nothing and holds nothing out.
        let student = m.trainingLoss.last.map { String(format: ", %d training + %d held-out frames, final loss %.5f", m.frames.train,
                                                            m.frames.holdout, $0) }
            ?? String(format: ", %d frames, no student", m.frames.train + m.frames.holdout)
        progress.finish(String(format: "wrote %@: model %@%@, %.0f s", out, m.modelVersion, student, Date().timeIntervalSince(started)))
    }
}
