import Checkpoint
import Decisions
import Detector
import Engine
import Foundation
import Logging
import XCTest

/// Several pipelines share a process, so no model bundle on disk may reach a trap on the score path: bundles whose
/// student or Gaussian tensors hold NaN, infinities or huge values, whose student disagrees with the teacher in
/// shape, or whose metadata records impossible heads, are either refused when loaded (the store then moves them
/// aside and the pipeline learns again) or score with an error (the pipeline fails and is restarted) or with scores
/// the decision stage takes. Everything goes the store's way: saved, loaded with the teacher's path, then scored.
final class ScoreFuzzTests: XCTestCase {
    private var directory = ""
    private var models: TinyModels!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("score-fuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        models = try TinyModels(in: directory)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// The tiny teacher's shape: 32 px, patch 16, 16 wide.
    private func student(imageSize: Int = 32, patchSize: Int = 16, width: Int = 16, fill: (Int) -> Float) -> ViTParameters {
        let s = ViTParameters(config: ViTConfig(imageSize: imageSize, patchSize: patchSize, width: width, depth: 1, heads: 2,
                                                mlpWidth: 2 * width))
        for i in 0..<s.layout.count { s.storage.data[i] = fill(i) }
        return s
    }

    private func seeded(_ i: Int) -> Float { Float((i &* 2_654_435_761) % 1000) / 1000 - 0.5 }

    /// A student-and-Gaussian bundle saved under `name`.
    private func save(_ name: String, student: ViTParameters) throws -> String {
        let features = (0..<(40 * 16)).map { seeded($0 &+ 77) }
        let gaussian = try FeatureGaussian.fit(features: features, count: 40, dimension: 16)
        let calibration = try Calibration.fit(normal: [.mkd: [0.1, 0.2, 0.15, 0.3, 0.12, 0.22, 0.17, 0.25],
                                                      .gaussian: [10, 12, 11, 14, 10.5, 12.5, 11.5, 13]], holdoutCount: 4)
        let bundle = ModelBundle(student: student, gaussian: gaussian, calibration: calibration,
                                 teacher: try TeacherIdentity(path: models.teacherPath), settings: DetectorSettings.papers,
                                 frames: FrameCounts(train: 36, holdout: 4), trainingLoss: [1, 0.5])
        let path = directory + "/" + name
        try bundle.save(to: path)
        return path
    }

    /// Rewrites one tensor file of a saved bundle, every value through `edit` (its metadata kept).
    private func rewrite(_ path: String, edit: (String, Int, Float) -> Float) throws {
        let file = try SafetensorsFile(path: path)
        let tensors = try file.tensorNames.map { name in
            (name: name, shape: try file.shape(name), values: try file.floats(name).enumerated().map { edit(name, $0.offset, $0.element) })
        }
        try SafetensorsWriter.write(tensors, metadata: file.metadata, to: path)
    }

    private enum Outcome: Equatable { case refusedAtLoad, failedToScore, scored }

    /// The store's path for one bundle: load with the teacher, score a batch of frames the pipeline's size, hand
    /// the scores to a decision stage. A trap anywhere ends the test process.
    private func run(_ bundlePath: String, file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
        let bundle: ModelBundle
        do {
            bundle = try ModelBundle.load(from: bundlePath, teacherPath: models.teacherPath)
        } catch {
            XCTAssertTrue("\(error)".contains(bundlePath), "the error names the bundle: \(error)", file: file, line: line)
            return .refusedAtLoad
        }
        let vit = ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: models.teacherPath)))
        let scorer = FrameScorer(teacher: vit, bundle: bundle, workers: 2, maxBatch: 4)
        let frames = (0..<6 * 32 * 32 * 3).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let scores: [FrameScore]
        do {
            scores = try scorer.score(frames)
        } catch {
            return .failedToScore
        }
        XCTAssertEqual(scores.count, 6, file: file, line: line)
        var stage = try DecisionStage(pipeline: "fuzz", settings: DecisionSettings())
        let budget = BudgetCut(settings: DecisionSettings(), framesPerSecond: 10)
        for (i, s) in scores.enumerated() {
            let surprise = s.verdict.surprise
            XCTAssertTrue(surprise.isFinite && surprise >= -log10(Double(ScoreComponent.allCases.count)), "\(s.verdict)", file: file, line: line)
            _ = stage.process(ScoredFrame(score: budget.normalized(surprise: surprise), rawScore: surprise, index: i, pts: Double(i),
                                          captureTime: Date(), patchErrors: s.map, grid: s.grid, sourceWidth: 32, sourceHeight: 32))
        }
        _ = stage.stop(at: Date())
        return .scored
    }

    func testTheValidBundleScores() throws {
        XCTAssertEqual(try run(try save("valid", student: student(fill: seeded))), .scored)
    }

    /// Non-finite student weights make non-finite raw scores, which calibration refuses by name: the pipeline
    /// fails (and restarts) rather than report nonsense. Huge finite ones overflow to the same.
    func testNonFiniteOrHugeStudentWeightsFailTheScoreOrScore() throws {
        let poisons: [(String, (Int) -> Float)] = [
            ("all-nan", { _ in .nan }), ("one-nan", { $0 == 100 ? .nan : 0.01 }), ("inf", { $0 % 7 == 0 ? .infinity : 0.01 }),
            ("minus-inf", { $0 % 5 == 0 ? -.infinity : 0.01 }), ("huge", { $0 % 3 == 0 ? 3e38 : -3e38 }), ("zeros", { _ in 0 }),
            ("tiny", { _ in .leastNonzeroMagnitude }),
        ]
        for (name, fill) in poisons {
            let outcome = try run(try save(name, student: student(fill: fill)))
            XCTAssertNotEqual(outcome, .refusedAtLoad, name)
        }
    }

    /// The Gaussian's tensors are checked when loaded (finite, positive eigenvalues, triangular factor); a poisoned
    /// one is refused by name, a huge finite one scores or fails the score.
    func testNonFiniteOrHugeGaussianTensorsAreRefusedOrScore() throws {
        let edits: [(String, (String, Int, Float) -> Float)] = [
            ("mean-nan", { n, i, v in n == "mean" && i == 3 ? .nan : v }),
            ("cholesky-inf", { n, i, v in n == "cholesky" && i == 0 ? .infinity : v }),
            ("projection-huge", { n, _, v in n == "projection" ? v * 3e38 : v }),
            ("mean-huge", { n, _, v in n == "mean" ? 3e38 : v }),
            ("eigenvalues-huge", { n, _, v in n == "eigenvalues" ? 3e38 : v }),
            ("whitened-mean-minus-inf", { n, _, v in n == "whitened_mean" ? -.infinity : v }),
        ]
        for (name, edit) in edits {
            let path = try save(name, student: student(fill: seeded))
            try rewrite(path + "/" + ModelBundle.gaussianFile, edit: edit)
            _ = try run(path)
        }
    }

    /// A student as wide as the teacher but with another token grid or input size passed the load and trapped on
    /// the first batch ("teacher and student shapes differ"), or read its frames at the wrong stride.
    func testAStudentWhoseShapeDisagreesWithTheTeacherIsRefusedAtLoad() throws {
        for (name, s) in [("more-tokens", student(imageSize: 64, fill: seeded)), ("same-tokens-smaller-input", student(imageSize: 16, patchSize: 8, fill: seeded))] {
            let path = try save(name, student: s)
            XCTAssertEqual(try run(path), .refusedAtLoad, name)
            XCTAssertThrowsError(try ModelBundle.load(from: path, teacherPath: models.teacherPath)) { error in
                XCTAssertTrue("\(error)".contains(ModelBundle.studentFile), "\(error)")
            }
        }
    }

    /// metadata.json's student heads divide the width: 0 divided by zero (a trap), a negative count made negative
    /// buffer sizes.
    func testImpossibleStudentHeadsInTheMetadataAreRefusedAtLoad() throws {
        for heads in [0, -2, Int.min, 3, Int.max] {
            let path = try save("heads\(heads)", student: student(fill: seeded))
            let metadata = path + "/" + ModelBundle.metadataFile
            var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: metadata))) as? [String: Any])
            object["student"] = ["depth": 1, "heads": heads]
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: metadata))
            XCTAssertEqual(try run(path), .refusedAtLoad, "heads \(heads)")
        }
    }
}
