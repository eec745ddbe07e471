import XCTest
@testable import Ingest

final class TileLayoutTests: XCTestCase {
    /// How many of `rects` cover each pixel of `area` (and whether any reaches outside it).
    private func coverage(_ rects: [PixelRect], of area: PixelRect) -> (counts: [Int], outside: Bool) {
        var counts = [Int](repeating: 0, count: area.width * area.height)
        var outside = false
        for r in rects {
            if r.x < area.x || r.y < area.y || r.maxX > area.maxX || r.maxY > area.maxY { outside = true; continue }
            for y in r.y..<r.maxY { for x in r.x..<r.maxX { counts[(y - area.y) * area.width + x - area.x] += 1 } }
        }
        return (counts, outside)
    }

    func testTilesOfOddSizesPartitionARoiAtTheFramesEdge() throws {
        // The roi ends at the right and bottom edges of an odd-sized picture; 917 / 3 and 479 / 2 do not divide.
        let roi = PixelRect(x: 1000, y: 600, width: 917, height: 479)
        let layout = try TileLayout(sourceWidth: 1917, sourceHeight: 1079, roi: roi, columns: 3, rows: 2)
        XCTAssertEqual(layout.tiles, [
            PixelRect(x: 1000, y: 600, width: 305, height: 239), PixelRect(x: 1305, y: 600, width: 306, height: 239),
            PixelRect(x: 1611, y: 600, width: 306, height: 239),
            PixelRect(x: 1000, y: 839, width: 305, height: 240), PixelRect(x: 1305, y: 839, width: 306, height: 240),
            PixelRect(x: 1611, y: 839, width: 306, height: 240),
        ])
        let (counts, outside) = coverage(layout.tiles, of: roi)
        XCTAssertFalse(outside)
        XCTAssertTrue(counts.allSatisfy { $0 == 1 }, "no gap, no overlap")
        XCTAssertEqual(layout.tiles.last?.maxX, 1917)
        XCTAssertEqual(layout.tiles.last?.maxY, 1079)

        // Every tiling of a few awkward sizes: exact cover, tile sides within a pixel of each other.
        for (w, h) in [(17 * 8 + 7, 16 * 8 + 5), (317, 179), (33, 47)] {
            for columns in 1...8 where w / columns >= 16 {
                for rows in 1...8 where h / rows >= 16 {
                    let area = PixelRect(x: 3, y: 1, width: w, height: h)
                    let l = try TileLayout(sourceWidth: w + 4, sourceHeight: h + 1, roi: area, columns: columns, rows: rows)
                    let (counts, outside) = coverage(l.tiles, of: area)
                    XCTAssertFalse(outside, "\(w)x\(h) in \(columns)x\(rows)")
                    XCTAssertTrue(counts.allSatisfy { $0 == 1 }, "\(w)x\(h) in \(columns)x\(rows)")
                    XCTAssertLessThanOrEqual(l.tiles.map(\.width).max()! - l.tiles.map(\.width).min()!, 1)
                    XCTAssertLessThanOrEqual(l.tiles.map(\.height).max()! - l.tiles.map(\.height).min()!, 1)
                }
            }
        }
    }

    func testDefaultsAreTheWholePictureAsOneTile() throws {
        let l = try TileLayout(sourceWidth: 640, sourceHeight: 360)
        XCTAssertEqual(l.roi, PixelRect(x: 0, y: 0, width: 640, height: 360))
        XCTAssertEqual(l.tiles, [l.roi])
        XCTAssertEqual([l.mapRows, l.mapColumns], [14, 14])
        // What `resize: crop` scores: the centre square at even offsets, as the scaler always cropped it.
        XCTAssertEqual(PixelRect.centredSquare(width: 641, height: 360), PixelRect(x: 140, y: 0, width: 360, height: 360))
        XCTAssertEqual(PixelRect.centredSquare(width: 360, height: 647), PixelRect(x: 0, y: 142, width: 360, height: 360))
    }

    func testCellRectsFollowThePatchGrid() throws {
        // A 224-pixel tile has 16-pixel cells, as the ViT's patches.
        let square = try TileLayout(sourceWidth: 300, sourceHeight: 250, roi: PixelRect(x: 50, y: 20, width: 224, height: 224))
        XCTAssertEqual(square.cellRect(tile: 0, row: 2, column: 3), PixelRect(x: 50 + 48, y: 20 + 32, width: 16, height: 16))
        XCTAssertEqual(square.cellRect(tile: 0, row: 13, column: 13), PixelRect(x: 50 + 208, y: 20 + 208, width: 16, height: 16))

        let l = try TileLayout(sourceWidth: 1917, sourceHeight: 1079, roi: PixelRect(x: 1000, y: 600, width: 917, height: 479),
                               columns: 3, rows: 2)
        for t in l.tiles.indices {
            let cells = (0..<14).flatMap { r in (0..<14).map { l.cellRect(tile: t, row: r, column: $0) } }
            let (counts, outside) = coverage(cells, of: l.tiles[t])
            XCTAssertFalse(outside, "tile \(t)")
            XCTAssertTrue(counts.allSatisfy { $0 == 1 }, "the cells of tile \(t) partition it")
        }
        // Tile 4 is 306 wide from x = 1305: cell column c starts at 1305 + c * 306 / 14.
        XCTAssertEqual(l.cellRect(tile: 4, row: 0, column: 5), PixelRect(x: 1305 + 109, y: 839, width: 22, height: 17))
        // Stitched-map cells name the same rectangles.
        XCTAssertEqual(l.mapCellRect(row: 14, column: 19), l.cellRect(tile: 4, row: 0, column: 5))
        XCTAssertEqual(l.mapCellRect(row: 27, column: 41), l.cellRect(tile: 5, row: 13, column: 13))
        XCTAssertEqual(l.mapCellRect(row: 27, column: 41).maxX, 1917)
    }

    func testStitchingMatchesANaiveLoop() throws {
        var rng = SystemRandomNumberGenerator()
        for (columns, rows) in [(1, 1), (3, 2), (2, 3), (8, 1)] {
            let l = try TileLayout(sourceWidth: 1920, sourceHeight: 1080, columns: columns, rows: rows)
            let maps = (0..<l.tileCount).map { _ in (0..<196).map { _ in Float.random(in: 0...1, using: &rng) } }
            let stitched = l.stitch(maps: maps)
            XCTAssertEqual(stitched.rows, rows * 14)
            XCTAssertEqual(stitched.cols, columns * 14)
            var naive = [Float](repeating: -1, count: stitched.rows * stitched.cols)
            for tr in 0..<rows {
                for tc in 0..<columns {
                    for r in 0..<14 {
                        for c in 0..<14 { naive[(tr * 14 + r) * columns * 14 + tc * 14 + c] = maps[tr * columns + tc][r * 14 + c] }
                    }
                }
            }
            XCTAssertEqual(stitched.values, naive, "\(columns)x\(rows)")
        }
    }

    func testBoxesMapBackToSourcePixelsAndTheirTiles() throws {
        let roi = PixelRect(x: 1000, y: 600, width: 917, height: 479)
        let l = try TileLayout(sourceWidth: 1917, sourceHeight: 1079, roi: roi, columns: 3, rows: 2)
        // The whole map is the whole roi, up to the picture's edge.
        let all = l.sourceBox(rows: 0...27, columns: 0...41)
        XCTAssertEqual(all.box, [1000, 600, 1917, 1079])
        XCTAssertEqual(all.tiles, [0, 1, 2, 3, 4, 5])
        // One cell in the bottom-right tile.
        let corner = l.sourceBox(rows: 27...27, columns: 41...41)
        XCTAssertEqual(corner.box, [1917 - 22, 1079 - 18, 1917, 1079])
        XCTAssertEqual(corner.tiles, [5])
        // Across the boundary of tiles 0 and 1 and down into 3 and 4: the union of its cells.
        let across = l.sourceBox(rows: 12...15, columns: 13...14)
        let cells = (12...15).flatMap { r in (13...14).map { l.mapCellRect(row: r, column: $0) } }
        XCTAssertEqual(across.box, [cells.map(\.x).min()!, cells.map(\.y).min()!, cells.map(\.maxX).max()!, cells.map(\.maxY).max()!])
        XCTAssertEqual(across.box[0], l.tiles[0].x + 13 * 305 / 14)
        XCTAssertEqual(across.box[2], l.tiles[1].x + 306 / 14)
        XCTAssertEqual(across.tiles, [0, 1, 3, 4])
    }

    func testAnIgnorePolygonMarksExactlyTheCellsOfAPlantedRegion() throws {
        // 224 pixels, one tile: cells are 16 pixels. The rectangle spans cell columns 2...5 and rows 3...4 exactly.
        let l = try TileLayout(sourceWidth: 320, sourceHeight: 240, roi: PixelRect(x: 64, y: 8, width: 224, height: 224))
        let planted: [SIMD2<Double>] = [[64 + 32, 8 + 48], [64 + 96, 8 + 48], [64 + 96, 8 + 80], [64 + 32, 8 + 80]]
        let mask = l.ignoreMask([planted])
        XCTAssertEqual(mask.count, 196)
        let expected = (0..<14).flatMap { r in (0..<14).map { c in (3...4).contains(r) && (2...5).contains(c) } }
        XCTAssertEqual(mask, expected)
        XCTAssertEqual(l.ignoreMask([]), [Bool](repeating: false, count: 196))

        // Tiled: a polygon over exactly tile 4 of 3x2 (reaching past the picture is fine) ignores its cells only.
        let tiled = try TileLayout(sourceWidth: 1920, sourceHeight: 1080, columns: 3, rows: 2)
        let t4 = tiled.tiles[4]
        let over: [SIMD2<Double>] = [[Double(t4.x), Double(t4.y)], [Double(t4.maxX), Double(t4.y)],
                                     [Double(t4.maxX), 5000], [Double(t4.x), 5000]]
        let tiledMask = tiled.ignoreMask([over])
        XCTAssertEqual(tiledMask.count, 6 * 196)
        for t in 0..<6 { XCTAssertEqual(tiledMask[t * 196..<(t + 1) * 196].filter { $0 }.count, t == 4 ? 196 : 0, "tile \(t)") }

        // Polygons add up: a triangle over the top-left half and the rectangle are both ignored, overlap included.
        let triangle: [SIMD2<Double>] = [[64, 8], [64 + 224, 8], [64, 8 + 224]]   // centres with r + c < 13
        let both = l.ignoreMask([triangle, planted])
        XCTAssertEqual(both, (0..<196).map { $0 / 14 + $0 % 14 < 13 || expected[$0] })

        // Even-odd: one path around the tile and, through a slit from its corner, around a square inside it: the
        // inner square is crossed twice, so it is outside (cells 4...9 of each side, centres in (64, 160)).
        let ring: [SIMD2<Double>] = [[0, 0], [224, 0], [224, 224], [0, 224], [0, 0],
                                     [64, 64], [64, 160], [160, 160], [160, 64], [64, 64]].map { $0 + SIMD2(64, 8) }
        XCTAssertEqual(l.ignoreMask([ring]), (0..<196).map { !((4...9).contains($0 / 14) && (4...9).contains($0 % 14)) })
    }

    func testAMismatchedRoiOrTilesFailNamingTheFieldAndBothSizes() {
        XCTAssertThrowsError(try TileLayout(sourceWidth: 1280, sourceHeight: 720, roi: PixelRect(x: 1200, y: 0, width: 160, height: 90))) {
            XCTAssertEqual($0 as? LayoutMismatch, .roiOutsideFrame(roi: PixelRect(x: 1200, y: 0, width: 160, height: 90), width: 1280, height: 720))
            let message = "\(IngestError.layout(source: "rtsp://***@cam/1", $0 as! LayoutMismatch))"
            XCTAssertTrue(message.hasPrefix("rtsp://***@cam/1: roi [1200, 0, 160, 90] does not fit the 1280x720 picture"), message)
            XCTAssertTrue(message.contains("x = 1360"), message)
        }
        XCTAssertThrowsError(try TileLayout(sourceWidth: 100, sourceHeight: 100, columns: 8, rows: 2)) {
            let message = "\(IngestError.layout(source: "a.mp4", $0 as! LayoutMismatch))"
            XCTAssertTrue(message.contains("tiles [8, 2] over the region [0, 0, 100, 100] are smaller than 16x16"), message)
            XCTAssertTrue(message.contains("expected at most [6, 6]"), message)
        }
        // One tile may be any size: small pictures scale up as they always did.
        XCTAssertNoThrow(try TileLayout(sourceWidth: 4, sourceHeight: 3))
    }
}
