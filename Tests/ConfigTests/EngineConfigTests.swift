import Kernels
import XCTest
@testable import Config

/// The `engine:` section: the teacher's precision, by name, falling back to fp32 where the CPU lacks it.
final class EngineConfigTests: XCTestCase {
    private let pipelines = "pipelines:\n  a:\n    source: x.mp4\n"

    func testAbsentIsTheProcessDefault() throws {
        let c = try parse(pipelines)
        XCTAssertNil(c.engine.precision)
        XCTAssertEqual(c.engine.effectivePrecision, FastPath.precision)
    }

    func testEachPrecisionRunsWhereTheCPUHasIt() throws {
        for p in FastPath.Precision.allCases {
            let e = try parse("engine: {precision: \(p.rawValue)}\n" + pipelines).engine
            XCTAssertEqual(e.precision, p)
            let runs = FastPath.isa == .avx512 && FastPath.precisions.contains(p)
            XCTAssertEqual(e.effectivePrecision, runs ? p : .fp32, p.rawValue)
        }
    }

    func testBadValuesNameTheirField() {
        assertRejected("engine:\n  precision: fp16\n" + pipelines, line: 2, field: "engine.precision",
                       contains: "expected one of fp32, bf16, int8, got 'fp16'")
        assertRejected("engine:\n  precison: int8\n" + pipelines, line: 2, field: "engine.precison", contains: "unknown key")
    }
}
