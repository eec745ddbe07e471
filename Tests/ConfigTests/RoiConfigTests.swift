import XCTest
@testable import Config
import Ingest

/// `roi`, `tiles` and `ignore`: every malformed form is an error at its line naming the field and what it expects.
final class RoiConfigTests: XCTestCase {
    private func pipeline(_ lines: String...) -> String {
        "pipelines:\n  cam:\n    source: x.mp4\n" + lines.map { "    \($0)\n" }.joined()
    }

    func testWellFormedValuesDecode() throws {
        let c = try parse(pipeline("roi: [0, 700, 1920, 300]", "tiles: [4, 1]",
                                   "ignore: [[[-10, 690], [500, 690], [500, 2000.5]], [[0, 0], [16, 0], [16, 16], [0, 16]]]"))
        let o = c.pipelines[0].sourceOptions
        XCTAssertEqual(o.roi, PixelRect(x: 0, y: 700, width: 1920, height: 300))
        XCTAssertEqual([o.tileColumns, o.tileRows], [4, 1])
        XCTAssertEqual(o.ignore, [[[-10, 690], [500, 690], [500, 2000.5]], [[0, 0], [16, 0], [16, 16], [0, 16]]])
        // Absent: the whole picture as one tile, nothing ignored.
        let plain = try parse(pipeline()).pipelines[0].sourceOptions
        XCTAssertNil(plain.roi)
        XCTAssertEqual([plain.tileColumns, plain.tileRows], [1, 1])
        XCTAssertEqual(plain.ignore, [])
        // The extremes of each range.
        XCTAssertNoThrow(try parse(pipeline("roi: [65520, 0, 16, 65536]", "tiles: [1, 8]")))
        XCTAssertNoThrow(try parse(pipeline("tiles: [8, 8]", "ignore: [[[-65536, 65536], [0, 0], [65536, -65536]]]")))
    }

    func testMalformedRoisAreRejectedByName() {
        let expects = "expected [x, y, w, h]: 4 integers in source pixels"
        for (value, got) in [
            ("5", "got '5'"), ("[]", "got []"), ("[0, 0, 64]", "got [0, 0, 64]"), ("[0, 0, 64, 64, 1]", "got [0, 0, 64, 64, 1]"),
            ("[0, 0, 64.5, 64]", "got [0, 0, 64.5, 64]"), ("[a, 0, 64, 64]", "got [a, 0, 64, 64]"),
            ("[.nan, 0, 64, 64]", "got [nan, 0, 64, 64]"), ("[.inf, 0, 64, 64]", "got [inf, 0, 64, 64]"),
            ("{x: 0}", "got a mapping"), ("[[0, 0], [64, 64]]", "got a list of another shape"),
            ("[-1, 0, 64, 64]", "got [-1, 0, 64, 64]"), ("[0, -2, 64, 64]", "got [0, -2, 64, 64]"),
            ("[0, 0, 15, 64]", "got [0, 0, 15, 64]"), ("[0, 0, 64, 0]", "got [0, 0, 64, 0]"),
            ("[65521, 0, 16, 16]", "got [65521, 0, 16, 16]"), ("[0, 0, 16, 65537]", "got [0, 0, 16, 65537]"),
            ("[0, 0, 9223372036854775807, 16]", "got [0, 0, 9.223372036854776e+18, 16]"),
        ] {
            assertRejected(pipeline("roi: \(value)"), line: 4, field: "pipelines.cam.roi", contains: "\(expects)")
            assertRejected(pipeline("roi: \(value)"), line: 4, field: "pipelines.cam.roi", contains: got)
        }
    }

    func testMalformedTilesAreRejectedByName() {
        for (value, got) in [
            ("3", "got '3'"), ("[3]", "got [3]"), ("[3, 2, 1]", "got [3, 2, 1]"), ("[0, 1]", "got [0, 1]"), ("[9, 1]", "got [9, 1]"),
            ("[1, -1]", "got [1, -1]"), ("[1.5, 1]", "got [1.5, 1]"), ("[two, 1]", "got [two, 1]"), ("{columns: 2}", "got a mapping"),
        ] {
            assertRejected(pipeline("tiles: \(value)"), line: 4, field: "pipelines.cam.tiles",
                           contains: "expected [columns, rows]: 2 integers in 1...8, \(got)")
        }
        // Tiles must be at least 16x16 source pixels of the roi.
        assertRejected(pipeline("roi: [0, 0, 64, 300]", "tiles: [5, 1]"), line: 5, field: "pipelines.cam.tiles",
                       contains: "expected tiles of at least 16x16 source pixels: the roi [0, 0, 64, 300] holds at most [4, 8], got [5, 1]")
        XCTAssertNoThrow(try parse(pipeline("roi: [0, 0, 64, 300]", "tiles: [4, 8]")))
        // Each tile is squashed: a centre crop of a roi or of tiles is refused rather than ignored.
        assertRejected(pipeline("resize: crop", "tiles: [2, 1]"), line: 4, field: "pipelines.cam.resize",
                       contains: "expected 'squash' with roi or tiles")
        assertRejected(pipeline("resize: crop", "roi: [0, 0, 64, 64]"), line: 4, field: "pipelines.cam.resize", contains: "got 'crop'")
        XCTAssertNoThrow(try parse(pipeline("resize: crop", "ignore: [[[0, 0], [9, 0], [0, 9]]]")))
    }

    func testMalformedIgnorePolygonsAreRejectedByName() {
        let expects = "expected a list of polygons in source pixels, each a list of at least 3 [x, y] points"
        for (value, got) in [
            ("5", "got '5'"),
            ("[[0, 0], [10, 0], [0, 10]]", "got a list of another shape"),   // one polygon without its list
            ("[[[0, 0], [10, 0]]]", "got polygon 1 with 2 points"),
            ("[[[0, 0], [10, 0], [0, 10]], []]", "got polygon 2 with 0 points"),
            ("[[[0, 0, 1], [10, 0], [0, 10]]]", "got the point [0, 0, 1] in polygon 1"),
            ("[[[0, 0], [10, 0], [0, 10]], [[0], [10, 0], [0, 10]]]", "got the point [0] in polygon 2"),
            ("[[[0, .nan], [10, 0], [0, 10]]]", "got the point [0, nan] in polygon 1"),
            ("[[[0, 0], [10, -.inf], [0, 10]]]", "got the point [10, -inf] in polygon 1"),
            ("[[[0, 0], [10, 0], [0, 1e300]]]", "got the point [0, 1e+300] in polygon 1"),
            ("[[[0, 0], [10, 0], [0, 65537]]]", "got the point [0, 65537] in polygon 1"),
            ("[[[0, 0], [10, 0], [0, x]]]", "got a list of another shape"),
        ] {
            assertRejected(pipeline("ignore: \(value)"), line: 4, field: "pipelines.cam.ignore", contains: expects)
            assertRejected(pipeline("ignore: \(value)"), line: 4, field: "pipelines.cam.ignore", contains: got)
        }
    }

    func testDefaultsApplyAndErrorsInThemNameTheirLine() throws {
        let yaml = """
            defaults:
              roi: [0, 0, 640, 100]
              tiles: [2, 1]
            pipelines:
              a: {source: a.mp4}
              b: {source: b.mp4, roi: [0, 100, 320, 100]}
              c: {source: c.mp4, roi: ~, tiles: [1, 1]}
            """
        let c = try parse(yaml)
        XCTAssertEqual(c.pipelines.map(\.sourceOptions.roi), [PixelRect(x: 0, y: 0, width: 640, height: 100),
                                                              PixelRect(x: 0, y: 100, width: 320, height: 100),
                                                              PixelRect(x: 0, y: 0, width: 640, height: 100)])
        XCTAssertEqual(c.pipelines.map(\.sourceOptions.tileColumns), [2, 2, 1])
        assertRejected("defaults:\n  roi: [0, 0, 8, 8]\npipelines:\n  a: {source: a.mp4}\n", line: 2, field: "defaults.roi",
                       contains: "expected [x, y, w, h]")
    }
}
