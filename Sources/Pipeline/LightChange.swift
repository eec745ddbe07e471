import Foundation

/// Tells a change of the scene's light (a lamp switched, a door opened, a cloud) from an object: a light change moves
/// nearly every place in the picture together, an object moves the few it covers.
///
/// Frigate's motion detector does the same with its `lightning_threshold` (a change over most of the picture
/// recalibrates instead of reporting motion). Here the light change keeps episodes from opening while the live
/// levels and tails catch up with the new light: on the 60-minute shift the light step at 1,800 s opened a 3.3-s
/// false episode before the cell levels had seen 2 s of it (benchmarks/falsealarms/RESULTS.md, session 17).
///
/// Each frame's 16x16-pixel cells (every tile) get their mean grey level; each cell keeps a moving average of its log
/// level (time constant `timeConstant`); the frame's change is the median over cells of its log level minus the
/// average. Beyond ln(1 + `threshold`) either way the light is changing, and it counts as changing for `hold` frames
/// after the last such frame. On the shift (36,000 frames) the median moved by at most 0.035 outside the step and
/// by 0.24 at it; the slow drift, the camera shake, empty slots and passing objects stay far below 0.1.
struct LightChange {
    let threshold: Double
    let hold: Int
    private let cell: Int
    private let alpha: Float
    private var reference: [Float] = []
    private var sinceChange = Int.max
    /// Light changes seen: runs of changing frames.
    private(set) var count = 0

    static let cellSide = 16
    static let timeConstantSeconds = 2.0

    /// `threshold` is the relative change of the light that counts (0.1: a tenth brighter or darker),
    /// `holdSeconds` how long after it episodes stay shut.
    init(threshold: Double, holdSeconds: Double, framesPerSecond: Double) {
        precondition(threshold > 0 && holdSeconds >= 0 && framesPerSecond > 0)
        self.threshold = threshold
        hold = Int((holdSeconds * framesPerSecond).rounded())
        cell = Self.cellSide
        alpha = Float(1 - exp(-1 / (Self.timeConstantSeconds * framesPerSecond)))
    }

    /// One frame's `size`x`size` RGB images (its tiles); true while the light is changing or within the hold.
    mutating func observe(pixels: [UInt8], size: Int) -> Bool {
        let levels = Self.cellLevels(pixels, size: size, cell: cell)
        guard reference.count == levels.count else {
            reference = levels
            return false
        }
        var change = zip(levels, reference).map { $0 - $1 }
        let median = Self.median(&change)
        for i in reference.indices { reference[i] += alpha * (levels[i] - reference[i]) }
        if abs(Double(median)) > log1p(threshold) {
            if sinceChange > hold { count += 1 }
            sinceChange = 0
        } else if sinceChange <= hold {
            sinceChange += 1
        }
        return sinceChange <= hold
    }

    /// ln(1 + mean grey level) of each `cell`x`cell` block of each image, tile after tile, row-major.
    static func cellLevels(_ pixels: [UInt8], size: Int, cell: Int) -> [Float] {
        let side = size / cell, imageBytes = size * size * 3
        precondition(side > 0 && pixels.count % imageBytes == 0)
        var out = [Float](repeating: 0, count: pixels.count / imageBytes * side * side)
        pixels.withUnsafeBufferPointer { p in
            for image in 0..<(pixels.count / imageBytes) {
                for y in 0..<(side * cell) {
                    let row = image * imageBytes + y * size * 3
                    let first = (image * side + y / cell) * side
                    for x in 0..<(side * cell) {
                        let o = row + x * 3
                        out[first + x / cell] += Float(Int(p[o]) + Int(p[o + 1]) + Int(p[o + 2]))
                    }
                }
            }
        }
        let n = Float(cell * cell * 3)
        return out.map { log1p($0 / n) }
    }

    static func median(_ v: inout [Float]) -> Float {
        v.sort()
        let m = v.count / 2
        return v.count % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2
    }
}
