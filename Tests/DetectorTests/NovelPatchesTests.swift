import Reference
import XCTest
@testable import Detector

/// The patches operator feedback remembers of a frame: the most novel cells with their own features, and the radius
/// a normal patch reaches at each cell.
final class NovelPatchesTests: XCTestCase {
    func testTheMostNovelCellsAreKeptHighestFirstWithTheirOwnFeatures() throws {
        var rng = RNG(11)
        let d = 8, m = 300, p = 16
        let memory = try PatchMemory(blocks: [0], grid: 4, dimension: d, bank: rng.floats(m * d), baseline: 0.5)
        var q = rng.floats(p * d)
        for (cell, lift) in [(9, 5), (2, 4), (14, 3), (5, 2)] { for j in 0..<d { q[cell * d + j] += Float(lift) } }
        let scored = q.withUnsafeBufferPointer { memory.score($0.baseAddress!, patches: p) }
        // The naive choice: every cell's score sorted, the first four.
        let expected = scored.cells.indices.sorted { scored.cells[$0] > scored.cells[$1] }.prefix(NovelPatches.count)
        XCTAssertEqual(scored.novel.cells, Array(expected))
        XCTAssertEqual(scored.novel.cells, [9, 2, 14, 5])
        XCTAssertEqual(scored.novel.scores, expected.map { scored.cells[$0] })
        XCTAssertEqual(scored.novel.dimension, d)
        for (i, cell) in scored.novel.cells.enumerated() {
            XCTAssertEqual(Array(scored.novel.features[(i * d)..<((i + 1) * d)]), Array(q[(cell * d)..<((cell + 1) * d)]))
        }

        // Two tiles: the four highest of both, the second tile's cells offset by the cells per tile.
        var other = scored.novel
        other.scores = other.scores.map { $0 - 2.5 }   // tile 1's 9 and 2 fall between tile 0's
        let both = NovelPatches(tiles: [scored.novel, other], cellsPerTile: 16)
        let pool = (scored.novel.scores.map { ($0, 0) } + other.scores.map { ($0, 1) }).enumerated()
            .sorted { $0.element.0 > $1.element.0 }.prefix(NovelPatches.count)
        XCTAssertEqual(both.scores, pool.map { $0.element.0 })
        XCTAssertEqual(both.cells, pool.map { $0.element.1 * 16 + (scored.novel.cells + other.cells)[$0.offset] })
        XCTAssertEqual(both.features.count, NovelPatches.count * d)
    }

    /// A patch exactly `reach` from its nearest memory patch scores the baseline at that cell.
    func testAPatchAtItsCellsReachScoresTheBaseline() throws {
        let d = 2
        let bank: [Float] = [0, 0, 10, 10, -10, 10, 10, -10]
        let memory = try PatchMemory(blocks: [0], grid: 2, dimension: d, bank: bank, baseline: 0.8,
                                     cellOffsets: [0.1, 0.2, 0.3, 0.4], cellScales: [1, 2, 0.5, 4])
        for cell in 0..<4 {
            var q = [Float](repeating: 0, count: 4 * d)
            q[cell * d] = memory.reach(cell: cell)   // along x from the origin, nearer to it than to any other row
            let scored = q.withUnsafeBufferPointer { memory.score($0.baseAddress!, patches: 4) }
            XCTAssertEqual(scored.cells[cell], memory.baseline, accuracy: 1e-5, "cell \(cell)")
        }
    }
}
