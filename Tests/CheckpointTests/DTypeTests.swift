import XCTest
@testable import Checkpoint

final class DTypeTests: XCTestCase {
    func testByteSizes() {
        XCTAssertEqual(DType(rawValue: "F32")?.byteSize, 4)
        XCTAssertEqual(DType(rawValue: "BF16")?.byteSize, 2)
        XCTAssertNil(DType(rawValue: "I64"))
    }
}
