import XCTest
@testable import Kernels

final class TensorTests: XCTestCase {
    func testShapeAndValues() {
        let t = Tensor([2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t.array, [1, 2, 3, 4, 5, 6])
        t.zero()
        XCTAssertEqual(t.array, [Float](repeating: 0, count: 6))
    }
}
