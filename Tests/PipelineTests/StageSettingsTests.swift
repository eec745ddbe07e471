import Config
import Decisions
import Detector
import Engine
import Foundation
import Ingest
import Publisher
import XCTest

/// Each stage's section of the file decodes straight into that stage's settings type, over `defaults`.
final class StageSettingsTests: XCTestCase {
    func testSectionsAreTheStagesSettings() throws {
        let c = try ConfigLoader.parse("""
            publisher: {endpoint: "tcp://127.0.0.1:7000", heartbeat_s: 2, status_s: 10, send_high_water_mark: 50}
            defaults:
              detector: {gaussian_covariance: ledoit_wolf, epochs: 3, student_score: channel_profile}
              decision: {frames_to_end: 7}
            pipelines:
              a:
                source: x.mp4
                resize: crop
                realtime: true
                stall_timeout_s: 12
                detector: {gaussian_feature: cls+patch_mean, variance_kept: 0.95, learning_rate: 0.001, student_depth: 2}
                decision: {sensitivity: 0.3, max_duration_s: 60}
              b: {source: y.mp4}
              c: {source: z.mp4, detector: {student_score: mean}}
            """, file: "test.yaml")
        let a = c.pipelines[0], b = c.pipelines[1], builtIn = DetectorSettings()
        XCTAssertEqual(a.detector.gaussianFeature, .clsPatchMean)
        XCTAssertEqual(a.detector.gaussianCovariance, .ledoitWolf)
        XCTAssertEqual(a.detector.varianceKept, 0.95)
        XCTAssertEqual(a.detector.learningRate, 0.001)
        XCTAssertEqual(a.detector.studentDepth, 2)
        XCTAssertEqual(a.detector.epochs, 3)
        XCTAssertEqual(b.detector.gaussianFeature, builtIn.gaussianFeature)
        XCTAssertEqual(b.detector.gaussianCovariance, .ledoitWolf)
        XCTAssertEqual(b.detector.varianceKept, builtIn.varianceKept)
        XCTAssertEqual(b.detector.studentDepth, builtIn.studentDepth)
        XCTAssertEqual(a.detector.studentScore, .channelProfile)
        XCTAssertEqual(b.detector.studentScore, .channelProfile)
        XCTAssertEqual(c.pipelines[2].detector.studentScore, .mean)

        var decision = DecisionSettings()
        decision.sensitivity = 0.3
        decision.maxDurationSeconds = 60
        decision.framesToEnd = 7
        XCTAssertEqual(a.decision, decision)
        XCTAssertEqual(b.decision.framesToEnd, 7)
        XCTAssertEqual(b.decision.sensitivity, DecisionSettings().sensitivity)

        XCTAssertEqual(a.sourceOptions.resize, .crop)
        XCTAssertTrue(a.sourceOptions.nativeRate)
        XCTAssertEqual(a.sourceOptions.stallTimeout, 12)
        XCTAssertEqual(a.sourceOptions.sampleFPS, SourceOptions.configuredSampleFPS, "a configured pipeline samples 10 fps")
        XCTAssertNil(SourceOptions().sampleFPS, "the command-line tools keep every frame")
        XCTAssertEqual(b.sourceOptions.resize, .squash)
        XCTAssertNil(b.sourceOptions.stallTimeout)

        var publisher = PublisherSettings()
        publisher.endpoint = "tcp://127.0.0.1:7000"
        publisher.heartbeatIntervalSeconds = 2
        publisher.statusIntervalSeconds = 10
        publisher.sendHighWaterMark = 50
        XCTAssertEqual(c.publisher, publisher)
    }

    /// Settings the config accepts are settings the stages accept, and the other way round.
    func testTheStagesValidateWhatTheConfigAccepts() throws {
        let c = try ConfigLoader.parse("pipelines:\n  a: {source: x.mp4}\n", file: "test.yaml")
        XCTAssertNoThrow(try c.pipelines[0].detector.validate())
        XCTAssertNoThrow(try c.pipelines[0].decision.validate())
        XCTAssertNoThrow(try c.publisher.validate())
        XCTAssertNoThrow(try FrameSource("x.mp4", options: c.pipelines[0].sourceOptions))

        var detector = DetectorSettings()
        detector.varianceKept = 1
        XCTAssertThrowsError(try detector.validate()) { XCTAssertTrue("\($0)".contains("variance_kept: expected a share in (0, 1)"), "\($0)") }
        var source = SourceOptions()
        source.stallTimeout = .nan
        XCTAssertThrowsError(try FrameSource("x.mp4", options: source)) { XCTAssertTrue("\($0)".contains("stall_timeout_s"), "\($0)") }
    }

    /// A bundle's metadata.json is written with `.convertToSnakeCase` and read with `.convertFromSnakeCase`, which
    /// hands the settings `studentDepth` for the file's `student_depth`: every field must survive.
    func testBundleMetadataKeepsEverySetting() throws {
        var s = DetectorSettings.papers
        s.studentDepth = 3
        s.maskRatio = 0.4
        s.epochs = 7
        s.batchSize = 4
        s.learningRate = 0.002
        s.beta1 = 0.8
        s.beta2 = 0.9
        s.weightDecay = 0.01
        s.seed = 42
        s.holdout = 0.2
        s.gaussianFeature = .clsPatchMean
        s.gaussianCovariance = .ledoitWolf
        s.varianceKept = 0.8
        s.studentScore = .channelProfile
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(s)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains(#""student_depth":3"#), "the file's keys are unchanged")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        XCTAssertEqual(try decoder.decode(DetectorSettings.self, from: data), s)
        XCTAssertEqual(try JSONDecoder().decode(DetectorSettings.self, from: data), s)
    }

    /// The static bound on `student_depth` is loose (the teacher is not loaded by `check`); the loaded teacher's
    /// depth is checked where the student is built, before any frame is processed.
    func testAStudentDeeperThanItsTeacherIsRefused() throws {
        let teacher = ViTConfig(imageSize: 32, patchSize: 16, channels: 3, width: 8, depth: 2, heads: 2, mlpWidth: 16,
                                layerNormEps: 1e-6, numClasses: 0)
        var s = DetectorSettings.papers
        s.studentDepth = 3
        XCTAssertThrowsError(try s.studentConfig(teacher: teacher)) {
            XCTAssertEqual($0 as? DetectorSettingsError, .studentDeeperThanTeacher(depth: 3, teacherDepth: 2))
            XCTAssertTrue("\($0)".contains("student_depth: 3 blocks, but the teacher has 2"), "\($0)")
        }
        s.studentDepth = 2
        XCTAssertEqual(try s.studentConfig(teacher: teacher).depth, 2)
        s.studentDepth = nil
        XCTAssertEqual(try s.studentConfig(teacher: teacher).depth, 2, "nil: the teacher's depth")
    }
}
