import CFFmpeg

/// A decoded picture at the source's full resolution, for evidence drawn over it: a second reference to the
/// decoder's buffer (no copy of the pixels), kept only when asked (`SourceOptions.keepSourcePictures`), which holds
/// one picture per frame in flight (3 MB at 1080p). Never changed after it is made (hence `@unchecked`).
public final class SourcePicture: @unchecked Sendable {
    private let frame: UnsafeMutablePointer<AVFrame>
    public var width: Int { Int(frame.pointee.width) }
    public var height: Int { Int(frame.pointee.height) }

    init?(referencing picture: UnsafePointer<AVFrame>) {
        guard let f = av_frame_clone(picture) else { return nil }
        frame = f
    }

    deinit {
        var f: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&f)
    }

    /// The picture as packed RGB24, `width` x `height` x 3 bytes, row-major.
    public func rgb() throws -> [UInt8] {
        let (w, h) = (Int32(width), Int32(height))
        let format = AVPixelFormat(rawValue: frame.pointee.format)
        guard let sws = sws_getContext(w, h, format, w, h, AV_PIX_FMT_RGB24, SWS_BILINEAR, nil, nil, nil) else {
            throw IngestError.decodeFailed(source: "source picture", reason: "libswscale cannot convert \(pixelFormatName(format))")
        }
        defer { sws_freeContext(sws) }
        let frame = frame
        return try [UInt8](unsafeUninitializedCapacity: width * height * 3) { buffer, count in
            var dst: [UnsafeMutablePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
            var stride: [Int32] = [w * 3, 0, 0, 0]
            let produced = withUnsafeBytes(of: &frame.pointee.data) { data in
                withUnsafeBytes(of: &frame.pointee.linesize) { lines in
                    sws_scale(sws, data.bindMemory(to: UnsafePointer<UInt8>?.self).baseAddress,
                              lines.bindMemory(to: Int32.self).baseAddress, 0, h, &dst, &stride)
                }
            }
            guard produced == h else {
                throw IngestError.decodeFailed(source: "source picture", reason: "libswscale produced \(produced) of \(h) rows")
            }
            count = Int(w) * Int(h) * 3
        }
    }
}
