import XCTest
@testable import Ingest

final class FrameTests: XCTestCase {
    func testResizeModesParse() {
        XCTAssertEqual(ResizeMode(rawValue: "crop"), .crop)
        XCTAssertNil(ResizeMode(rawValue: "stretch"))
    }
}
