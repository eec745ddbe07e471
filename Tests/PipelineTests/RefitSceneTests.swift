import Checkpoint
import Config
import Decisions
import Detector
import Engine
import Foundation
import Ingest
import Logging
import Publisher
import XCTest
@testable import Pipeline

/// Issue 6's refit scenarios on the real pieces: generated conveyor-belt videos decoded by FFmpeg, the ViT-Ti
/// teacher, a shallow student (1 block, few epochs: CI has 2 cores), the on-disk buffer and evidence, the versioned
/// store and a bound ZeroMQ publisher. Only the schedule is bypassed: the test calls `refit()` where the daemon's
/// timer would.
final class RefitSceneTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let teacher = root.appendingPathComponent("models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors").path
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("refit-scene-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// 224x224 belt video at 5 fps, decoded into model-input frames.
    private func frames(_ name: String, seconds: Int, _ extra: [String]) async throws -> [Frame] {
        let path = directory + "/\(name).mp4"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [Self.root.appendingPathComponent("scripts/make_demo_video.py").path, path, "--seconds", "\(seconds)",
                       "--width", "224", "--height", "224", "--fps", "5"] + extra
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "make_demo_video.py failed for \(name)")
        var out: [Frame] = []
        for try await frame in try FrameSource(path) { out.append(frame) }
        return out
    }

    /// Normalised scores (the default budget's cut at 0.5) of frames under the live model.
    private func scores(_ live: LiveModel, _ frames: [Frame], _ vit: ViT) async throws -> [Double] {
        let current = await live.current
        let bundle = try XCTUnwrap(current)
        return try FrameScorer(teacher: vit, bundle: bundle, workers: 2, maxBatch: 8).score(frames.flatMap(\.pixels))
            .map { BudgetCut(settings: DecisionSettings(), framesPerSecond: 10).normalized(surprise: $0.verdict.surprise) }
    }

    private func falseAlarmRate(_ s: [Double]) -> Double { Double(s.filter { $0 >= 0.5 }.count) / Double(s.count) }

    func testSceneChangeIsLearnedAndAPoisonedBufferIsRejected() async throws {
        let vit = ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: Self.teacher)))
        let normal = try await frames("normal", seconds: 16, ["--novel", ""])
        // Over 40 s the boxes turn from blue (40,90,200) to violet; the daemon would see this over days.
        let drift = try await frames("drift", seconds: 40, ["--novel", "", "--drift-colour", "150,60,170"])
        let novel = try await frames("novel", seconds: 16, ["--novel", "1,4,7,10,13"])
        XCTAssertGreaterThanOrEqual(drift.count, 180)

        let config = try ConfigLoader.parse("""
        pipelines:
          belt:
            source: /unused.mp4
            teacher: \(Self.teacher)
            state_dir: \(directory)/state
            detector: {student_depth: 1, epochs: 3, holdout: 0.2, patch_memory: 0}
            refit: {enabled: true, min_frames: 20, sample_interval_s: 0, normal_margin: 0.1, epochs: 5,
                    false_alarm_margin: 0.2, validation_holdout: 0.25, evidence_min_score: 0.8, evidence_max_frames: 20}
        """, file: "refit.yaml").pipelines[0]
        let store = ModelStore(stateDir: config.stateDir, teacherPath: Self.teacher, logger: Logger(label: "test"))
        let first = try ModelFitting.fit(
            rgb: normal.flatMap(\.pixels), count: normal.count, teacher: ViTRunner(vit: vit, workers: 2, maxBatch: 8),
            teacherIdentity: try TeacherIdentity(path: Self.teacher), settings: config.detector, blockLength: 5)
        try store.promote(first)
        var publisherSettings = PublisherSettings()
        publisherSettings.endpoint = "tcp://127.0.0.1:*"
        let publisher = try EventPublisher(settings: publisherSettings)
        try await publisher.register(pipeline: "belt")
        let live = LiveModel(store: store, pipeline: "belt", publisher: publisher, logger: Logger(label: "test"))
        let loaded = await live.loadStored()
        XCTAssertEqual(loaded?.metadata.modelVersion, first.metadata.modelVersion)
        let refitter = try Refitter(config: config, live: live, vit: vit, logger: Logger(label: "test"))

        // The decide stage's path: every frame scored by the live model is offered; the doubtful ones stay out.
        let driftScores = try await scores(live, drift, vit)
        for (frame, score) in zip(drift, driftScores) { await refitter.offer(frame, normalized: score) }
        let early = falseAlarmRate(Array(driftScores.prefix(40))), late = falseAlarmRate(Array(driftScores.suffix(40)))
        XCTAssertGreaterThan(late, early + 0.25, "the colour drift should make the live model alarm: early \(early), late \(late)")
        XCTAssertGreaterThan(refitter.buffer.count, 60)
        XCTAssertLessThan(refitter.buffer.count, drift.count, "frames near or above the threshold never enter the buffer")

        // Evidence: the novel objects the live model flags clearly.
        let novelScores = try await scores(live, novel, vit)
        for (frame, score) in zip(novel, novelScores) { await refitter.offerEvidence(frame, normalized: score) }
        XCTAssertGreaterThanOrEqual(refitter.evidence.count, 5)

        let refit = await refitter.refit()
        XCTAssertEqual(refit.action, .promoted, refit.reason ?? "")
        XCTAssertEqual(refit.validation?.evidenceDetected, refit.validation?.evidenceFrames, "the refit still flags the novel objects")
        XCTAssertEqual(store.currentVersion(), live.version)
        XCTAssertEqual(store.previousVersion(), first.metadata.modelVersion)
        let after = falseAlarmRate(try await scores(live, Array(drift.suffix(40)), vit))
        XCTAssertLessThan(after, late - 0.2, "after a refit on the buffer the false alarms fall back: before \(late), after \(after)")

        // A buffer poisoned with novel objects: the candidate learns them as normal, and validation refuses it.
        let before = live.version
        let noveltyFrames = zip(novel, novelScores).filter { $0.1 >= 0.5 }.map(\.0)
        XCTAssertGreaterThanOrEqual(noveltyFrames.count, 10)
        for _ in 0..<2 { for f in noveltyFrames { try refitter.buffer.add(f.pixels, time: Date()) } }
        let poisoned = await refitter.refit()
        XCTAssertEqual(poisoned.action, .rejected)
        XCTAssertTrue(poisoned.reason?.contains("anomaly-evidence") == true, poisoned.reason ?? "no reason")
        XCTAssertEqual(live.version, before, "a rejected candidate never goes live")
        XCTAssertEqual(store.currentVersion(), before)
        await publisher.close()
    }
}
