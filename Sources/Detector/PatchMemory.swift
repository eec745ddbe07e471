import CBLAS
import Engine
import Foundation
import Kernels

public enum PatchMemoryError: Error, CustomStringConvertible, Equatable {
    case tooFewPatches(count: Int, budget: Int)
    case nonFiniteFeature(row: Int)
    /// A stored parameter is malformed (used when rebuilding a saved model).
    case invalidParameter(field: String, detail: String)

    public var description: String {
        switch self {
        case let .tooFewPatches(count, budget):
            return "The patch memory needs normal patches to choose \(budget) from, but got \(count)."
        case let .nonFiniteFeature(row):
            return "Patch feature row \(row) has a non-finite value (NaN or infinity)."
        case let .invalidParameter(field, detail):
            return "Patch memory parameter '\(field)' is invalid: \(detail)."
        }
    }
}

/// PatchCore (Roth et al., CVPR 2022) on the frozen teacher's patch tokens: patch-level evidence, so that a defect a
/// few patches wide is measured against normal patches rather than lost in a whole-image feature.
///
/// - Feature of patch (r, c): for each block in `blocks`, the residual stream's token of that patch averaged with
///   its 3×3 neighbours inside the grid (the paper's locally aware features), the blocks concatenated.
/// - Memory: a greedy coreset (`Coreset`) of the learning frames' patch features, at most `budget` of them.
/// - Cell score: the distance from the patch to its nearest memory patch, d = ‖q − m*‖, standardised per cell:
///   w_i (d − a_i) (`cellNormalization`). A fixed camera sees different normal variation at different places (a
///   flat dark background under compression noise reaches far from the memory, the belt in the light does not),
///   and the teacher's border and corner tokens (pooled over 4-6 neighbours, not 9) reach farther than inner ones:
///   on raw distances the frame score of normal frames is a noisy background cell's, and a novel object on the belt
///   is measured against that.
/// - Frame score: the largest cell score c*, reweighted as the paper's eq. 7: with N the `neighbours` memory
///   patches nearest to m* (m* among them), s = (1 − exp d* / Σ_{m∈N} exp ‖q* − m‖) · c*: a patch whose nearest
///   memory patch sits in a sparse part of the memory counts for more than one at the edge of a dense cluster.
/// - Map: how far each cell lies beyond `baseline`, the cell score normal patches reach (the 0.99 quantile of the
///   learning frames' out-of-sample cell scores), so that an episode's box surrounds the novel patches only.
/// - Cell levels: each cell's own 0.99 quantile over those frames (per tile), which the pipeline's live levels
///   (`CellLevels`) compare with the scene's recent one to take back a rise of the normal level at one place (a dark
///   floor under a light change) from that cell's score; frame scores are then `frameScore(cells:weights:lifts:)`.
public struct PatchMemory: Sendable, Equatable {
    public let blocks: [Int]
    /// The teacher's patch grid side G; a frame has G² patches.
    public let grid: Int
    public let dimension: Int
    public let count: Int
    /// [count, dimension] row-major.
    public let bank: [Float]
    public let baseline: Float
    /// a_i per cell of the grid (G² values; all 0 in bundles written before them).
    public let cellOffsets: [Float]
    /// w_i per cell of the grid (G² values; all 1 in bundles written before them).
    public let cellScales: [Float]
    /// The learning frames' 0.99 quantile of each cell score, tile after tile (tiles × G² values; nil in bundles
    /// written before them, which the live levels then leave alone).
    public let cellLevels: [Float]?
    /// s_j per feature column, applied to every pooled feature before it is stored or searched (nil in bundles
    /// written before them: raw features). `channelScales(features:dimension:)` explains why.
    public let channelScales: [Float]?
    /// Per memory row, that row and its `neighbours` − 1 nearest other rows: eq. 7's support, found once so that
    /// every cell's factor costs `neighbours` distances.
    let support: [Int]
    /// ‖m‖² per memory row, for distances by one GEMM: ‖q − m‖² = ‖q‖² − 2 q·m + ‖m‖².
    let squaredNorms: [Float]

    /// The paper's b for the reweighting.
    public static let neighbours = 9

    /// Blocks of a `depth`-block teacher whose tokens are used: 4 and 7 of ViT-Ti's 12 (0-based), scaled to others.
    public static func blocks(teacherDepth depth: Int) -> [Int] {
        Array(Set([depth * 4 / 12, depth * 7 / 12])).sorted()
    }

    /// Rebuilds a memory from stored parameters, checking them so that scoring cannot misbehave.
    public init(blocks: [Int], grid: Int, dimension: Int, bank: [Float], baseline: Float, cellOffsets: [Float]? = nil,
                cellScales: [Float]? = nil, cellLevels: [Float]? = nil, channelScales: [Float]? = nil) throws {
        try self.init(blocks: blocks, grid: grid, dimension: dimension, bank: bank, baseline: baseline,
                      cellOffsets: cellOffsets, cellScales: cellScales, cellLevels: cellLevels,
                      channelScales: channelScales, support: nil)
    }

    private init(blocks: [Int], grid: Int, dimension: Int, bank: [Float], baseline: Float, cellOffsets: [Float]?,
                 cellScales: [Float]?, cellLevels: [Float]?, channelScales: [Float]?, support: [Int]?) throws {
        func bad(_ field: String, _ detail: String) -> PatchMemoryError { .invalidParameter(field: field, detail: detail) }
        guard !blocks.isEmpty, blocks.allSatisfy({ $0 >= 0 }), blocks == Set(blocks).sorted() else {
            throw bad("blocks", "\(blocks) is not an increasing list of block indices")
        }
        guard grid >= 1 else { throw bad("grid", "\(grid) is not a positive grid side") }
        guard dimension >= 1, !bank.isEmpty, bank.count % dimension == 0 else {
            throw bad("bank", "\(bank.count) values are not whole \(dimension)-wide rows")
        }
        if let i = bank.firstIndex(where: { !$0.isFinite }) { throw bad("bank", "row \(i / dimension) is not finite") }
        guard baseline.isFinite, baseline >= 0 else { throw bad("baseline", "\(baseline) is not a distance") }
        let scales = cellScales ?? [Float](repeating: 1, count: grid * grid)
        guard scales.count == grid * grid, scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw bad("cell_scales", "expected \(grid * grid) positive finite scales, one per cell of the \(grid)x\(grid) grid")
        }
        let offsets = cellOffsets ?? [Float](repeating: 0, count: grid * grid)
        guard offsets.count == grid * grid, offsets.allSatisfy(\.isFinite) else {
            throw bad("cell_offsets", "expected \(grid * grid) finite offsets, one per cell of the \(grid)x\(grid) grid")
        }
        if let levels = cellLevels {
            guard !levels.isEmpty, levels.count % (grid * grid) == 0, levels.allSatisfy(\.isFinite) else {
                throw bad("cell_levels", "expected finite levels, \(grid * grid) per tile of the \(grid)x\(grid) grid, got \(levels.count)")
            }
        }
        if let channelScales {
            guard channelScales.count == dimension, channelScales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw bad("channel_scales", "expected \(dimension) positive finite scales, one per feature column")
            }
        }
        self.channelScales = channelScales
        self.cellOffsets = offsets
        self.cellScales = scales
        self.cellLevels = cellLevels
        self.blocks = blocks
        self.grid = grid
        self.dimension = dimension
        self.bank = bank
        self.baseline = baseline
        count = bank.count / dimension
        squaredNorms = (0..<count).map { r in
            var s: Float = 0
            for j in 0..<dimension { s += bank[r * dimension + j] * bank[r * dimension + j] }
            return s
        }
        self.support = support ?? Self.support(bank: bank, norms: squaredNorms, dimension: dimension)
    }

    /// `support` by one GEMM per chunk of rows: ‖m_r − m_j‖² = ‖m_r‖² − 2 m_r·m_j + ‖m_j‖², the nearest kept by
    /// insertion.
    private static func support(bank: [Float], norms: [Float], dimension d: Int) -> [Int] {
        let count = norms.count, k = min(neighbours, count)
        var out = [Int](repeating: 0, count: count * k)
        let chunk = min(count, 512)
        var products = [Float](repeating: 0, count: chunk * count)
        bank.withUnsafeBufferPointer { b in
            for start in stride(from: 0, to: count, by: chunk) {
                let m = min(chunk, count - start)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(count), Int32(d), -2,
                            b.baseAddress! + start * d, Int32(d), b.baseAddress!, Int32(d), 0, &products, Int32(count))
                for i in 0..<m {
                    let r = start + i
                    // The row itself first (its own gap is 0), then the k − 1 nearest others, nearest first.
                    var gaps = [Float](), rows = [Int]()
                    for j in 0..<count where j != r {
                        let g = products[i * count + j] + norms[j]
                        guard gaps.count < k - 1 || g < gaps[gaps.count - 1] else { continue }
                        var at = gaps.count
                        while at > 0 && gaps[at - 1] > g { at -= 1 }
                        gaps.insert(g, at: at)
                        rows.insert(j, at: at)
                        if gaps.count > k - 1 { gaps.removeLast(); rows.removeLast() }
                    }
                    out[r * k] = r
                    for (n, j) in rows.enumerated() { out[r * k + 1 + n] = j }
                }
            }
        }
        return out
    }

    public var patchesPerFrame: Int { grid * grid }

    /// The same memory with another cell normalisation and baseline (the fit learns them from out-of-sample
    /// distances).
    public func with(_ normalization: CellNormalization, baseline: Float, cellLevels: [Float]? = nil) throws -> PatchMemory {
        try PatchMemory(blocks: blocks, grid: grid, dimension: dimension, bank: bank, baseline: baseline,
                        cellOffsets: normalization.offsets, cellScales: normalization.scales, cellLevels: cellLevels,
                        channelScales: channelScales, support: support)
    }

    /// Each cell's level, the `cellQuantile` of its scores over `frames` frames of `cells` ([frames, cells] row-major,
    /// a frame's cells tile after tile): what `cellLevels` holds and the live levels track.
    public static func levels(_ cells: [Float], cellsPerFrame p: Int) -> [Float] {
        mediansAndLevels(cells, cellsPerFrame: p).levels
    }

    /// Each cell's median and level (`levels`), from one sort of its scores.
    public static func mediansAndLevels(_ cells: [Float], cellsPerFrame p: Int) -> (medians: [Float], levels: [Float]) {
        let frames = cells.count / p
        precondition(frames >= 1 && frames * p == cells.count, "\(cells.count) cell scores are not whole frames of \(p)")
        var medians = [Float](), levels = [Float]()
        for i in 0..<p {
            var column = (0..<frames).map { cells[$0 * p + i] }
            levels.append(quantile(&column, cellQuantile))
            medians.append(column[frames / 2])   // `quantile` left the column sorted
        }
        return (medians, levels)
    }

    /// The `q` quantile of `values` as the order statistic at ⌊q n⌋ (what `cellNormalization` and the map's baseline
    /// take); reorders `values`.
    static func quantile(_ values: inout [Float], _ q: Double) -> Float {
        values.sort()
        return values[min(values.count - 1, Int(q * Double(values.count)))]
    }

    /// Per cell of the grid, a_i and w_i of the cell score w_i (d − a_i).
    public struct CellNormalization: Sendable, Equatable {
        public var offsets: [Float]
        public var scales: [Float]
        public static func identity(cells: Int) -> CellNormalization {
            CellNormalization(offsets: [Float](repeating: 0, count: cells), scales: [Float](repeating: 1, count: cells))
        }
    }

    /// Each cell's offset and scale from out-of-sample distances of whole frames (`distances` [frames, G²]): a_i the
    /// median of cell i's distances, b_i the largest spread Q_j − a_j (Q_j the `cellQuantile`) over the cells j in
    /// its 3×3 neighbourhood, and w_i = S / b_i, S the spread of all cells' distances, so that cell scores stay in
    /// distance units. Normal distances at cell i then reach about S above 0, wherever it is.
    /// A high quantile's spread, because what must be levelled is how far each cell's normal distances reach; the
    /// neighbourhood's largest, because a few hundred frames estimate one cell's 0.99 quantile loosely and a cell
    /// estimated low would turn a normal outlier there into the frame's score.
    /// Fewer than `minimumFramesForScales` frames, or distances with no spread, leave the identity (a quantile of a
    /// handful of distances is noise).
    public static func cellNormalization(distances cells: [Float], grid: Int) -> CellNormalization {
        let p = grid * grid, frames = cells.count / p
        guard frames >= minimumFramesForScales else { return .identity(cells: p) }
        let all = mediansAndLevels(cells, cellsPerFrame: 1)
        let spreadAll = all.levels[0] - all.medians[0]
        let (offsets, tops) = mediansAndLevels(cells, cellsPerFrame: p)
        let spreads = zip(tops, offsets).map { $0 - $1 }
        var scales = [Float](repeating: 1, count: p)
        for r in 0..<grid {
            for c in 0..<grid {
                var b: Float = 0
                for rr in max(0, r - 1)...min(grid - 1, r + 1) {
                    for cc in max(0, c - 1)...min(grid - 1, c + 1) { b = max(b, spreads[rr * grid + cc]) }
                }
                scales[r * grid + c] = b > 0 ? spreadAll / b : 0
            }
        }
        guard spreadAll > 0, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { return .identity(cells: p) }
        return CellNormalization(offsets: offsets, scales: scales)
    }

    static let cellQuantile = 0.99
    static let minimumFramesForScales = 20

    /// s_j = σ̄ / σ_j for each column j of `features` ([rows, dimension]), σ_j its standard deviation over the rows
    /// and σ̄ their mean (so that distances stay in the units of the raw features). The teacher's residual stream
    /// has a few channels whose values vary tens of times more than the rest; unscaled, they decide every nearest
    /// neighbour, and a defect that shows in the many quiet channels is measured against their noise (on the solar
    /// cells, PatchCore's plain Euclidean memory 94.47 % AUROC, the same with the columns scaled 95.41 %). A column
    /// without variance keeps 1.
    public static func channelScales(features: [Float], dimension d: Int) -> [Float] {
        let n = features.count / d
        precondition(n >= 1 && n * d == features.count, "\(features.count) values are not whole \(d)-wide rows")
        var sums = [Double](repeating: 0, count: d), squares = [Double](repeating: 0, count: d)
        for r in 0..<n {
            for j in 0..<d {
                let v = Double(features[r * d + j])
                sums[j] += v
                squares[j] += v * v
            }
        }
        let sigma = (0..<d).map { j in
            let mean = sums[j] / Double(n)
            return max(0, squares[j] / Double(n) - mean * mean).squareRoot()
        }
        let varying = sigma.filter { $0 > 0 }
        guard !varying.isEmpty else { return [Float](repeating: 1, count: d) }
        let mean = varying.reduce(0, +) / Double(varying.count)
        return sigma.map { $0 > 0 ? Float(mean / $0) : 1 }
    }

    /// Frame `b`'s patch features from a teacher pass that captured `blocks`, appended to `out` ([G², dimension]),
    /// each column multiplied by its `scales` entry when given.
    public static func appendFeatures(_ output: ViTOutput, frame b: Int, blocks: [Int], scales: [Float]? = nil,
                                      to out: inout [Float]) {
        let d = output.width, t = output.tokens, g = Int(Double(t - 1).squareRoot())
        precondition(g * g == t - 1, "\(t - 1) patch tokens are not a square grid")
        let width = blocks.count * d, start = out.count
        precondition(scales == nil || scales!.count == width, "\(scales!.count) channel scales for \(width)-wide features")
        out += repeatElement(0, count: g * g * width)
        for (k, block) in blocks.enumerated() {
            guard let stream = output.blockOutputs[block] else { preconditionFailure("the teacher pass did not capture block \(block)") }
            stream.withUnsafeBufferPointer { s in
                let tokens = s.baseAddress! + (b * t + 1) * d   // patch tokens of frame b, [G², d]
                for r in 0..<g {
                    for c in 0..<g {
                        let row = start + (r * g + c) * width + k * d
                        var n: Float = 0
                        for rr in max(0, r - 1)...min(g - 1, r + 1) {
                            for cc in max(0, c - 1)...min(g - 1, c + 1) {
                                let token = tokens + (rr * g + cc) * d
                                for j in 0..<d { out[row + j] += token[j] }
                                n += 1
                            }
                        }
                        for j in 0..<d { out[row + j] = out[row + j] / n * (scales?[k * d + j] ?? 1) }
                    }
                }
            }
        }
    }

    /// Chooses the memory from the normal patches `features` ([count, dimension], already multiplied by
    /// `channelScales` when given) with `Coreset`.
    public static func fit(features: [Float], dimension: Int, blocks: [Int], grid: Int, budget: Int, seed: UInt64,
                           baseline: Float = 0, channelScales: [Float]? = nil,
                           shouldStop: () -> Bool = { false }) throws -> PatchMemory {
        let n = features.count / dimension
        guard n >= 1, budget >= 1 else { throw PatchMemoryError.tooFewPatches(count: n, budget: budget) }
        if let i = features.firstIndex(where: { !$0.isFinite }) { throw PatchMemoryError.nonFiniteFeature(row: i / dimension) }
        let chosen = try features.withUnsafeBufferPointer {
            try Coreset.select(points: $0.baseAddress!, count: n, dimension: dimension, budget: budget, seed: seed,
                               shouldStop: shouldStop)
        }
        var bank = [Float]()
        bank.reserveCapacity(chosen.count * dimension)
        for i in chosen { bank += features[(i * dimension)..<((i + 1) * dimension)] }
        return try PatchMemory(blocks: blocks, grid: grid, dimension: dimension, bank: bank, baseline: baseline,
                               channelScales: channelScales)
    }

    /// One frame's patch evidence: every cell's score w_i (‖q − m*‖ − a_i), every cell's eq. 7 factor, and the frame
    /// score they make.
    public struct Scored: Sendable {
        public var cells: [Float]
        public var weights: [Float]
        public var score: Double
        /// The features of the frame's most novel cells, which operator feedback compares (`NovelPatches`).
        public var novel = NovelPatches()
    }

    /// One frame's cells, factors and frame score, for `patches` features.
    public func score(_ q: UnsafePointer<Float>, patches p: Int) -> Scored {
        score(q, nearest(q, patches: p))
    }

    /// The same from `nearest(_:patches:)`'s distances: cheap next to the search, so distances found once can be
    /// scored under other cell scales.
    func score(_ q: UnsafePointer<Float>, _ found: (distances: [Float], rows: [Int])) -> Scored {
        let (distances, rows) = found
        let cells = distances.indices.map { cellScales[$0] * (distances[$0] - cellOffsets[$0]) }
        let weights = distances.indices.map {
            Float(reweighting(q + $0 * dimension, nearest: rows[$0], distance: Double(distances[$0])))
        }
        return Scored(cells: cells, weights: weights, score: Self.frameScore(cells: cells, weights: weights),
                      novel: NovelPatches(q, cells: cells, distances: distances, dimension: dimension))
    }

    /// How far from its nearest memory patch a normal patch at `cell` (of a tile's grid) reaches: the distance
    /// whose cell score is `baseline`, a_i + baseline / w_i. Feedback takes it as the radius within which a patch
    /// counts as one an operator dismissed.
    public func reach(cell: Int) -> Float { cellOffsets[cell] + baseline / cellScales[cell] }

    /// The frame score: at the largest cell c* after taking each cell's `lifts` (none: 0) away, eq. 7's factor there
    /// times that cell. Defined here only, for the memory's own scores and the pipeline's levelled ones.
    public static func frameScore(cells: [Float], weights: [Float], lifts: [Float]? = nil) -> Double {
        precondition(weights.count == cells.count && (lifts?.count ?? cells.count) == cells.count)
        let levelled = lifts.map { l in cells.indices.map { cells[$0] - l[$0] } } ?? cells
        let star = levelled.indices.max { levelled[$0] < levelled[$1] }!
        return Double(weights[star]) * Double(levelled[star])
    }

    /// Each of `patches` features' distance to its nearest memory patch, ‖q − m*‖ (unscaled), and that patch's row.
    func nearest(_ q: UnsafePointer<Float>, patches p: Int) -> (distances: [Float], rows: [Int]) {
        let d = dimension
        var nearest = [Float](repeating: .infinity, count: p)
        var nearestIndex = [Int](repeating: 0, count: p)
        // −2 q·m for a chunk of the memory at a time, so the product stays in cache.
        let chunk = min(count, 1024)
        var products = [Float](repeating: 0, count: p * chunk)
        bank.withUnsafeBufferPointer { bankBuf in
            for start in stride(from: 0, to: count, by: chunk) {
                let m = min(chunk, count - start)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(p), Int32(m), Int32(d), -2, q, Int32(d),
                            bankBuf.baseAddress! + start * d, Int32(d), 0, &products, Int32(m))
                for i in 0..<p {
                    var best = nearest[i], bestIndex = nearestIndex[i]
                    for j in 0..<m {
                        let v = products[i * m + j] + squaredNorms[start + j]
                        if v < best { best = v; bestIndex = start + j }
                    }
                    nearest[i] = best
                    nearestIndex[i] = bestIndex
                }
            }
        }
        // ‖q‖² was left out of the per-row minimum, which it does not change.
        var cells = [Float](repeating: 0, count: p)
        for i in 0..<p {
            let row = q + i * d
            var norm: Float = 0
            for j in 0..<d { norm += row[j] * row[j] }
            cells[i] = max(nearest[i] + norm, 0).squareRoot()
        }
        return (cells, nearestIndex)
    }

    /// Eq. 7's factor: one minus the softmax weight of m* among its `neighbours` nearest memory patches, as seen
    /// from the test patch.
    func reweighting(_ q: UnsafePointer<Float>, nearest: Int, distance: Double) -> Double {
        let d = dimension, k = support.count / count
        var sum = 0.0
        for r in support[(nearest * k)..<((nearest + 1) * k)] {
            var s = 0.0
            for j in 0..<d { let t = Double(q[j] - bank[r * d + j]); s += t * t }
            sum += Foundation.exp(s.squareRoot() - distance)   // exp(‖q − m‖ − d*) ≥ 1 for every m beyond m*
        }
        return 1 - 1 / sum
    }

    /// Every frame's cell scores and frame score from a teacher pass that captured `blocks`, the frames spread
    /// over `workers` threads.
    public func scores(_ output: ViTOutput, workers: Int) -> [Scored] {
        Self.scores(output, workers: workers) { _ in self }
    }

    /// The same with frame b scored by `memory(b)` (the cross-fit's fold memories, which share blocks and grid).
    static func scores(_ output: ViTOutput, workers: Int,
                       memory: (Int) -> PatchMemory) -> [Scored] {
        let n = output.batch, parts = max(1, min(workers, n))
        var results = [Scored](repeating: Scored(cells: [], weights: [], score: 0), count: n)
        results.withUnsafeMutableBufferPointer { out in
            let slots = out.baseAddress!
            Parallel.forEach(parts) { part in
                for b in (part * n / parts)..<((part + 1) * n / parts) {
                    let m = memory(b)
                    var q = [Float]()
                    q.reserveCapacity(m.patchesPerFrame * m.dimension)
                    appendFeatures(output, frame: b, blocks: m.blocks, scales: m.channelScales, to: &q)
                    slots[b] = q.withUnsafeBufferPointer { m.score($0.baseAddress!, patches: m.patchesPerFrame) }
                }
            }
        }
        return results
    }

    /// The map an episode's box is drawn from: each cell's distance beyond the baseline, 0 within it.
    public func map(_ cells: [Float]) -> [Float] { cells.map { max(0, $0 - baseline) } }
}

/// A frame's most novel patches: the `count` cells with the largest cell scores, highest first, with their
/// features. What an operator's "not an anomaly" remembers of an episode's frames, and what later frames are
/// compared with (`Feedback.Suppression`).
public struct NovelPatches: Sendable, Equatable {
    /// Cells kept per frame: an object a few patches wide, not the whole picture.
    public static let count = 4
    /// Cell indices over the frame's tiles (tile × G² + row × G + column).
    public var cells: [Int] = []
    public var scores: [Float] = []
    /// Each cell's distance to its nearest normal memory patch, ‖q − m*‖.
    public var distances: [Float] = []
    /// [cells.count, dimension] row-major.
    public var features: [Float] = []
    public var dimension = 0

    public init() {}

    init(_ q: UnsafePointer<Float>, cells all: [Float], distances nearest: [Float], dimension d: Int) {
        let top = all.indices.sorted { all[$0] > all[$1] }.prefix(Self.count)
        cells = Array(top)
        scores = top.map { all[$0] }
        distances = top.map { nearest[$0] }
        features.reserveCapacity(top.count * d)
        for c in top { features += UnsafeBufferPointer(start: q + c * d, count: d) }
        dimension = d
    }

    /// The most novel cells of several tiles together, tile `t`'s cells offset by t × `cellsPerTile`.
    public init(tiles: [NovelPatches], cellsPerTile: Int) {
        let all = tiles.enumerated().flatMap { t, n in n.cells.indices.map { (t, $0) } }
        let top = all.sorted { tiles[$0.0].scores[$0.1] > tiles[$1.0].scores[$1.1] }.prefix(Self.count)
        dimension = tiles.first?.dimension ?? 0
        for (t, i) in top {
            cells.append(t * cellsPerTile + tiles[t].cells[i])
            scores.append(tiles[t].scores[i])
            distances.append(tiles[t].distances[i])
            features += tiles[t].features[(i * dimension)..<((i + 1) * dimension)]
        }
    }
}
