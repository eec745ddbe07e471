import Foundation
import XCTest
@testable import Detector

final class DetectorSettingsTests: XCTestCase {
    func testDefaultsFollowTheSpec() throws {
        let s = DetectorSettings()
        XCTAssertEqual(s.maskRatio, 0.5)
        XCTAssertEqual(s.beta2, 0.95)
        XCTAssertEqual(s.varianceKept, 0.9, "Transformaly's PCA share, used with gaussianCovariance .pca")
        XCTAssertEqual(s.gaussianFeature, .cls, "CLS + patch mean opened false episodes on a small steady scene")
        XCTAssertEqual(s.gaussianCovariance, .pca)
        let round = try JSONDecoder().decode(DetectorSettings.self, from: JSONEncoder().encode(s))
        XCTAssertEqual(round, s)
        var other = s
        other.gaussianFeature = .clsPatchMean
        other.gaussianCovariance = .ledoitWolf
        other.studentScore = .channelProfile
        XCTAssertEqual(try JSONDecoder().decode(DetectorSettings.self, from: JSONEncoder().encode(other)), other)
    }

    func testOlderSettingsWithoutTheGaussianKeysMeanCLSWithPCA() throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let old = #"{"mask_ratio": 0.5, "epochs": 7, "batch_size": 8, "learning_rate": 0.001, "beta1": 0.9, "beta2": 0.95, "weight_decay": 0.05, "seed": 3, "holdout": 0.1, "variance_kept": 0.9}"#
        let s = try decoder.decode(DetectorSettings.self, from: Data(old.utf8))
        XCTAssertEqual(s.gaussianFeature, .cls)
        XCTAssertEqual(s.gaussianCovariance, .pca)
        XCTAssertEqual(s.epochs, 7)
        XCTAssertEqual(s.seed, 3)
        XCTAssertEqual(s.learningRate, 0.001)
        XCTAssertNil(s.studentDepth)
        XCTAssertEqual(s.studentScore, .mean, "bundles from before the setting scored the student by its mean")
    }
}
