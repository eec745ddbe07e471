import Foundation
import XCTest
@testable import Detector

final class DetectorSettingsTests: XCTestCase {
    func testDefaultsFollowTheSpec() throws {
        let s = DetectorSettings()
        XCTAssertEqual(s.maskRatio, 0.5)
        XCTAssertEqual(s.beta2, 0.95)
        XCTAssertEqual(s.varianceKept, 0.99, "the PCA share benchmarks/quality measured best, not Transformaly's 0.9")
        let round = try JSONDecoder().decode(DetectorSettings.self, from: JSONEncoder().encode(s))
        XCTAssertEqual(round, s)
    }
}
