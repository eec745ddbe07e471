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

    /// Decodes and scales every frame of a file with one decoder thread, writes nothing, prints the rate:
    /// the Swift side of benchmarks/ingest/run.sh.
    @Flag(help: .hidden)
    var benchmark = false

    func validate() throws {
        if !benchmark && out == nil { throw ValidationError("--out DIR is required") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() async throws {
        var options = SourceOptions()
        options.resize = resize
        options.sampleFPS = sampleFPS
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
        var written = 0
        for try await frame in frameSource {
            let path = (out as NSString).appendingPathComponent(String(format: "frame-%06d.png", frame.index))
            try PNGWriter.write(frame, to: path)
            written += 1
            if written >= count { break }
        }
        frameSource.stop()
        print("wrote \(written) frames of \(frameSource.name) to \(out)")
    }
}
