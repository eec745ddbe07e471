import Checkpoint
import Foundation
import Reference
import XCTest
@testable import Detector
@testable import Engine

final class PatchMemoryTests: XCTestCase {
    // MARK: - References

    /// k-center greedy the plain way: each step recomputes every point's distance to every chosen point, in Double.
    private func bruteForceGreedy(_ x: [Float], count n: Int, dimension d: Int, budget: Int, first: Int) -> [Int] {
        var chosen = [first]
        while chosen.count < budget {
            var best = -1.0, pick = 0
            for i in 0..<n {
                let gap = chosen.map { c in (0..<d).reduce(0.0) { $0 + pow(Double(x[i * d + $1]) - Double(x[c * d + $1]), 2) } }.min()!
                if gap > best { best = gap; pick = i }
            }
            chosen.append(pick)
        }
        return chosen
    }

    private func distance(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        zip(a, b).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }.squareRoot()
    }

    private func row(_ x: [Float], _ i: Int, _ d: Int) -> ArraySlice<Float> { x[(i * d)..<((i + 1) * d)] }

    // MARK: - Coreset

    func testTheCoresetIsTheBruteForceGreedyChoice() throws {
        var rng = RNG(3)
        for (n, d, budget) in [(300, 8, 40), (9000, 4, 25)] {   // 9,000 points take the two-thread path
            let x = rng.floats(n * d)
            let fast = try x.withUnsafeBufferPointer {
                try Coreset.select(points: $0.baseAddress!, count: n, dimension: d, budget: budget, projection: d, seed: 7)
            }
            XCTAssertEqual(fast, bruteForceGreedy(x, count: n, dimension: d, budget: budget, first: 7 % n), "n \(n), d \(d)")
        }
        let few = [Float](repeating: 1, count: 12)
        XCTAssertEqual(try few.withUnsafeBufferPointer { try Coreset.select(points: $0.baseAddress!, count: 3, dimension: 4, budget: 5) },
                       [0, 1, 2], "a budget beyond the points keeps them all")
        let many = rng.floats(500 * 4)
        XCTAssertThrowsError(try many.withUnsafeBufferPointer {
            try Coreset.select(points: $0.baseAddress!, count: 500, dimension: 4, budget: 200, shouldStop: { true })
        }) { XCTAssertTrue($0 is CancellationError, "\($0)") }
    }

    /// Through the random projection: ten well-separated clusters in 64 dimensions, ten picks, one from each.
    func testTheProjectedCoresetCoversEveryCluster() throws {
        var rng = RNG(11)
        let d = 64, clusters = 10, per = 50
        let centres = (0..<clusters).map { _ in rng.floats(d, 10) }
        var x = [Float]()
        for i in 0..<(clusters * per) { x += centres[i % clusters].map { $0 + rng.float(0.1) } }
        let chosen = try x.withUnsafeBufferPointer {
            try Coreset.select(points: $0.baseAddress!, count: clusters * per, dimension: d, budget: clusters, projection: 16, seed: 2)
        }
        XCTAssertEqual(Set(chosen.map { $0 % clusters }).count, clusters, "\(chosen)")
    }

    // MARK: - Scoring

    /// Cells against a naive nearest-neighbour loop over a memory of several GEMM chunks; the frame score against
    /// eq. 7 written out.
    func testScoresAreTheNaiveNearestNeighbourDistancesAndTheReweightedMaximum() throws {
        var rng = RNG(5)
        let d = 24, m = 2500, p = 9
        let bank = rng.floats(m * d)
        let memory = try PatchMemory(blocks: [0], grid: 3, dimension: d, bank: bank, baseline: 0.5)
        var queries = rng.floats(p * d)
        for j in 0..<d { queries[4 * d + j] += 3 }   // one patch far from everything
        let scored = queries.withUnsafeBufferPointer { memory.score($0.baseAddress!, patches: p) }
        let (cells, score) = (scored.cells, scored.score)

        var nearest = [Int](repeating: 0, count: p)
        for i in 0..<p {
            let gaps = (0..<m).map { distance(row(queries, i, d), row(bank, $0, d)) }
            nearest[i] = gaps.indices.min { gaps[$0] < gaps[$1] }!
            XCTAssertEqual(Double(cells[i]), gaps[nearest[i]], accuracy: 1e-4 * gaps[nearest[i]], "cell \(i)")
        }
        let star = cells.indices.max { cells[$0] < cells[$1] }!
        XCTAssertEqual(star, 4)
        let centre = nearest[star]
        let support = [centre] + (0..<m).filter { $0 != centre }
            .sorted { distance(row(bank, $0, d), row(bank, centre, d)) < distance(row(bank, $1, d), row(bank, centre, d)) }
            .prefix(PatchMemory.neighbours - 1)
        let exps = support.map { exp(distance(row(queries, star, d), row(bank, $0, d))) }
        let dStar = distance(row(queries, star, d), row(bank, centre, d))
        XCTAssertEqual(score, (1 - exps[0] / exps.reduce(0, +)) * dStar, accuracy: 1e-4 * dStar)
        XCTAssertEqual(memory.map(cells), cells.map { max(0, $0 - 0.5) })

        // Every cell's factor is eq. 7's at its own nearest memory patch, and lifts move the frame score's maximum:
        // taking the far patch's cell down to the others' makes the frame score another cell's factor times its cell.
        for i in 0..<p {
            let centre = nearest[i]
            let support = [centre] + (0..<m).filter { $0 != centre }
                .sorted { distance(row(bank, $0, d), row(bank, centre, d)) < distance(row(bank, $1, d), row(bank, centre, d)) }
                .prefix(PatchMemory.neighbours - 1)
            let exps = support.map { exp(distance(row(queries, i, d), row(bank, $0, d))) }
            XCTAssertEqual(Double(scored.weights[i]), 1 - exps[0] / exps.reduce(0, +), accuracy: 1e-5, "cell \(i)")
        }
        XCTAssertEqual(PatchMemory.frameScore(cells: cells, weights: scored.weights), score, accuracy: 1e-6 * score)
        var lifts = [Float](repeating: 0, count: p)
        lifts[4] = cells[4] - cells.enumerated().filter { $0.offset != 4 }.map(\.element).min()!
        let second = (0..<p).filter { $0 != 4 }.max { cells[$0] < cells[$1] }!
        XCTAssertEqual(PatchMemory.frameScore(cells: cells, weights: scored.weights, lifts: lifts),
                       Double(scored.weights[second]) * Double(cells[second]), accuracy: 1e-6)
        lifts = lifts.map { _ in 0.25 }
        XCTAssertEqual(PatchMemory.frameScore(cells: cells, weights: scored.weights, lifts: lifts),
                       Double(scored.weights[4]) * Double(cells[4] - 0.25), accuracy: 1e-6, "an even lift keeps the maximum's cell")

        // Normalised, every cell is w_i (d_i − a_i), and the frame score is eq. 7's factor at the largest normalised
        // cell times that cell: shrinking the far patch's cell moves the maximum to another one.
        var scales = [Float](repeating: 1, count: p)
        scales[4] = 0.01
        scales[7] = 1.5
        let offsets = (0..<p).map { Float($0) * 0.05 }
        let normalized = try memory.with(PatchMemory.CellNormalization(offsets: offsets, scales: scales), baseline: 0.5)
        let normalizedScored = queries.withUnsafeBufferPointer { normalized.score($0.baseAddress!, patches: p) }
        let (normalizedCells, normalizedScore) = (normalizedScored.cells, normalizedScored.score)
        for i in 0..<p {
            XCTAssertEqual(normalizedCells[i], scales[i] * (cells[i] - offsets[i]), accuracy: 1e-5 * cells[i], "cell \(i)")
        }
        let moved = normalizedCells.indices.max { normalizedCells[$0] < normalizedCells[$1] }!
        XCTAssertNotEqual(moved, 4)
        let onlyMoved = try memory.with(PatchMemory.CellNormalization(offsets: [Float](repeating: 0, count: p),
                                                                      scales: (0..<p).map { $0 == moved ? 1 : 1e-3 }), baseline: 0.5)
        let alone = queries.withUnsafeBufferPointer { onlyMoved.score($0.baseAddress!, patches: p).score }
        let factor = alone / Double(cells[moved])   // eq. 7's factor at the moved maximum
        XCTAssertEqual(normalizedScore, factor * Double(normalizedCells[moved]), accuracy: 1e-6 * alone,
                       "eq. 7's factor at the moved maximum, times its normalised cell")
    }

    /// The cell normalisation against the statistics written out on a 4×4 grid: a_i each cell's median, b_i the
    /// largest 0.99-quantile spread in its 3×3 neighbourhood, w_i = S / b_i. The one cell whose distances reach four
    /// times as far scales itself and its 8 neighbours down, and no other cell; too few frames, or no spread, leave
    /// the identity.
    func testCellNormalizationLevelsEachNeighbourhoodsNormalReach() {
        var rng = RNG(13)
        let grid = 4, p = 16, frames = 300, wide = 5   // cell (1, 1)
        var cells = [Float]()
        for _ in 0..<frames { for i in 0..<p { cells.append(2 + Float(i) * 0.1 + abs(rng.floats(1)[0]) * (i == wide ? 4 : 1)) } }
        func quantile(_ v: [Float], _ q: Double) -> Float { let s = v.sorted(); return s[min(s.count - 1, Int(q * Double(s.count)))] }
        let column = { (i: Int) in (0..<frames).map { cells[$0 * p + i] } }
        let spread = (0..<p).map { quantile(column($0), 0.99) - quantile(column($0), 0.5) }
        let all = quantile(cells, 0.99) - quantile(cells, 0.5)
        let n = PatchMemory.cellNormalization(distances: cells, grid: grid)
        for r in 0..<grid {
            for c in 0..<grid {
                let i = r * grid + c
                let neighbourhood = (max(0, r - 1)...min(grid - 1, r + 1)).flatMap { rr in
                    (max(0, c - 1)...min(grid - 1, c + 1)).map { rr * grid + $0 }
                }
                XCTAssertEqual(n.offsets[i], quantile(column(i), 0.5), "cell \(i)")
                XCTAssertEqual(n.scales[i], all / neighbourhood.map { spread[$0] }.max()!, accuracy: 1e-5 * n.scales[i], "cell \(i)")
                let nearWide = abs(r - 1) <= 1 && abs(c - 1) <= 1
                XCTAssertEqual(n.scales[i] < 0.5 * n.scales[15], nearWide, "cell \(i): only the wide cell's neighbourhood is scaled down")
            }
        }
        XCTAssertEqual(PatchMemory.cellNormalization(distances: Array(cells.prefix(19 * p)), grid: grid), .identity(cells: p))
        XCTAssertEqual(PatchMemory.cellNormalization(distances: [Float](repeating: 3, count: 40 * p), grid: grid), .identity(cells: p),
                       "identical distances have no spread to level")
    }

    /// Each patch's feature is the mean of its 3×3 neighbours inside the grid, per block, blocks side by side.
    func testLocallyAwareFeaturesAverageEachPatchsNeighbours() {
        var rng = RNG(9)
        let g = 3, t = g * g + 1, d = 2, batch = 2
        let streams = [1: rng.floats(batch * t * d), 4: rng.floats(batch * t * d)]
        let output = ViTOutput(batch: batch, tokens: t, width: d, finalTokens: [], clsAttention: [], logits: [],
                               blockOutputs: streams)
        var features = [Float]()
        PatchMemory.appendFeatures(output, frame: 1, blocks: [1, 4], to: &features)
        XCTAssertEqual(features.count, g * g * 2 * d)
        for r in 0..<g {
            for c in 0..<g {
                for (k, block) in [1, 4].enumerated() {
                    for j in 0..<d {
                        var sum = 0.0, n = 0.0
                        for rr in (r - 1)...(r + 1) where rr >= 0 && rr < g {
                            for cc in (c - 1)...(c + 1) where cc >= 0 && cc < g {
                                sum += Double(streams[block]![(t + 1 + rr * g + cc) * d + j])
                                n += 1
                            }
                        }
                        XCTAssertEqual(Double(features[(r * g + c) * 2 * d + k * d + j]), sum / n, accuracy: 1e-6)
                    }
                }
            }
        }
    }

    /// Channel scales are σ̄/σ_j of each column (population standard deviation, σ̄ the mean of the varying columns'),
    /// 1 for a constant column; `appendFeatures` multiplies the pooled features by them.
    func testChannelScalesLevelEachColumnsSpread() {
        var rng = RNG(5)
        let n = 400, d = 4
        let spreads: [Float] = [20, 1, 0.5, 0]
        var x = [Float]()
        for _ in 0..<n { for j in 0..<d { x.append(7 + spreads[j] * rng.float(1)) } }
        let s = PatchMemory.channelScales(features: x, dimension: d)
        var sigma = [Double]()
        for j in 0..<3 {
            let column = (0..<n).map { Double(x[$0 * d + j]) }
            let mean = column.reduce(0, +) / Double(n)
            sigma.append((column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot())
        }
        let mean = sigma.reduce(0, +) / 3
        for j in 0..<3 { XCTAssertEqual(Double(s[j]), mean / sigma[j], accuracy: 1e-4 * mean / sigma[j]) }
        XCTAssertEqual(s[3], 1, "a constant column keeps 1")

        let g = 3, t = g * g + 1, width = 2
        let streams = [1: rng.floats(t * width)]
        let output = ViTOutput(batch: 1, tokens: t, width: width, finalTokens: [], clsAttention: [], logits: [],
                               blockOutputs: streams)
        var raw = [Float](), scaled = [Float]()
        PatchMemory.appendFeatures(output, frame: 0, blocks: [1], to: &raw)
        PatchMemory.appendFeatures(output, frame: 0, blocks: [1], scales: [2, 0.25], to: &scaled)
        for i in raw.indices { XCTAssertEqual(scaled[i], raw[i] * (i % 2 == 0 ? 2 : 0.25), accuracy: 1e-6) }
    }

    /// Why the columns are scaled: a patch that differs from the memory in a quiet column by many of that column's
    /// spreads is nearer its normal neighbours than they are to each other in the loud column, unscaled; scaled it
    /// is the farthest.
    func testScaledColumnsFindADeviationInAQuietChannel() throws {
        var rng = RNG(8)
        let n = 300, d = 2
        var x = [Float]()
        for _ in 0..<n { x += [30 * rng.float(1), 0.1 * rng.float(1)] }
        let scales = PatchMemory.channelScales(features: x, dimension: d)
        let queries: [[Float]] = [[0, 1.5], [45, 0]]   // 15 spreads off in the quiet column; 1.5 in the loud one
        func distances(_ scales: [Float]?) throws -> [Float] {
            let bank = scales.map { s in x.indices.map { x[$0] * s[$0 % d] } } ?? x
            let m = try PatchMemory.fit(features: bank, dimension: d, blocks: [0], grid: 1, budget: 100, seed: 1,
                                        channelScales: scales)
            return queries.map { q in
                let v = scales.map { s in [q[0] * s[0], q[1] * s[1]] } ?? q
                return v.withUnsafeBufferPointer { m.nearest($0.baseAddress!, patches: 1).distances[0] }
            }
        }
        let raw = try distances(nil), scaled = try distances(scales)
        XCTAssertLessThan(raw[0], raw[1], "unscaled, the loud column decides")
        XCTAssertGreaterThan(scaled[0], scaled[1], "scaled, the quiet column's deviation is the larger")
    }

    func testStoredParametersAreChecked() {
        XCTAssertThrowsError(try PatchMemory(blocks: [3, 1], grid: 2, dimension: 2, bank: [0, 0], baseline: 0)) {
            XCTAssertEqual($0 as? PatchMemoryError, .invalidParameter(field: "blocks", detail: "[3, 1] is not an increasing list of block indices"))
        }
        XCTAssertThrowsError(try PatchMemory(blocks: [0], grid: 2, dimension: 2, bank: [0, .nan], baseline: 0)) {
            XCTAssertEqual($0 as? PatchMemoryError, .invalidParameter(field: "bank", detail: "row 0 is not finite"))
        }
        XCTAssertThrowsError(try PatchMemory(blocks: [0], grid: 2, dimension: 2, bank: [0, 0, 1], baseline: 0))
        XCTAssertThrowsError(try PatchMemory(blocks: [0], grid: 2, dimension: 2, bank: [0, 0], baseline: -1))
        XCTAssertThrowsError(try PatchMemory(blocks: [0], grid: 2, dimension: 2, bank: [0, 0], baseline: 0, channelScales: [1, 0])) {
            XCTAssertEqual($0 as? PatchMemoryError, .invalidParameter(field: "channel_scales", detail: "expected 2 positive finite scales, one per feature column"))
        }
    }

    // MARK: - Fitting and the bundle

    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("patch-memory-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A 3-block teacher over 64 px frames in 16 px patches (a 4×4 grid), seeded random weights.
    private func teacher() throws -> (ViT, String) {
        let parameters = ViTParameters(config: ViTConfig(imageSize: 64, patchSize: 16, width: 16, depth: 3, heads: 2, mlpWidth: 32))
        var rng = RNG(21)
        for i in 0..<parameters.layout.count { parameters.storage.data[i] = rng.float(0.3) }
        let path = directory + "/teacher.safetensors"
        try SafetensorsWriter.write(parameters.layout.entries.map { e in
            (name: e.name, shape: e.shape, values: Array(UnsafeBufferPointer(start: parameters.ptr(e.offset), count: e.shape.reduce(1, *))))
        }, metadata: [:], to: path)
        return (ViT(parameters: parameters), path)
    }

    /// Normal frames: soft horizontal stripes at a random phase, with noise.
    private func frames(_ n: Int, seed: UInt64, size: Int = 64) -> [UInt8] {
        var rng = RNG(seed)
        var out = [UInt8]()
        for _ in 0..<n {
            let phase = Double(rng.float()) * 3
            for y in 0..<size {
                for _ in 0..<size {
                    let v = 128 + 60 * sin(Double(y) / 5 + phase) + Double(rng.float(8))
                    out += [UInt8(v), UInt8(v * 0.8), UInt8(v * 0.6)]
                }
            }
        }
        return out
    }

    /// A real fit with the patch memory and no student (`student_depth: 0`): the memory joins the calibration with
    /// out-of-sample scores, survives a round trip through the bundle, and a frame with a planted square in one patch
    /// scores above every normal frame, with the map's peak next to that patch.
    func testTheFittedMemoryIsCalibratedStoredAndFindsAPlantedPatch() throws {
        let (vit, teacherPath) = try teacher()
        var settings = DetectorSettings.papers
        settings.patchMemory = 40
        settings.studentDepth = 0
        let learn = 60
        let runner = ViTRunner(vit: vit, workers: 2, maxBatch: 8)
        let bundle = try ModelFitting.fit(rgb: frames(learn, seed: 1), count: learn, teacher: runner,
                                          teacherIdentity: TeacherIdentity(path: teacherPath), settings: settings)
        let memory = try XCTUnwrap(bundle.patchMemory)
        XCTAssertEqual(bundle.calibration.components, [.gaussian, .patch])
        XCTAssertNil(bundle.student)
        XCTAssertEqual(memory.blocks, [1])
        XCTAssertEqual(memory.count, 40)
        XCTAssertEqual(memory.dimension, memory.blocks.count * 16)
        XCTAssertEqual(bundle.calibration.tails.first { $0.component == .patch }?.tail.sorted.count, learn,
                       "one cross-fitted score per learning frame")

        let path = directory + "/model"
        try bundle.save(to: path)
        let loaded = try ModelBundle.load(from: path, teacherPath: teacherPath)
        XCTAssertEqual(loaded.patchMemory, memory)
        XCTAssertEqual(loaded.metadata.teacher.precision, (runner.vit.packed?.precision ?? .fp32).rawValue,
                       "the fit records the precision its teacher ran in")
        XCTAssertEqual(memory.cellScales.count, 16)
        XCTAssertNotEqual(Set(memory.cellScales), [1], "scales learned from the learning frames")
        let channels = try XCTUnwrap(memory.channelScales, "the fit scales the feature columns")
        XCTAssertEqual(channels.count, memory.dimension)
        XCTAssertGreaterThan(Set(channels).count, 1)
        XCTAssertNotEqual(Set(memory.cellOffsets), [0], "offsets learned from the learning frames")
        // Each cell's level is a high quantile of its learning cells: above the median (its offset, 0 after scaling)
        // and no higher than the largest normal frame's score can reach before its factor (< 1).
        let levels = try XCTUnwrap(memory.cellLevels)
        XCTAssertEqual(levels.count, 16)
        XCTAssertTrue(levels.allSatisfy { $0 > 0 }, "\(levels)")
        XCTAssertGreaterThan(Set(levels).count, 1, "levels per cell")

        var novel = frames(1, seed: 99)
        for y in 20..<28 { for x in 36..<44 { for ch in 0..<3 { novel[(y * 64 + x) * 3 + ch] = ch == 1 ? 255 : 0 } } }
        let normal = frames(30, seed: 2)
        let scorer = FrameScorer(teacher: vit, bundle: loaded, workers: 2, maxBatch: 8)
        let scores = try scorer.score(normal + novel)
        XCTAssertEqual(try FrameScorer(teacher: vit, bundle: bundle, workers: 2, maxBatch: 8).score(normal + novel).map(\.patch),
                       scores.map(\.patch), "the loaded memory scores as the fitted one")
        let planted = try XCTUnwrap(scores.last)
        XCTAssertGreaterThan(planted.patch!, scores.dropLast().map { $0.patch! }.max()!)
        XCTAssertEqual(planted.grid, 4)
        // The square sits in row 1, column 2; the 3×3 pooling spreads it over that patch's neighbours.
        XCTAssertLessThanOrEqual(abs(planted.peak / 4 - 1), 1, "peak \(planted.peak)")
        XCTAssertLessThanOrEqual(abs(planted.peak % 4 - 2), 1, "peak \(planted.peak)")
        XCTAssertGreaterThan(planted.verdict.surprise, scores.dropLast().map(\.verdict.surprise).max()!)
    }

    /// A frame scored as two tiles: its raw score per component is the larger of its tiles', its tails hold one score
    /// per frame (the same statistic), its map is both tiles' maps with the peak in the tile holding a planted
    /// square, and the bundle keeps its tile count through a save and load.
    func testATiledFrameScoresAsItsLargestTileAndIsCalibratedPerFrame() throws {
        let (vit, teacherPath) = try teacher()
        var settings = DetectorSettings.papers
        settings.patchMemory = 40
        settings.studentDepth = 0
        settings.normalizeBrightness = false   // the per-tile scores below are taken from the tiles as they are
        let learn = 30
        let runner = ViTRunner(vit: vit, workers: 2, maxBatch: 8)
        let bundle = try ModelFitting.fit(rgb: frames(2 * learn, seed: 5), count: 2 * learn, teacher: runner,
                                          teacherIdentity: TeacherIdentity(path: teacherPath), settings: settings,
                                          tilesPerFrame: 2)
        XCTAssertEqual(bundle.metadata.frames.tilesPerFrame, 2)
        for tail in bundle.calibration.tails { XCTAssertEqual(tail.tail.sorted.count, learn, "\(tail.component): one score per frame") }
        let path = directory + "/tiled"
        try bundle.save(to: path)
        let loaded = try ModelBundle.load(from: path, teacherPath: teacherPath)
        XCTAssertEqual(loaded.metadata.frames.tiles, 2)
        XCTAssertEqual(loaded.patchMemory?.cellLevels?.count, 32, "levels per cell of each tile")

        var test = frames(6, seed: 77)   // 3 frames; frame 1's second tile (image 3) gets a green square
        for y in 20..<28 { for x in 36..<44 { for ch in 0..<3 { test[((3 * 64 + y) * 64 + x) * 3 + ch] = ch == 1 ? 255 : 0 } } }
        let scorer = FrameScorer(teacher: vit, bundle: loaded, workers: 2, maxBatch: 8)
        XCTAssertEqual(scorer.tilesPerFrame, 2)
        let scored = try scorer.score(test)
        XCTAssertEqual(scored.count, 3)
        let tiles = try test.withUnsafeBufferPointer { rgb in
            try scorer.score(teacher: runner.forward(rgb: rgb.baseAddress!, batch: 6, captureBlocks: Set(loaded.patchMemory!.blocks)),
                             rgb: rgb.baseAddress!)
        }
        for (f, frame) in scored.enumerated() {
            XCTAssertEqual(frame.tiles, 2)
            XCTAssertEqual(frame.map, tiles[2 * f].map + tiles[2 * f + 1].map)
            for component in bundle.calibration.components {
                XCTAssertEqual(frame.raw[component], max(tiles[2 * f].raw[component]!, tiles[2 * f + 1].raw[component]!), "\(component)")
            }
            XCTAssertEqual(frame.verdict.surprise, try loaded.calibration.evaluate(frame.raw).surprise)
        }
        XCTAssertEqual(scored[1].peak / 16, 1, "the peak is in the second tile")
        XCTAssertGreaterThan(scored[1].patch!, max(scored[0].patch!, scored[2].patch!))
    }

    /// When the learning frames' patches exceed the candidates' bound, every k-th frame's feed the memory, and the
    /// others are scored in a second pass by their fold's memory: the tail still has one score per learning frame,
    /// each equal to the frame's score under a memory fitted on the other folds' kept frames alone.
    func testFramesLeftOutOfTheMemoryAreStillCalibrated() throws {
        let (vit, teacherPath) = try teacher()
        var settings = DetectorSettings.papers
        settings.patchMemory = 24
        settings.studentDepth = 0
        settings.normalizeBrightness = false   // the features below are taken from the frames as they are
        let learn = 40, rgb = frames(learn, seed: 4)
        let runner = ViTRunner(vit: vit, workers: 2, maxBatch: 8)
        let bundle = try ModelFitting.fit(rgb: rgb, count: learn, teacher: runner, teacherIdentity: TeacherIdentity(path: teacherPath),
                                          settings: settings, maxPatchCandidates: 16 * 10)   // every 4th frame
        let tail = try XCTUnwrap(bundle.calibration.tails.first { $0.component == .patch }).tail
        XCTAssertEqual(tail.sorted.count, learn)

        // Frame 5 is not kept (5 % 4 ≠ 0); it lies in fold 0 of 5 (frames 0-7), so its memory is a coreset of the
        // kept frames 8, 12, ..., 36 at 24 × 8/10 patches.
        let imageBytes = 64 * 64 * 3
        func features(_ i: Int) -> [Float] {
            let out = rgb.withUnsafeBufferPointer { runner.forward(rgb: $0.baseAddress! + i * imageBytes, batch: 1, captureBlocks: [1]) }
            var f = [Float]()
            PatchMemory.appendFeatures(out, frame: 0, blocks: [1], to: &f)
            return f
        }
        // The columns are scaled by the spread of every kept frame's features.
        let scales = PatchMemory.channelScales(features: stride(from: 0, to: learn, by: 4).flatMap { features($0) }, dimension: 16)
        func scaled(_ f: [Float]) -> [Float] { f.indices.map { f[$0] * scales[$0 % 16] } }
        let others = scaled(stride(from: 8, to: learn, by: 4).flatMap { features($0) })
        let fold = try PatchMemory.fit(features: others, dimension: 16, blocks: [1], grid: 4, budget: 24 * 8 / 10, seed: 0,
                                       channelScales: scales)
        let expected = scaled(features(5)).withUnsafeBufferPointer { fold.score($0.baseAddress!, patches: 16).score }
        XCTAssertTrue(tail.sorted.contains { abs($0 - expected) <= 1e-4 * expected }, "\(expected) not among \(tail.sorted)")
    }

    func testABundlesPatchMemoryIsCheckedWhenLoaded() throws {
        let (vit, teacherPath) = try teacher()
        var settings = DetectorSettings.papers
        settings.patchMemory = 16
        let bundle = try ModelFitting.fit(rgb: frames(24, seed: 3), count: 24, teacher: ViTRunner(vit: vit, workers: 1, maxBatch: 8),
                                          teacherIdentity: TeacherIdentity(path: teacherPath), settings: settings,
                                          components: [.gaussian])
        let path = directory + "/model"
        try bundle.save(to: path)
        let file = path + "/" + ModelBundle.patchMemoryFile
        let m = try XCTUnwrap(bundle.patchMemory)
        func rewrite(blocks: String = "1,2", grid: String = "4", baseline: String = "0.5", width: Int? = nil) throws {
            let d = width ?? m.dimension
            try SafetensorsWriter.write([("bank", [m.count, d], Array(repeating: 0.25, count: m.count * d))],
                                        metadata: ["blocks": blocks, "grid": grid, "baseline": baseline], to: file)
        }
        func expect(_ field: String, _ fragment: String, teacher: String? = nil, line: UInt = #line) {
            XCTAssertThrowsError(try ModelBundle.load(from: path, teacherPath: teacher), line: line) {
                guard case let .inconsistent(_, file, f, detail) = $0 as? ModelBundleError else { return XCTFail("\($0)", line: line) }
                XCTAssertEqual(file, ModelBundle.patchMemoryFile, line: line)
                XCTAssertEqual(f, field, line: line)
                XCTAssertTrue(detail.contains(fragment), detail, line: line)
            }
        }
        XCTAssertEqual(PatchMemory.blocks(teacherDepth: 3), [1], "the fixture's blocks")
        try rewrite(blocks: "x")
        expect("__metadata__.blocks", "comma-separated")
        try rewrite(blocks: "1,7", width: 32)
        expect("__metadata__.blocks", "beyond the teacher's 3 blocks")
        try rewrite(blocks: "1", width: 32)
        expect("bank", "1 blocks of the teacher width 16 make 16")
        try rewrite(blocks: "1", baseline: "far")
        expect("__metadata__.baseline", "not a number")
        try rewrite(blocks: "1", grid: "5")
        expect("__metadata__.grid", "5×5", teacher: teacherPath)
        try SafetensorsWriter.write([("bank", [m.count, 16], Array(repeating: 0.25, count: m.count * 16)),
                                     ("cell_scales", [3], [1, 1, 1])],
                                    metadata: ["blocks": "1", "grid": "4", "baseline": "0.5"], to: file)
        expect("cell_scales", "16 positive finite scales")
        try SafetensorsWriter.write([("bank", [m.count, 16], Array(repeating: 0.25, count: m.count * 16)),
                                     ("cell_offsets", [16], [Float](repeating: .nan, count: 16))],
                                    metadata: ["blocks": "1", "grid": "4", "baseline": "0.5"], to: file)
        expect("cell_offsets", "16 finite offsets")
        try SafetensorsWriter.write([("bank", [m.count, 16], Array(repeating: 0.25, count: m.count * 16)),
                                     ("channel_scales", [15], [Float](repeating: 1, count: 15))],
                                    metadata: ["blocks": "1", "grid": "4", "baseline": "0.5"], to: file)
        expect("channel_scales", "16 positive finite scales")
        for (levels, fragment) in [([Float](repeating: 1, count: 10), "16 per tile"), ([Float](repeating: 1, count: 32), "1 tiles of 16 cells make 16")] {
            try SafetensorsWriter.write([("bank", [m.count, 16], Array(repeating: 0.25, count: m.count * 16)),
                                         ("cell_levels", [levels.count], levels)],
                                        metadata: ["blocks": "1", "grid": "4", "baseline": "0.5"], to: file)
            expect("cell_levels", fragment)
        }
        // A bundle written before the cell scales, offsets and levels loads with every scale 1, every offset 0 and no
        // levels (the live levels stay off).
        try rewrite(blocks: "1")
        let old = try XCTUnwrap(ModelBundle.load(from: path, teacherPath: teacherPath).patchMemory)
        XCTAssertEqual(old.cellScales, Array(repeating: 1, count: 16))
        XCTAssertEqual(old.cellOffsets, Array(repeating: 0, count: 16))
        XCTAssertNil(old.cellLevels)
        XCTAssertNil(old.channelScales, "a bundle written before the channel scales searches raw features")
        try FileManager.default.removeItem(atPath: file)
        XCTAssertThrowsError(try ModelBundle.load(from: path)) {
            XCTAssertEqual($0 as? ModelBundleError, .missingFile(bundle: path, file: ModelBundle.patchMemoryFile))
        }
    }
}
