import Foundation
import Ingest
import Synchronization

/// Frame sources given on the command line: image folders (every image inside, by name), image files, and video
/// files (sampled with `sampleFPS`). Calls `body` with each frame and the file it came from.
func forEachFrame(_ sources: [String], sampleFPS: Double?, resize: ResizeMode, size: Int,
                  _ body: (Frame, String) throws -> Void) async throws {
    let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff", "pgm", "ppm"]
    for source in sources {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw IngestError.notFound(source: source)
        }
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: source)
                .filter { imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted()
            guard !names.isEmpty else { throw IngestError.openFailed(source: source, reason: "no image files in this folder") }
            for name in names {
                let path = (source as NSString).appendingPathComponent(name)
                try body(try StillImage.load(path: path, size: size, resize: resize), path)
            }
        } else if imageExtensions.contains((source as NSString).pathExtension.lowercased()) {
            try body(try StillImage.load(path: source, size: size, resize: resize), source)
        } else {
            var options = SourceOptions()
            options.size = size
            options.resize = resize
            options.sampleFPS = sampleFPS
            let video = try FrameSource(source, options: options)
            for try await frame in video { try body(frame, source) }
        }
    }
}

/// Progress for long commands: one rewritten line on a terminal, plain lines (at most every few seconds) otherwise.
final class ProgressLine: Sendable {
    private let tty = isatty(STDERR_FILENO) == 1
    /// When the last plain line was written; the lock also keeps lines whole.
    private let lastPlain = Mutex(Date.distantPast)

    func update(_ text: String, force: Bool = false) {
        lastPlain.withLock { lastPlain in
            if tty {
                FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            } else if force || Date().timeIntervalSince(lastPlain) >= 5 {
                FileHandle.standardError.write(Data("\(text)\n".utf8))
                lastPlain = Date()
            }
        }
    }

    func finish(_ text: String) {
        lastPlain.withLock { _ in FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + text + "\n").utf8)) }
    }
}
