import XCTest
@testable import Engine

final class ViTConfigTests: XCTestCase {
    func testDerivedSizes() {
        let c = ViTConfig(width: 192, depth: 12, heads: 3, mlpWidth: 768)
        XCTAssertEqual(c.grid, 14)
        XCTAssertEqual(c.tokens, 197)
        XCTAssertEqual(c.headDim, 64)
        XCTAssertEqual(c.patchDim, 768)
    }
}
