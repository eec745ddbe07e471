import Foundation
import XCTest
@testable import Ingest

/// A roi and its tiles through a real 4:2:0 decode: each tile shows the part of the picture its layout says.
final class RoiSourceTests: XCTestCase {
    /// A magenta rectangle at odd offsets, x 403...530 and y 201...280, on grey, 640x360, as H.264 4:2:0.
    static let rectangle = PixelRect(x: 403, y: 201, width: 128, height: 80)
    static let video: Result<String, Error> = Result {
        let dir = try Media.temporaryDirectory("roi")
        XCTestObservationCenter.shared.addTestObserver(RemoveWhenDone(dir))
        let path = dir.appendingPathComponent("rectangle.mp4").path
        let inside = "between(X,403,530)*between(Y,201,280)"
        try Media.ffmpeg(["-f", "lavfi", "-i", "nullsrc=s=640x360:r=10:d=0.3,format=rgb24,"
                            + "geq=r='if(\(inside),255,128)':g='if(\(inside),0,128)':b='if(\(inside),255,128)'",
                          "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", path])
        return path
    }

    static let magenta = [255, 0, 255], grey = [128, 128, 128]

    /// Checks every 4th pixel of each tile against the source pixel under it: magenta inside the rectangle, grey
    /// outside, skipping 3 source pixels either side of its edges (chroma subsampling, the scaler's filter and the
    /// chroma-grid alignment of a crop, at most one pixel, blur them). Returns how many magenta pixels it saw.
    @discardableResult
    func assertTilesShowTheRectangle(_ frame: Frame, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let layout = try XCTUnwrap(frame.layout, file: file, line: line)
        let r = Self.rectangle
        var seen = 0
        for (t, tile) in layout.tiles.enumerated() {
            for py in stride(from: 1, to: frame.size, by: 4) {
                for px in stride(from: 1, to: frame.size, by: 4) {
                    let x = Double(tile.x) + (Double(px) + 0.5) * Double(tile.width) / Double(frame.size)
                    let y = Double(tile.y) + (Double(py) + 0.5) * Double(tile.height) / Double(frame.size)
                    let dx = min(abs(x - Double(r.x)), abs(x - Double(r.maxX))), dy = min(abs(y - Double(r.y)), abs(y - Double(r.maxY)))
                    let inX = x > Double(r.x) && x < Double(r.maxX), inY = y > Double(r.y) && y < Double(r.maxY)
                    if (dx < 3 && inY) || (dy < 3 && inX) || (dx < 3 && dy < 3) { continue }
                    let i = t * frame.size * frame.size * 3 + (py * frame.size + px) * 3
                    let rgb = frame.pixels[i..<i + 3].map(Int.init)
                    if inX && inY { seen += 1 }
                    XCTAssertColor(rgb, inX && inY ? Self.magenta : Self.grey, tolerance: 12,
                                   "tile \(t) pixel (\(px), \(py)), source (\(Int(x)), \(Int(y)))", file: file, line: line)
                }
            }
        }
        return seen
    }

    func testTilesOfARoiAtTheFramesEdgeSeeTheRectangleWhereTheLayoutSaysSo() async throws {
        var options = SourceOptions()
        // Odd x and y, reaching the right and bottom edges; 339 / 3 and 239 / 2 do not divide.
        options.roi = PixelRect(x: 301, y: 121, width: 339, height: 239)
        (options.tileColumns, options.tileRows) = (3, 2)
        let frame = try await collect(FrameSource(try Self.video.get(), options: options), limit: 1).0[0]
        XCTAssertEqual(frame.tileCount, 6)
        XCTAssertEqual(frame.pixels.count, 6 * 224 * 224 * 3)
        XCTAssertEqual([frame.sourceWidth, frame.sourceHeight], [640, 360])
        XCTAssertEqual(frame.layout, try TileLayout(sourceWidth: 640, sourceHeight: 360, roi: options.roi, columns: 3, rows: 2))
        // The rectangle spans tiles 0, 1 (top row) and 3, 4 (bottom row); tiles 2 and 5 (x >= 527 + 3) are grey but for
        // the rectangle's last 3 columns.
        XCTAssertGreaterThan(try assertTilesShowTheRectangle(frame), 500)
    }

    func testARoiOfExactlyTheRectangleIsMagentaToWithinAPixelOfItsEdges() async throws {
        var options = SourceOptions()
        options.roi = Self.rectangle
        let frame = try await collect(FrameSource(try Self.video.get(), options: options), limit: 1).0[0]
        XCTAssertEqual(frame.tileCount, 1)
        XCTAssertEqual(frame.pixels.count, 224 * 224 * 3)
        // 224 / 128 = 1.75 output columns per source column: past the first 2 source columns (the one the chroma
        // grid adds at the odd left edge, and chroma blur) everything is the rectangle.
        for y in stride(from: 8, to: 216, by: 8) {
            for x in stride(from: 4, to: 220, by: 4) { XCTAssertColor(frame.rgb(x: x, y: y), Self.magenta, tolerance: 12, "(\(x), \(y))") }
        }
    }

    /// An ignore polygon over the rectangle's left half: every pixel of every ignored cell is mid-grey in the model
    /// input, in whichever tile it falls, and the rectangle's right half still shows.
    func testIgnoredCellsAreFlatGreyInEveryTileAndTheRestIsUntouched() async throws {
        var options = SourceOptions()
        options.roi = PixelRect(x: 301, y: 121, width: 339, height: 239)
        (options.tileColumns, options.tileRows) = (3, 2)
        options.ignore = [[SIMD2(403, 201), SIMD2(467, 201), SIMD2(467, 281), SIMD2(403, 281)]]
        let frame = try await collect(FrameSource(try Self.video.get(), options: options), limit: 1).0[0]
        let layout = try XCTUnwrap(frame.layout)
        XCTAssertEqual(layout.ignored, layout.ignoreMask(options.ignore))
        let ignoredCells = layout.ignored.indices.filter { layout.ignored[$0] }
        XCTAssertGreaterThan(ignoredCells.count, 4)
        XCTAssertGreaterThan(Set(ignoredCells.map { $0 / 196 }).count, 1, "the polygon spans tiles")
        var magentaOutside = 0
        for t in 0..<frame.tileCount {
            for y in 0..<224 {
                for x in 0..<224 {
                    let i = ((t * 224 + y) * 224 + x) * 3
                    let rgb = frame.pixels[i..<i + 3].map(Int.init)
                    if layout.ignored[(t * 14 + y / 16) * 14 + x / 16] {
                        XCTAssertEqual(rgb, Self.grey, "tile \(t) ignored pixel (\(x), \(y))")
                        if rgb != Self.grey { return }
                    } else if rgb[1] < 40 {
                        magentaOutside += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(magentaOutside, 1000, "the rectangle's right half is not ignored")
    }

    func testWithoutRoiOrTilesTheFrameIsOneImageOfTheWholePicture() async throws {
        let frame = try await collect(FrameSource(try Self.video.get()), limit: 1).0[0]
        XCTAssertEqual(frame.tileCount, 1)
        XCTAssertEqual(frame.pixels.count, 224 * 224 * 3)
        XCTAssertEqual(frame.layout?.tiles, [PixelRect(x: 0, y: 0, width: 640, height: 360)])
        XCTAssertGreaterThan(try assertTilesShowTheRectangle(frame), 100)
    }

    func testARoiOutsideThePictureFailsTheSourceNamingItAndBothSizes() async throws {
        var options = SourceOptions()
        options.roi = PixelRect(x: 600, y: 300, width: 64, height: 64)
        let path = try Self.video.get()
        let source = try FrameSource(path, options: options)
        let (frames, error) = await collect(source)
        XCTAssertEqual(frames.count, 0)
        XCTAssertEqual(error as? IngestError, .layout(source: path, .roiOutsideFrame(roi: options.roi!, width: 640, height: 360)))
        let message = "\(error!)"
        XCTAssertTrue(message.contains("\(path): roi [600, 300, 64, 64] does not fit the 640x360 picture"), message)
        XCTAssertEqual(source.stats.state, .failed)
    }

    func testRoiAndTilesOutOfRangeAreRejectedWhenTheSourceIsMade() {
        for (roi, tiles, expected) in [
            (PixelRect(x: -1, y: 0, width: 64, height: 64), (1, 1), "roi: expected [x, y, w, h]"),
            (PixelRect(x: 0, y: 0, width: 15, height: 64), (1, 1), "roi: expected [x, y, w, h]"),
            (PixelRect(x: 0, y: 0, width: 64, height: 64), (9, 1), "tiles: expected [columns, rows]"),
            (PixelRect(x: 0, y: 0, width: 64, height: 64), (5, 1), "tiles: expected tiles of at least 16x16"),
        ] {
            var options = SourceOptions()
            options.roi = roi
            (options.tileColumns, options.tileRows) = tiles
            XCTAssertThrowsError(try FrameSource("x.mp4", options: options)) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
        }
    }
}
