import Checkpoint
import Foundation
import Kernels
import Reference
import XCTest
@testable import Detector
@testable import Engine

final class MaskedDistillationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let teacherPath = root.appendingPathComponent("models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors").path

    func sample(_ w: [Float], keep: Int, _ rng: inout SeededRandom) -> [Int32] {
        w.withUnsafeBufferPointer { GuidedMask.sample(importance: $0, keep: keep, using: &rng) }
    }

    func testKeptCountIsRNsFloor() {
        XCTAssertEqual(GuidedMask.keptCount(patches: 196, maskRatio: 0.5), 98)
        XCTAssertEqual(GuidedMask.keptCount(patches: 196, maskRatio: 0.75), 49)
        XCTAssertEqual(GuidedMask.keptCount(patches: 9, maskRatio: 0.5), 4)
        XCTAssertEqual(GuidedMask.keptCount(patches: 196, maskRatio: 0), 196)
    }

    func testMaskIsSeededExactAndWithoutRepeats() {
        var r = RNG(1)
        let w = (0..<196).map { _ in abs(r.float()) + 1e-3 }
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let first = sample(w, keep: 98, &a)
        XCTAssertEqual(first, sample(w, keep: 98, &b))
        XCTAssertNotEqual(first, sample(w, keep: 98, &c))
        XCTAssertNotEqual(first, sample(w, keep: 98, &a), "each draw is a fresh mask")
        for _ in 0..<50 {
            let m = sample(w, keep: 98, &a)
            XCTAssertEqual(m.count, 98)
            XCTAssertEqual(Set(m).count, 98)
            XCTAssertEqual(m, m.sorted())
            XCTAssertTrue(m.allSatisfy { $0 >= 0 && $0 < 196 })
        }
        // Zero-importance patches are drawn only after all others.
        var z = [Float](repeating: 0, count: 10)
        for i in [1, 4, 7] { z[i] = 0.2 }
        XCTAssertEqual(sample(z, keep: 3, &a), [1, 4, 7])
    }

    /// The draw has torch.multinomial's distribution (sequential sampling without replacement ∝ w):
    /// with w = (1, 2, 3) and 2 kept, P(i kept) = P(i first) + Σ_{j≠i} P(j first)·wᵢ/(W − w_j).
    func testMaskFollowsWeightedSamplingWithoutReplacement() {
        let w: [Double] = [1, 2, 3], total = 6.0
        let expected = (0..<3).map { i in
            w[i] / total + (0..<3).filter { $0 != i }.reduce(0.0) { $0 + w[$1] / total * w[i] / (total - w[$1]) }
        }
        var rng = SeededRandom(seed: 7)
        var counts = [0, 0, 0]
        let draws = 60000
        for _ in 0..<draws { for i in sample(w.map(Float.init), keep: 2, &rng) { counts[Int(i)] += 1 } }
        for i in 0..<3 { XCTAssertEqual(Double(counts[i]) / Double(draws), expected[i], accuracy: 0.006, "patch \(i)") }
        // And on a ViT-sized map, the high-importance half is kept far more often.
        let big = (0..<196).map { $0 < 98 ? Float(0.009) : Float(0.001) }
        var high = 0
        for _ in 0..<100 { high += sample(big, keep: 98, &rng).filter { $0 < 98 }.count }
        XCTAssertGreaterThan(Double(high) / 9800, 0.75)
    }

    // MARK: end to end with the real teacher

    /// A 224² RGB image on a grey-green ground with three blue rectangles ("normal"), and optionally a large red
    /// disc ("novel").
    static func scene(_ rng: inout RNG, novel: Bool) -> [UInt8] {
        let s = 224
        var img = [UInt8](repeating: 0, count: s * s * 3)
        for i in 0..<(s * s) { img[3 * i] = 110; img[3 * i + 1] = 130; img[3 * i + 2] = 110 }
        func paint(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            img[3 * (y * s + x)] = c.0; img[3 * (y * s + x) + 1] = c.1; img[3 * (y * s + x) + 2] = c.2
        }
        for _ in 0..<3 {
            let w = 24 + Int(rng.next() % 40), h = 24 + Int(rng.next() % 40)
            let x0 = Int(rng.next() % UInt64(s - w)), y0 = Int(rng.next() % UInt64(s - h))
            for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { paint(x, y, (30, 50, 200)) } }
        }
        if novel {
            let r = 56, cx = 60 + Int(rng.next() % 104), cy = 60 + Int(rng.next() % 104)
            for y in (cy - r)..<(cy + r) { for x in (cx - r)..<(cx + r) where (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r {
                paint(x, y, (220, 40, 30))
            } }
        }
        return img
    }

    /// The teacher behind two workers with single-threaded BLAS, as the daemon runs it (restored after the test).
    private func teacherRunner() throws -> ViTRunner {
        let saved = BLAS.threads
        BLAS.setThreads(1)
        addTeardownBlock { BLAS.setThreads(saved) }
        return ViTRunner(vit: ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: Self.teacherPath))),
                         workers: 2, maxBatch: 8)
    }

    func testTrainingOnNormalScenesLowersTheLossAndFlagsNovelOnes() throws {
        let runner = try teacherRunner(), teacher = runner.vit
        var rng = RNG(2024)
        let (trainFrames, heldOut, novel) = (48, 8, 4)
        func images(_ count: Int, novel: Bool) -> [UInt8] { (0..<count).flatMap { _ in Self.scene(&rng, novel: novel) } }
        let train = images(trainFrames, novel: false), normal = images(heldOut, novel: false)
        let odd = images(novel, novel: true)
        let bytes = 224 * 224 * 3

        var targets = TeacherTargets(teacher: teacher.config)
        for start in stride(from: 0, to: trainFrames, by: 8) {
            train.withUnsafeBufferPointer { buf in
                let rgb = buf.baseAddress! + start * bytes
                targets.append(runner.forward(rgb: rgb, batch: 8), rgb: rgb)
            }
        }
        XCTAssertEqual(targets.count, trainFrames)

        var settings = DetectorSettings.papers
        settings.studentDepth = 2
        settings.epochs = 6
        settings.batchSize = 8
        settings.learningRate = 1e-3
        settings.seed = 5
        let student = Student(config: Student.config(teacher: teacher.config, depth: settings.studentDepth),
                              seed: settings.seed)
        let trainer = MaskedDistillationTrainer(student: student, settings: settings, workers: 2)
        var reports = 0
        let report = trainer.train(targets) { p in
            reports += 1
            XCTAssertLessThanOrEqual(p.frames, p.framesPerEpoch)
        }
        XCTAssertEqual(reports, settings.epochs * trainFrames / 8)
        XCTAssertEqual(report.epochLosses.count, settings.epochs)
        XCTAssertLessThan(report.epochLosses.last!, 0.7 * report.epochLosses.first!, "loss curve \(report.epochLosses)")

        let scorer = MaskedDistillationScorer(student: student, workers: 2, maxBatch: 8)
        func score(_ imgs: [UInt8], _ count: Int) -> MKDScores {
            imgs.withUnsafeBufferPointer { scorer.score(teacher: runner.forward(rgb: $0.baseAddress!, batch: count), rgb: $0.baseAddress!) }
        }
        let normalScores = score(normal, heldOut), novelScores = score(odd, novel)
        XCTAssertEqual(novelScores.maps.count, novel * 196)
        XCTAssertEqual(novelScores.grid, 14)
        // The score is the mean of the map.
        XCTAssertEqual(novelScores.scores[0], novelScores.maps[0..<196].reduce(0, +) / 196, accuracy: 1e-6)
        XCTAssertGreaterThan(novelScores.scores.min()!, normalScores.scores.max()!,
                             "normal \(normalScores.scores) novel \(novelScores.scores)")
        print("MKD e2e: losses \(report.epochLosses) in \(report.seconds) s; normal \(normalScores.scores); novel \(novelScores.scores)")
    }

    /// A fit that scores the student by its error profile: the profile's Gaussian is fitted on the training frames
    /// (from the cached targets), the calibration fuses it with the teacher-feature Gaussian instead of the mean, and
    /// novel scenes score above every normal one on the profile alone and fused.
    func testFitWithTheChannelProfileScoresNovelScenesAboveNormalOnes() throws {
        let runner = try teacherRunner(), teacher = runner.vit
        var rng = RNG(2025)
        let learn = 60, normal = 8, novel = 4
        let frames = (0..<learn).flatMap { _ in Self.scene(&rng, novel: false) }
        let probe = (0..<normal).flatMap { _ in Self.scene(&rng, novel: false) } + (0..<novel).flatMap { _ in Self.scene(&rng, novel: true) }
        var settings = DetectorSettings.papers
        settings.studentDepth = 2
        settings.epochs = 6
        settings.learningRate = 1e-3
        settings.seed = 5
        settings.studentScore = .channelProfile
        let bundle = try ModelFitting.fit(rgb: frames, count: learn, teacher: runner,
                                          teacherIdentity: try TeacherIdentity(path: Self.teacherPath), settings: settings)
        XCTAssertEqual(bundle.calibration.components, [.gaussian, .mkdProfile])
        let profile = try XCTUnwrap(bundle.profileGaussian)
        XCTAssertEqual(profile.feature, .studentErrorProfile)
        XCTAssertEqual(profile.dimension, teacher.config.width)

        let scores = try FrameScorer(teacher: runner.vit, bundle: bundle, workers: 2, maxBatch: 4).score(probe)
        let profiles = scores.map { $0.mkdProfile! }, fused = scores.map(\.verdict.surprise)
        XCTAssertNotNil(scores[0].mkd, "the mean is still reported")
        XCTAssertGreaterThan(profiles[normal...].min()!, profiles[..<normal].max()!, "profile scores \(profiles)")
        XCTAssertGreaterThan(fused[normal...].min()!, fused[..<normal].max()!, "fused scores \(fused)")
        XCTAssertTrue(fused[normal...].allSatisfy { $0 >= 3 }, "every novel frame rarer than 1 in 1000 normal ones: \(fused)")
    }

    /// The brightness gain is part of the model: learning records the learning frames' mean, and a scene dimmed to
    /// 60 % (a light going down) scores as the scene does, where a model without the gain calls it novel.
    func testADimmedSceneScoresAsTheSceneWithTheGainAndNotWithout() throws {
        let runner = try teacherRunner(), teacher = runner.vit
        var rng = RNG(2026)
        let learn = 40, probes = 6
        let frames = (0..<learn).flatMap { _ in Self.scene(&rng, novel: false) }
        let probe = (0..<probes).flatMap { _ in Self.scene(&rng, novel: false) }
        let dimmed = probe.map { UInt8((Double($0) * 0.6).rounded()) }
        var settings = DetectorSettings.papers
        settings.studentDepth = 1
        settings.epochs = 2
        settings.learningRate = 1e-3
        let identity = try TeacherIdentity(path: Self.teacherPath)
        func surprises(_ normalize: Bool) throws -> (probe: [Double], dimmed: [Double], bundle: ModelBundle) {
            settings.normalizeBrightness = normalize
            let bundle = try ModelFitting.fit(rgb: frames, count: learn, teacher: runner, teacherIdentity: identity, settings: settings)
            let scorer = FrameScorer(teacher: teacher, bundle: bundle, workers: 2, maxBatch: 8)
            return (try scorer.score(probe).map(\.verdict.surprise), try scorer.score(dimmed).map(\.verdict.surprise), bundle)
        }
        let with = try surprises(true), without = try surprises(false)
        let mean = Double(frames.reduce(0) { $0 + Int($1) }) / Double(frames.count)
        XCTAssertEqual(try XCTUnwrap(with.bundle.metadata.brightness).target, mean, accuracy: 1e-9)
        XCTAssertNil(without.bundle.metadata.brightness)
        for (a, b) in zip(with.probe, with.dimmed) { XCTAssertEqual(a, b, accuracy: 0.5, "with the gain: \(with)") }
        XCTAssertGreaterThan(without.dimmed.min()!, without.probe.max()! + 1, "without it the dimmed scene looks novel: \(without)")
    }
}
