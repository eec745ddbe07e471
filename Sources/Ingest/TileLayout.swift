/// A rectangle of source pixels: columns `x..<x + width`, rows `y..<y + height`. In continuous coordinates (the
/// ones `ignore` polygons use) pixel column i spans [i, i + 1), so the rectangle spans [x, maxX) x [y, maxY).
public struct PixelRect: Sendable, Hashable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// Exclusive ends.
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }

    /// "[x, y, w, h]", as the configuration writes a roi.
    public var description: String { "[\(x), \(y), \(width), \(height)]" }

    /// The largest centred square of a `width` x `height` picture (what `resize: crop` scores), at even offsets so
    /// 4:2:0 chroma stays aligned with luma.
    public static func centredSquare(width: Int, height: Int) -> PixelRect {
        let side = min(width, height)
        return PixelRect(x: ((width - side) / 2) & ~1, y: ((height - side) / 2) & ~1, width: side, height: side)
    }
}

/// Why a configured geometry does not fit a picture; known only once the first picture's size is.
public enum LayoutMismatch: Error, Equatable, Sendable {
    /// The roi reaches past the picture's right or bottom edge.
    case roiOutsideFrame(roi: PixelRect, width: Int, height: Int)
    /// Tiling the region would make tiles smaller than `TileLayout.minimumTileSide`.
    case tilesTooSmall(columns: Int, rows: Int, region: PixelRect)
}

/// Where each model input comes from in the source picture: the region scored (the roi), its tiles, and the
/// patch cells of each tile. Pure geometry in source pixels; every map and box the model produces goes through it.
///
/// Tiles split the roi as evenly as whole pixels allow: column boundary k of n over a roi of width w sits at
/// `roi.x + k * w / n` (integer division), so the tiles cover the roi exactly, without gaps or overlaps, and their
/// widths differ by at most one pixel; rows likewise. Patch cells split each tile the same way (`grid` per side),
/// which is where the model's patches fall when the tile is scaled to `inputSize` x `inputSize`.
public struct TileLayout: Sendable, Equatable {
    /// Tiles smaller than this would be upscaled more than 14x and some of the 14 patch cells per side would
    /// cover no source pixel of their own; 16 is the ViT's patch size.
    public static let minimumTileSide = 16
    /// 8 columns of a 1920-pixel picture are 240 pixels wide, about the model's 224: more tiles would only upscale,
    /// at one teacher pass each (8 x 8 is already 64 per frame).
    public static let maximumTilesPerSide = 8

    public let sourceWidth: Int
    public let sourceHeight: Int
    public let roi: PixelRect
    public let columns: Int
    public let rows: Int
    /// Side of each tile's square model input.
    public let inputSize: Int
    /// Patch cells per side of one tile (14 for 224 / 16).
    public let grid: Int
    /// Row-major: tile t is in row t / columns, column t % columns.
    public let tiles: [PixelRect]
    /// One flag per patch cell, tile-major (`ignoreMask`): cells whose source pixels the model must not judge.
    public private(set) var ignored: [Bool] = []

    /// - Parameter roi: nil is the whole picture. A single tile may be of any size (a whole small picture is
    ///   scaled up as it always was); several must each be at least `minimumTileSide` pixels per side.
    public init(sourceWidth: Int, sourceHeight: Int, roi: PixelRect? = nil, columns: Int = 1, rows: Int = 1,
                inputSize: Int = 224, grid: Int = 14, ignore: [[SIMD2<Double>]] = []) throws(LayoutMismatch) {
        precondition(sourceWidth > 0 && sourceHeight > 0, "a picture has pixels")
        precondition((1...Self.maximumTilesPerSide).contains(columns) && (1...Self.maximumTilesPerSide).contains(rows))
        precondition(grid > 0 && inputSize > 0)
        let region = roi ?? PixelRect(x: 0, y: 0, width: sourceWidth, height: sourceHeight)
        precondition(region.x >= 0 && region.y >= 0 && region.width > 0 && region.height > 0, "a roi is validated when configured")
        guard region.maxX <= sourceWidth && region.maxY <= sourceHeight else {
            throw .roiOutsideFrame(roi: region, width: sourceWidth, height: sourceHeight)
        }
        if columns * rows > 1 && (region.width / columns < Self.minimumTileSide || region.height / rows < Self.minimumTileSide) {
            throw .tilesTooSmall(columns: columns, rows: rows, region: region)
        }
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.roi = region
        self.columns = columns
        self.rows = rows
        self.inputSize = inputSize
        self.grid = grid
        tiles = (0..<rows).flatMap { r in
            (0..<columns).map { c in
                let x0 = Self.boundary(c, of: columns, from: region.x, length: region.width)
                let x1 = Self.boundary(c + 1, of: columns, from: region.x, length: region.width)
                let y0 = Self.boundary(r, of: rows, from: region.y, length: region.height)
                let y1 = Self.boundary(r + 1, of: rows, from: region.y, length: region.height)
                return PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
            }
        }
        ignored = ignoreMask(ignore)
    }

    /// Paints the ignored cells of `pixels` (the tiles' model inputs, tile-major RGB24) mid-grey. Every component
    /// then sees the same flat patch there in learning and in detection, whatever moves in the source: an image-level
    /// feature (the CLS token, the patch mean) cannot leave a patch out any other way.
    public func blankIgnoredCells(in pixels: inout [UInt8]) {
        guard ignored.contains(true) else { return }
        precondition(pixels.count == tileCount * inputSize * inputSize * 3)
        for cell in ignored.indices where ignored[cell] {
            let t = cell / (grid * grid), r = cell / grid % grid, c = cell % grid
            let x0 = c * inputSize / grid, x1 = (c + 1) * inputSize / grid
            for y in (r * inputSize / grid)..<((r + 1) * inputSize / grid) {
                let row = (t * inputSize + y) * inputSize * 3
                for i in (row + x0 * 3)..<(row + x1 * 3) { pixels[i] = 128 }
            }
        }
    }

    /// Boundary k of n equal parts of `start..<start + length`, in whole pixels.
    private static func boundary(_ k: Int, of n: Int, from start: Int, length: Int) -> Int { start + k * length / n }

    public var tileCount: Int { tiles.count }
    /// The stitched map over the roi: `mapRows` x `mapColumns` cells.
    public var mapRows: Int { rows * grid }
    public var mapColumns: Int { columns * grid }

    /// Source pixels of patch cell (`row`, `column`) of tile `tile`; the cells of a tile partition it exactly.
    public func cellRect(tile: Int, row: Int, column: Int) -> PixelRect {
        precondition(tiles.indices.contains(tile) && (0..<grid).contains(row) && (0..<grid).contains(column))
        let t = tiles[tile]
        let x0 = Self.boundary(column, of: grid, from: t.x, length: t.width)
        let x1 = Self.boundary(column + 1, of: grid, from: t.x, length: t.width)
        let y0 = Self.boundary(row, of: grid, from: t.y, length: t.height)
        let y1 = Self.boundary(row + 1, of: grid, from: t.y, length: t.height)
        return PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// Source pixels of cell (`row`, `column`) of the stitched map.
    public func mapCellRect(row: Int, column: Int) -> PixelRect {
        precondition((0..<mapRows).contains(row) && (0..<mapColumns).contains(column))
        return cellRect(tile: row / grid * columns + column / grid, row: row % grid, column: column % grid)
    }

    /// One map over the roi from one `grid` x `grid` row-major map per tile (in tile order): cell (R, C) of the
    /// result is cell (R % grid, C % grid) of tile (R / grid, C / grid).
    public func stitch(maps: [[Float]]) -> (rows: Int, cols: Int, values: [Float]) {
        precondition(maps.count == tileCount && maps.allSatisfy { $0.count == grid * grid },
                     "one \(grid)x\(grid) map per tile (\(tileCount))")
        let width = mapColumns
        var values = [Float](repeating: 0, count: mapRows * width)
        for (t, map) in maps.enumerated() {
            let top = t / columns * grid, left = t % columns * grid
            for r in 0..<grid {
                let to = (top + r) * width + left
                values[to..<to + grid] = map[r * grid..<(r + 1) * grid]
            }
        }
        return (mapRows, width, values)
    }

    /// A box of stitched-map cells, `rows` and `columns` inclusive, in source pixels: [x0, y0, x1, y1] with x1 and
    /// y1 exclusive; and the tiles it touches, in tile order.
    public func sourceBox(rows: ClosedRange<Int>, columns: ClosedRange<Int>) -> (box: [Int], tiles: [Int]) {
        let first = mapCellRect(row: rows.lowerBound, column: columns.lowerBound)
        let last = mapCellRect(row: rows.upperBound, column: columns.upperBound)
        let touched = (rows.lowerBound / grid...rows.upperBound / grid).flatMap { r in
            (columns.lowerBound / grid...columns.upperBound / grid).map { r * self.columns + $0 }
        }
        return ([first.x, first.y, last.maxX, last.maxY], touched)
    }

    /// One flag per patch cell, in the order `stitch` takes maps (tile-major, row-major within a tile): true when
    /// the cell is ignored. A cell is ignored when its centre lies inside any of the polygons (source pixels,
    /// continuous coordinates as in `PixelRect`); inside one polygon is decided by the even-odd rule, so the
    /// doubly wound part of a self-crossing polygon is outside it. A polygon may reach past the picture.
    public func ignoreMask(_ polygons: [[SIMD2<Double>]]) -> [Bool] {
        var mask = [Bool](repeating: false, count: tileCount * grid * grid)
        guard !polygons.isEmpty else { return mask }
        for t in tiles.indices {
            for r in 0..<grid {
                for c in 0..<grid {
                    let cell = cellRect(tile: t, row: r, column: c)
                    let centre = SIMD2(Double(cell.x + cell.maxX) / 2, Double(cell.y + cell.maxY) / 2)
                    mask[(t * grid + r) * grid + c] = polygons.contains { Self.contains($0, centre) }
                }
            }
        }
        return mask
    }

    /// Even-odd rule: a ray from `p` towards +x crosses the polygon's edges an odd number of times. Each edge is
    /// half-open in y, so a ray through a vertex counts it once.
    static func contains(_ polygon: [SIMD2<Double>], _ p: SIMD2<Double>) -> Bool {
        var inside = false
        var j = polygon.count - 1
        for i in polygon.indices {
            let a = polygon[i], b = polygon[j]
            if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x { inside.toggle() }
            j = i
        }
        return inside
    }
}
