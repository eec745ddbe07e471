import CFFmpeg

/// Converts decoded pictures of any pixel format straight to `size` x `size` RGB24 in one libswscale pass.
///
/// SWS_AREA sizes its filter to the downscale ratio (a box over the source pixels each output pixel
/// covers), so a large downscale averages every source pixel instead of point-sampling: it is antialiased.
/// A test with 1-pixel stripes checks this; SWS_BILINEAR widens too but leaves visible beating (104..151).
final class Scaler {
    let size: Int
    let resize: ResizeMode
    let flags: Int32
    private var context: OpaquePointer?
    private var key: (w: Int32, h: Int32, fmt: Int32, fullRange: Bool, space: Int32)?

    init(size: Int, resize: ResizeMode, flags: Int32 = SWS_AREA) {
        self.size = size
        self.resize = resize
        self.flags = flags
    }

    deinit { sws_freeContext(context) }

    /// Scales `frame` (a decoded picture, which the crop mode may modify in place) to RGB24 bytes.
    func scale(_ frame: UnsafeMutablePointer<AVFrame>, source: String) throws -> [UInt8] {
        if resize == .crop { try centerCrop(frame, source: source) }
        let w = frame.pointee.width, h = frame.pointee.height
        var format = AVPixelFormat(rawValue: frame.pointee.format)
        // The deprecated yuvj* formats mean "full-range YUV"; swscale wants the plain format plus a range flag.
        var fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG
        switch format {
        case AV_PIX_FMT_YUVJ420P: format = AV_PIX_FMT_YUV420P; fullRange = true
        case AV_PIX_FMT_YUVJ422P: format = AV_PIX_FMT_YUV422P; fullRange = true
        case AV_PIX_FMT_YUVJ444P: format = AV_PIX_FMT_YUV444P; fullRange = true
        case AV_PIX_FMT_YUVJ440P: format = AV_PIX_FMT_YUV440P; fullRange = true
        case AV_PIX_FMT_YUVJ411P: format = AV_PIX_FMT_YUV411P; fullRange = true
        default: break
        }
        let space: Int32
        switch frame.pointee.colorspace {
        case AVCOL_SPC_BT709: space = SWS_CS_ITU709
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: space = SWS_CS_BT2020
        default: space = SWS_CS_DEFAULT
        }
        if key == nil || key! != (w, h, format.rawValue, fullRange, space) {
            context = sws_getCachedContext(context, w, h, format, Int32(size), Int32(size),
                                           AV_PIX_FMT_RGB24, flags, nil, nil, nil)
            guard context != nil else {
                throw IngestError.decodeFailed(source: source, reason: "libswscale cannot convert \(pixelFormatName(format)) \(w)x\(h)")
            }
            // Only YUV input has a matrix and a range; for RGB input swscale ignores these.
            sws_setColorspaceDetails(context, sws_getCoefficients(space), fullRange ? 1 : 0,
                                     sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16)
            key = (w, h, format.rawValue, fullRange, space)
        }
        let rowBytes = size * 3
        return try [UInt8](unsafeUninitializedCapacity: size * rowBytes) { buffer, count in
            var dst: [UnsafeMutablePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
            var dstStride: [Int32] = [Int32(rowBytes), 0, 0, 0]
            let rows = withUnsafeBytes(of: &frame.pointee.data) { data in
                withUnsafeBytes(of: &frame.pointee.linesize) { lines in
                    sws_scale(context,
                              data.bindMemory(to: UnsafePointer<UInt8>?.self).baseAddress,
                              lines.bindMemory(to: Int32.self).baseAddress,
                              0, h, &dst, &dstStride)
                }
            }
            guard rows == Int32(size) else {
                throw IngestError.decodeFailed(source: source, reason: "libswscale produced \(rows) of \(size) rows")
            }
            count = size * rowBytes
        }
    }

    /// Narrows the frame to its largest centered square by moving plane pointers (no copy).
    private func centerCrop(_ frame: UnsafeMutablePointer<AVFrame>, source: String) throws {
        let w = Int(frame.pointee.width), h = Int(frame.pointee.height)
        guard w != h else { return }
        let side = min(w, h)
        // Even offsets keep subsampled chroma aligned with luma.
        let left = ((w - side) / 2) & ~1, top = ((h - side) / 2) & ~1
        frame.pointee.crop_left = left
        frame.pointee.crop_right = w - side - left
        frame.pointee.crop_top = top
        frame.pointee.crop_bottom = h - side - top
        let r = av_frame_apply_cropping(frame, Int32(AV_FRAME_CROP_UNALIGNED))
        if r < 0 { throw IngestError.decodeFailed(source: source, reason: "cannot crop: \(avErrorString(r))") }
    }
}

func pixelFormatName(_ format: AVPixelFormat) -> String {
    av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "pixel format \(format.rawValue)"
}
