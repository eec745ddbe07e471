import Foundation
import XCTest
@testable import Decisions

final class DecisionSettingsTests: XCTestCase {
    func testCodableRoundTrip() throws {
        var s = DecisionSettings()
        s.framesToStart = 4
        XCTAssertEqual(try JSONDecoder().decode(DecisionSettings.self, from: JSONEncoder().encode(s)), s)
    }
}
