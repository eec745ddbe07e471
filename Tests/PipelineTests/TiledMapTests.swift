import Checkpoint
import Decisions
@testable import Detector
import Engine
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
        FrameScore(raw: [:], verdict: Verdict(surprise: 0), map: map, grid: 4, tiles: tiles, peak: 0, patchCells: [], patchWeights: [])
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

    /// An ignore polygon over a planted hot patch: with the ignored cells painted grey, as ingest does, in the
    /// learning frames and in the test frames, the planted frame scores exactly as the same frame without the square
    /// and its map is 0 there; without the polygon the square lifts the frame above every normal frame.
    func testAnIgnoredPlantedPatchCountsInNoScoreOrMap() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tiled-map-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let parameters = ViTParameters(config: ViTConfig(imageSize: 64, patchSize: 16, width: 16, depth: 3, heads: 2, mlpWidth: 32))
        var rng = SplitMix64(seed: 21)
        for i in 0..<parameters.layout.count { parameters.storage.data[i] = Float(rng.nextGaussian()) * 0.3 }
        let teacherPath = directory + "/teacher.safetensors"
        try SafetensorsWriter.write(parameters.layout.entries.map { e in
            (name: e.name, shape: e.shape, values: Array(UnsafeBufferPointer(start: parameters.ptr(e.offset), count: e.shape.reduce(1, *))))
        }, metadata: [:], to: teacherPath)
        let vit = ViT(parameters: parameters)
        // Soft stripes at random phases; the test frame gets a green 12x12 square in cell (1, 2) of a 64x64 picture.
        func frames(_ n: Int) -> [UInt8] {
            (0..<n).flatMap { _ -> [UInt8] in
                let phase = Double(rng.next() % 1000) / 333
                return (0..<(64 * 64)).flatMap { i -> [UInt8] in
                    let v = 128 + 60 * sin(Double(i / 64) / 5 + phase) + Double(rng.next() % 8)
                    return [UInt8(v), UInt8(v * 0.8), UInt8(v * 0.6)]
                }
            }
        }
        let base = frames(1)
        var planted = base
        for y in 18..<30 { for x in 34..<46 { planted[(y * 64 + x) * 3 + 1] = 255 } }
        let learning = frames(40), normal = frames(12)
        let square = [[SIMD2(32.0, 16.0), SIMD2(48.0, 16.0), SIMD2(48.0, 32.0), SIMD2(32.0, 32.0)]]
        var settings = DetectorSettings.papers
        settings.patchMemory = 40
        settings.studentDepth = 0

        func scores(ignore: [[SIMD2<Double>]]) throws -> (normal: [FrameScore], base: FrameScore, planted: FrameScore, layout: TileLayout) {
            let layout = try TileLayout(sourceWidth: 64, sourceHeight: 64, inputSize: 64, grid: 4, ignore: ignore)
            func blank(_ rgb: [UInt8]) -> [UInt8] {
                stride(from: 0, to: rgb.count, by: 64 * 64 * 3).flatMap { start -> [UInt8] in
                    var one = Array(rgb[start..<(start + 64 * 64 * 3)])
                    layout.blankIgnoredCells(in: &one)
                    return one
                }
            }
            let bundle = try ModelFitting.fit(rgb: blank(learning), count: 40, teacher: ViTRunner(vit: vit, workers: 2, maxBatch: 8),
                                              teacherIdentity: TeacherIdentity(path: teacherPath), settings: settings)
            // The base and the planted frame each in the same place of the same batch: a frame's place in a batch
            // moves its scores in the last bits.
            let scorer = FrameScorer(teacher: vit, bundle: bundle, workers: 2, maxBatch: 8)
            let withBase = try scorer.score(blank(normal + base)), withPlanted = try scorer.score(blank(normal + planted))
            return (Array(withBase.prefix(12)), withBase[12], withPlanted[12], layout)
        }
        let open = try scores(ignore: [])
        XCTAssertGreaterThan(open.planted.patch!, open.normal.map { $0.patch! }.max()!, "the square is a hot patch")
        XCTAssertGreaterThan(open.planted.patch!, open.base.patch!)
        let ignored = try scores(ignore: square)
        XCTAssertEqual(ignored.layout.ignored.indices.filter { ignored.layout.ignored[$0] }, [6])
        XCTAssertEqual(ignored.planted.raw, ignored.base.raw, "the ignored square changes no score")
        XCTAssertEqual(ignored.planted.verdict.surprise, ignored.base.verdict.surprise)
        let (map, _) = CameraPipeline.sourceMap(ignored.planted, ignored.layout)
        XCTAssertEqual(map, CameraPipeline.sourceMap(ignored.base, ignored.layout).0)
        XCTAssertEqual(map[6], 0)
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
