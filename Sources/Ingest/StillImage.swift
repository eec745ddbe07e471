import CFFmpeg
import Foundation

/// Decodes a single picture file (PNG, JPEG, BMP, TIFF, WebP, ...) through the same libavformat/libavcodec/
/// libswscale path as video, so stills and video frames are scaled identically.
public enum StillImage {
    public static func load(path: String, size: Int = 224, resize: ResizeMode = .squash) throws -> Frame {
        guard size > 0 else { throw IngestError.invalidConfiguration("image size must be positive, got \(size)") }
        guard FileManager.default.fileExists(atPath: path) else { throw IngestError.notFound(source: path) }
        // image2 reads exactly one file; pattern_type=none keeps a '%' or '*' in the name literal.
        let input = try MediaInput(url: path, source: path, inputFormat: "image2",
                                   options: ["pattern_type": "none"])
        let scaler = Scaler(size: size, resize: resize)
        switch input.next() {
        case .frame(let picture):
            let w = Int(picture.pointee.width), h = Int(picture.pointee.height)
            // A whole picture or its centre square always fits: no mismatch to report.
            let layout = try! scaler.layout(width: w, height: h)
            let pixels = try scaler.scale(picture, layout: layout, source: path)
            return Frame(pixels: pixels, size: size, sourceWidth: w, sourceHeight: h, layout: layout)
        case .endOfStream:
            throw IngestError.decodeFailed(source: path, reason: "the decoder produced no picture (\(input.decodeErrors) decode errors)")
        case .readError(let code):
            throw IngestError.decodeFailed(source: path, reason: avErrorString(code))
        }
    }
}
