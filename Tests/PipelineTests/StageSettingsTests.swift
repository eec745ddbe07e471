import Config
import Detector
import Pipeline
import XCTest

/// A pipeline's `detector` section reaches the detector's settings, field by field over `defaults`.
final class StageSettingsTests: XCTestCase {
    func testDetectorSectionMapsOntoDetectorSettings() throws {
        let c = try ConfigLoader.parse("""
            defaults:
              detector: {gaussian_covariance: ledoit_wolf, epochs: 3, student_score: channel_profile}
            pipelines:
              a:
                source: x.mp4
                detector: {gaussian_feature: cls+patch_mean, variance_kept: 0.95, learning_rate: 0.001}
              b: {source: y.mp4}
              c: {source: z.mp4, detector: {student_score: mean}}
            """, file: "test.yaml")
        let a = c.pipelines[0].detectorSettings, b = c.pipelines[1].detectorSettings, builtIn = DetectorSettings()
        XCTAssertEqual(a.gaussianFeature, .clsPatchMean)
        XCTAssertEqual(a.gaussianCovariance, .ledoitWolf)
        XCTAssertEqual(a.varianceKept, 0.95)
        XCTAssertEqual(a.learningRate, 0.001)
        XCTAssertEqual(a.epochs, 3)
        XCTAssertEqual(b.gaussianFeature, builtIn.gaussianFeature)
        XCTAssertEqual(b.gaussianCovariance, .ledoitWolf)
        XCTAssertEqual(b.varianceKept, builtIn.varianceKept)
        XCTAssertEqual(b.epochs, 3)
        XCTAssertEqual(a.studentScore, .channelProfile)
        XCTAssertEqual(b.studentScore, .channelProfile)
        XCTAssertEqual(c.pipelines[2].detectorSettings.studentScore, .mean)
        XCTAssertEqual(builtIn.studentScore, .mean)
    }
}
