import Foundation
import XCTest
@testable import Detector

final class DetectorSettingsTests: XCTestCase {
    func testDefaultsFollowTheSpec() throws {
        let s = DetectorSettings()
        XCTAssertEqual(s.maskRatio, 0.5)
        XCTAssertEqual(s.beta2, 0.95)
        XCTAssertEqual(s.varianceKept, 0.9, "Transformaly's PCA share: 0.99 gave false episodes on small steady scenes")
        let round = try JSONDecoder().decode(DetectorSettings.self, from: JSONEncoder().encode(s))
        XCTAssertEqual(round, s)
    }
}
