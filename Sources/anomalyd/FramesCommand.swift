import ArgumentParser
import Foundation
import Ingest

extension ResizeMode: ExpressibleByArgument {}

/// `anomalyd frames`: shows exactly what the model would see from a source.
struct FramesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frames",
        abstract: "Write sampled 224x224 frames of a video file, image, RTSP URL or V4L2 device as PNG files."
    )

    @Argument(help: "A video or image file, an rtsp:// URL or a /dev/video* device.")
    var source: String

    @Option(help: "How many frames to write.")
    var count: Int = 10

    @Option(help: "Directory for frame-NNNNNN.png (created if missing).")
    var out: String?

    @Option(name: .customLong("sample-fps"), help: "Emit at most this many frames per second of video.")
    var sampleFPS: Double?

    @Option(help: "squash (whole picture) or crop (centre square).")
    var resize: ResizeMode = .squash

    @Option(help: "x,y,w,h: crop the picture to this rectangle of source pixels before scaling.")
    var roi: String?

    @Option(help: "c,r: score the roi (or picture) as c columns x r rows of tiles, one PNG per tile (frame-NNNNNN-tTT.png).")
    var tiles: String?

    /// Decodes and scales every frame of a file with one decoder thread, writes nothing, prints the rate:
    /// the Swift side of benchmarks/ingest/run.sh.
    @Flag(help: .hidden)
    var benchmark = false

    func validate() throws {
        if !benchmark && out == nil { throw ValidationError("--out DIR is required") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if let roi, Self.integers(roi, count: 4) == nil { throw ValidationError("--roi: expected x,y,w,h (4 integers), got '\(roi)'") }
        if let tiles, Self.integers(tiles, count: 2) == nil { throw ValidationError("--tiles: expected c,r (2 integers), got '\(tiles)'") }
    }

    /// "1,2,3" as `count` integers; nil when it is not that.
    static func integers(_ text: String, count: Int) -> [Int]? {
        let fields = text.split(separator: ",", omittingEmptySubsequences: false)
        let values = fields.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return fields.count == count && values.count == count ? values : nil
    }

    func run() async throws {
        var options = SourceOptions()
        options.resize = resize
        options.sampleFPS = sampleFPS
        if let v = roi.flatMap({ Self.integers($0, count: 4) }) { options.roi = PixelRect(x: v[0], y: v[1], width: v[2], height: v[3]) }
        if let v = tiles.flatMap({ Self.integers($0, count: 2) }) { (options.tileColumns, options.tileRows) = (v[0], v[1]) }
        if benchmark {
            options.decoderThreads = 1
            let start = Date()
            var frames = 0
            for try await _ in try FrameSource(source, options: options) { frames += 1 }
            let seconds = Date().timeIntervalSince(start)
            print("frames=\(frames) seconds=\(String(format: "%.3f", seconds)) fps=\(String(format: "%.1f", Double(frames) / seconds))")
            return
        }
        guard let out else { return }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let frameSource = try FrameSource(source, options: options)
        // A live source retries forever; say what it is doing so a dead camera is not a silent hang.
        let watcher = Task {
            var last: SourceState?
            while frameSource.kind.isLive && !Task.isCancelled {
                let stats = frameSource.stats
                if stats.state != last {
                    last = stats.state
                    let why = stats.state == .streaming ? "" : stats.lastError.map { " (\($0))" } ?? ""
                    FileHandle.standardError.write(Data("\(frameSource.name): \(stats.state.rawValue)\(why)\n".utf8))
                }
                try? await Task.sleep(nanoseconds: 200_000_000)
            }
        }
        defer { watcher.cancel() }
        // Without roi and tiles the names stay frame-NNNNNN.png, as scripts expect.
        let perTile = roi != nil || tiles != nil
        var written = 0
        var shown: TileLayout?
        for try await frame in frameSource {
            if perTile, let layout = frame.layout, layout != shown {
                shown = layout
                print(Self.describe(layout))
            }
            for t in 0..<frame.tileCount {
                let name = perTile ? String(format: "frame-%06d-t%02d.png", frame.index, t) : String(format: "frame-%06d.png", frame.index)
                try PNGWriter.write(frame, tile: t, to: (out as NSString).appendingPathComponent(name))
            }
            written += 1
            if written >= count { break }
        }
        frameSource.stop()
        print("wrote \(written) frames of \(frameSource.name) to \(out)")
    }

    /// "layout of 640x360 pictures: roi [x, y, w, h] as 3x2 tiles" and one "tTT [x, y, w, h]" line per tile.
    static func describe(_ layout: TileLayout) -> String {
        (["layout of \(layout.sourceWidth)x\(layout.sourceHeight) pictures: roi \(layout.roi) as \(layout.columns)x\(layout.rows) tiles"]
            + layout.tiles.enumerated().map { String(format: "  t%02d ", $0.offset) + "\($0.element)" }).joined(separator: "\n")
    }
}
