/// Where in the picture an anomaly is: the peak cell of the per-patch error map and a bounding box in source
/// pixels. JSON: `{"grid": [14, 14], "peak_cell": [row, col], "bbox": [x0, y0, x1, y1]}`, plus `"tiles": [t, ...]`
/// (the tiles the box touches, row-major) when the frame was scored as several tiles (`MapGeometry`).
///
/// The map's G×G grid covers the whole source picture (the model input is the source squashed to a square),
/// so cell (r, c) of a W×H source spans x in [c·W/G, (c+1)·W/G) and y in [r·H/G, (r+1)·H/G), rounded down;
/// x1 and y1 are exclusive edges, so the last column ends at W. The box is the union of the peak cell and the
/// cells 4-connected to it whose error is at least `fraction` × the peak error: a defect spanning several
/// patches gets one box around all of them, while an unrelated hot cell elsewhere does not stretch it.
public struct Region: Codable, Sendable, Equatable {
    public var grid: [Int]
    public var peakCell: [Int]
    public var bbox: [Int]
    public var tiles: [Int]?

    enum CodingKeys: String, CodingKey {
        case grid, peakCell = "peak_cell", bbox, tiles
    }

    public init(grid: [Int], peakCell: [Int], bbox: [Int], tiles: [Int]? = nil) {
        self.grid = grid
        self.peakCell = peakCell
        self.bbox = bbox
        self.tiles = tiles
    }

    /// Locates the peak of a row-major G×G error map over a `width`×`height` source; nil when there is no usable
    /// map (a model without a student has none): the episode is then reported without a region, never a trap.
    public static func locate(errors: [Float], grid g: Int, width: Int, height: Int, fraction: Double) -> Region? {
        guard width > 0, height > 0 else { return nil }
        return locate(errors: errors, in: MapGeometry(rows: g, columns: g) { rows, columns in
            ([columns.lowerBound * width / g, rows.lowerBound * height / g,
              (columns.upperBound + 1) * width / g, (rows.upperBound + 1) * height / g], nil)
        }, fraction: fraction)
    }

    /// The same over a map laid out by `geometry` (rows × columns cells, row-major).
    public static func locate(errors: [Float], in geometry: MapGeometry, fraction: Double) -> Region? {
        let rows = geometry.rows, g = geometry.columns
        guard rows > 0, g > 0, errors.count == rows * g else { return nil }
        var peak = 0
        for i in errors.indices where errors[i] > errors[peak] { peak = i }
        let cut = Float(fraction) * errors[peak]
        // Flood fill from the peak over cells at or above the cut; a non-positive peak keeps the peak cell only.
        var inBox = [Bool](repeating: false, count: errors.count)
        inBox[peak] = true
        var stack = [peak]
        var r0 = peak / g, r1 = peak / g, c0 = peak % g, c1 = peak % g
        while errors[peak] > 0, let cell = stack.popLast() {
            let r = cell / g, c = cell % g
            r0 = min(r0, r); r1 = max(r1, r); c0 = min(c0, c); c1 = max(c1, c)
            for (nr, nc) in [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
            where nr >= 0 && nr < rows && nc >= 0 && nc < g {
                let n = nr * g + nc
                if !inBox[n] && errors[n] >= cut {
                    inBox[n] = true
                    stack.append(n)
                }
            }
        }
        let (box, tiles) = geometry.sourceBox(r0...r1, c0...c1)
        return Region(grid: [rows, g], peakCell: [peak / g, peak % g], bbox: box, tiles: tiles)
    }
}

/// How a map's cells lie in the source picture: `rows` × `columns` cells, and the source box [x0, y0, x1, y1]
/// (x1, y1 exclusive) of a block of them (rows and columns inclusive) with the tiles it touches (nil for a frame
/// scored whole). The pipeline makes one from the frame's tile layout.
public struct MapGeometry: Sendable {
    public let rows: Int
    public let columns: Int
    public let sourceBox: @Sendable (ClosedRange<Int>, ClosedRange<Int>) -> (box: [Int], tiles: [Int]?)

    public init(rows: Int, columns: Int,
                sourceBox: @escaping @Sendable (ClosedRange<Int>, ClosedRange<Int>) -> (box: [Int], tiles: [Int]?)) {
        self.rows = rows
        self.columns = columns
        self.sourceBox = sourceBox
    }
}
