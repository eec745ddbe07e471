import Foundation
import XCTest
@testable import Detector

final class DetectorSettingsTests: XCTestCase {
    func testDefaultsFollowTheSpec() throws {
        let s = DetectorSettings()
        XCTAssertEqual(s.maskRatio, 0.5)
        XCTAssertEqual(s.beta2, 0.95)
        XCTAssertEqual(s.varianceKept, 0.9, "Transformaly's PCA share, used with gaussianCovariance .pca")
        XCTAssertEqual(DetectorSettings.papers.varianceKept, 0.9)
        XCTAssertEqual(s.studentDepth, 0, "no student by default: the measured default detector (RESULTS.md, session 20)")
        XCTAssertEqual(s.gaussianFeature, .cls, "CLS + patch mean opened false episodes on the shift beside the patch memory")
        XCTAssertEqual(s.gaussianCovariance, .pca)
        XCTAssertEqual(s.patchMemory, 4096)
        XCTAssertEqual(s.fusion, .minP, "Fisher's sum opened false episodes on the shift (RESULTS.md, session 21)")
        XCTAssertEqual(DetectorSettings.papers.fusion, .minP)
        let round = try JSONDecoder().decode(DetectorSettings.self, from: JSONEncoder().encode(s))
        XCTAssertEqual(round, s)
        var other = s
        other.studentDepth = 3
        other.gaussianFeature = .clsPatchMean
        other.gaussianCovariance = .ledoitWolf
        other.studentScore = .channelProfile
        other.patchMemory = 0
        other.fusion = .fisher
        XCTAssertEqual(try JSONDecoder().decode(DetectorSettings.self, from: JSONEncoder().encode(other)), other)
    }

    func testOlderSettingsWithoutTheGaussianKeysMeanCLSWithPCA() throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.userInfo[.recordedDetectorSettings] = true
        let old = #"{"mask_ratio": 0.5, "epochs": 7, "batch_size": 8, "learning_rate": 0.001, "beta1": 0.9, "beta2": 0.95, "weight_decay": 0.05, "seed": 3, "holdout": 0.1, "variance_kept": 0.9}"#
        let s = try decoder.decode(DetectorSettings.self, from: Data(old.utf8))
        XCTAssertEqual(s.gaussianFeature, .cls)
        XCTAssertEqual(s.gaussianCovariance, .pca)
        XCTAssertEqual(s.epochs, 7)
        XCTAssertEqual(s.seed, 3)
        XCTAssertEqual(s.learningRate, 0.001)
        XCTAssertNil(s.studentDepth)
        XCTAssertEqual(s.studentScore, .mean, "bundles from before the setting scored the student by its mean")
        XCTAssertEqual(s.patchMemory, 0, "bundles from before the patch memory have none")
    }

    /// The same absent keys in a configuration take today's defaults: only a bundle's record reads them as the past.
    func testAConfigurationWithoutTheKeysTakesTodaysDefaults() throws {
        let s = try JSONDecoder().decode(DetectorSettings.self, from: Data(#"{"epochs": 7}"#.utf8))
        var expected = DetectorSettings()
        expected.epochs = 7
        XCTAssertEqual(s, expected)
        XCTAssertNotEqual(s.patchMemory, DetectorSettings.papers.patchMemory)
    }
}
