import Decisions
@testable import Detector
import Foundation
import Ingest
@testable import Pipeline
import XCTest

/// A tiled frame's map on its way to an episode's region: the tiles' maps stitched over the roi with ignored cells
/// zeroed, and the box of the hot cells in source pixels, naming the tiles it touches.
final class TiledMapTests: XCTestCase {
    /// A 1000x600 picture, roi [101, 51, 801, 401] as 2 x 1 tiles of 400 and 401 px by 401 px; 4 x 4 cells a tile.
    private func layout(ignore: [[SIMD2<Double>]] = []) throws -> TileLayout {
        try TileLayout(sourceWidth: 1000, sourceHeight: 600, roi: PixelRect(x: 101, y: 51, width: 801, height: 401),
                       columns: 2, rows: 1, inputSize: 64, grid: 4, ignore: ignore)
    }

    private func score(_ map: [Float], tiles: Int) -> FrameScore {
        FrameScore(raw: [:], verdict: Verdict(surprise: 0), map: map, grid: 4, tiles: tiles, peak: 0)
    }

    func testTheMapIsStitchedOverTheRoiAndIgnoredCellsAreZero() throws {
        // Tile 1's left column (source x 501...600) is ignored.
        let layout = try layout(ignore: [[SIMD2(495, 0), SIMD2(599, 0), SIMD2(599, 600), SIMD2(495, 600)]])
        XCTAssertEqual(layout.ignored.indices.filter { layout.ignored[$0] }, [16, 20, 24, 28])
        let tileMaps = (0..<32).map { Float($0 + 1) }
        let (map, geometry) = CameraPipeline.sourceMap(score(tileMaps, tiles: 2), layout)
        let g = try XCTUnwrap(geometry)
        XCTAssertEqual([g.rows, g.columns], [4, 8])
        // Row r of the stitched map: tile 0's row r, then tile 1's, with tile 1's column 0 zeroed.
        for r in 0..<4 {
            XCTAssertEqual(Array(map[(r * 8)..<(r * 8 + 8)]),
                           (0..<4).map { Float(r * 4 + $0 + 1) } + [0] + (1..<4).map { Float(16 + r * 4 + $0 + 1) })
        }
    }

    func testAnEpisodesBoxIsInSourcePixelsAndNamesTheTilesItTouches() throws {
        let layout = try layout()
        // Hot cells: tile 0's row 2, columns 2-3, and tile 1's row 2, column 0: one blob across the tile edge.
        var tileMaps = [Float](repeating: 0.1, count: 32)
        tileMaps[2 * 4 + 2] = 5
        tileMaps[2 * 4 + 3] = 9
        tileMaps[16 + 2 * 4 + 0] = 6
        let (map, geometry) = CameraPipeline.sourceMap(score(tileMaps, tiles: 2), layout)
        let region = try XCTUnwrap(Region.locate(errors: map, in: try XCTUnwrap(geometry), fraction: 0.5))
        XCTAssertEqual(region.grid, [4, 8])
        XCTAssertEqual(region.peakCell, [2, 3])
        // Tile 0 spans x 101..<501, tile 1 x 501..<902; rows 51..<452. Cell columns 2-3 of tile 0 are x 301..<501,
        // column 0 of tile 1 x 501..<601; row 2 is y 51 + 2*401/4 = 251 ..< 51 + 3*401/4 = 351.
        XCTAssertEqual(region.bbox, [301, 251, 601, 351])
        XCTAssertEqual(region.tiles, [0, 1])
        let json = String(decoding: try JSONEncoder().encode(region), as: UTF8.self)
        XCTAssertTrue(json.contains("\"tiles\":[0,1]"), json)

        // The decision stage takes the geometry: the episode's region is the same.
        var settings = DecisionSettings()
        settings.framesToStart = 1
        var stage = try DecisionStage(pipeline: "p", settings: settings)
        let decision = try XCTUnwrap(stage.process(ScoredFrame(score: 1, rawScore: 9, index: 0, pts: 0, captureTime: Date(),
                                                               patchErrors: map, grid: 4, sourceWidth: 1000, sourceHeight: 600,
                                                               geometry: geometry)))
        XCTAssertEqual(decision.region, region)
    }

    func testAWholeFrameLayoutGivesTheOldBoxAndNoTiles() throws {
        let layout = try TileLayout(sourceWidth: 1280, sourceHeight: 720, inputSize: 64, grid: 4)
        var cells = [Float](repeating: 0, count: 16)
        cells[15] = 1
        let (map, geometry) = CameraPipeline.sourceMap(score(cells, tiles: 1), layout)
        let region = Region.locate(errors: map, in: try XCTUnwrap(geometry), fraction: 0.5)
        XCTAssertEqual(region, Region.locate(errors: cells, grid: 4, width: 1280, height: 720, fraction: 0.5))
        XCTAssertNil(region?.tiles)
    }
}
