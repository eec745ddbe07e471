import Decisions
import Foundation
import Ingest
import Storage

/// Full-resolution evidence for `new` and `update`: the source picture with the frame's anomaly map laid over it
/// as heat (each map cell over the source pixels it covers, from yellow to red at the frame's peak, the more opaque
/// the nearer the peak; cells under a fifth of it untouched) and the episode's box outlined, encoded as JPEG and
/// stored whole or not at all (`AtomicFile`) as `snapshots/<episode id>-<frame index>.jpg` in the state directory,
/// within `retention`'s limits.
struct EvidenceSnapshot: Sendable {
    let directory: String
    let retention: Retention

    static func name(episode: String, frame: Int) -> String { "snapshots/\(episode)-\(frame).jpg" }

    /// Draws and stores the snapshot; returns its name relative to the state directory.
    func write(_ picture: SourcePicture, map: [Float], geometry: MapGeometry?, grid: Int, box: [Int]?,
               episode: String, frame: Int) throws -> String {
        let (width, height) = (picture.width, picture.height)
        var rgb = try picture.rgb()
        Self.overlay(&rgb, width: width, height: height, map: map,
                     cells: Self.cells(geometry, grid: grid, width: width, height: height, count: map.count))
        if let box, box.count == 4 { Self.outline(&rgb, width: width, height: height, box: box) }
        let jpeg = try JPEGEncoder(width: width, height: height).encode(rgb: rgb)
        let name = Self.name(episode: episode, frame: frame)
        try AtomicFile.write(jpeg, to: directory + "/" + (name as NSString).lastPathComponent)
        retention.enforce(in: directory)
        return name
    }

    /// The source box [x0, y0, x1, y1) of each map cell, row-major: the layout's geometry, or a grid over the whole
    /// picture for a frame made without one. Empty when the map does not match either.
    static func cells(_ geometry: MapGeometry?, grid: Int, width: Int, height: Int, count: Int) -> [[Int]] {
        let rows = geometry?.rows ?? grid, columns = geometry?.columns ?? grid
        guard rows > 0, columns > 0, rows * columns == count else { return [] }
        return (0..<rows).flatMap { r in
            (0..<columns).map { c in
                geometry?.sourceBox(r...r, c...c).box
                    ?? [c * width / columns, r * height / rows, (c + 1) * width / columns, (r + 1) * height / rows]
            }
        }
    }

    static func overlay(_ rgb: inout [UInt8], width: Int, height: Int, map: [Float], cells: [[Int]]) {
        guard let peak = map.max(), peak > 0 else { return }
        for (value, box) in zip(map, cells) {
            let t = Double(value / peak)
            guard t > 0.2 else { continue }
            let alpha = 0.6 * (t - 0.2) / 0.8
            let colour = [255, 255 * (1 - t), 0]
            for y in max(0, box[1])..<max(0, min(height, box[3])) {
                for x in max(0, box[0])..<max(0, min(width, box[2])) {
                    for ch in 0..<3 {
                        let i = (y * width + x) * 3 + ch
                        rgb[i] = UInt8((Double(rgb[i]) * (1 - alpha) + colour[ch] * alpha).rounded())
                    }
                }
            }
        }
    }

    /// A cyan frame around `box` [x0, y0, x1, y1), a little thicker on larger pictures, inside the picture.
    static func outline(_ rgb: inout [UInt8], width: Int, height: Int, box: [Int]) {
        let thickness = max(2, min(width, height) / 240)
        let x0 = max(0, box[0]), y0 = max(0, box[1]), x1 = min(width, box[2]), y1 = min(height, box[3])
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 where x - x0 < thickness || x1 - 1 - x < thickness || y - y0 < thickness || y1 - 1 - y < thickness {
                let i = (y * width + x) * 3
                (rgb[i], rgb[i + 1], rgb[i + 2]) = (0, 255, 255)
            }
        }
    }
}
