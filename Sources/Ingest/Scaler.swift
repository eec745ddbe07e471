import CFFmpeg

/// Converts decoded pictures of any pixel format straight to `size` x `size` RGB24 in one libswscale pass per
/// model input: the whole picture, its centre square (`resize: crop`), or each tile of a roi (`TileLayout`).
///
/// SWS_AREA sizes its filter to the downscale ratio (a box over the source pixels each output pixel
/// covers), so a large downscale averages every source pixel instead of point-sampling: it is antialiased.
/// A test with 1-pixel stripes checks this; SWS_BILINEAR widens too but leaves visible beating (104..151).
///
/// Cropping moves plane pointers (no copy). Subsampled chroma has one sample per 2 (4:2:0, 4:2:2) or 4 (4:1:1)
/// luma columns, so a crop's left and top edges are moved out to the chroma grid: a tile at an odd x is scaled
/// from one more source column on its left (and, for 4:2:0, row on its top): at most 1 pixel for 4:2:0 and 4:2:2,
/// 3 for 4:1:1, a fraction of a patch. Right and bottom edges are exact; the layout describes the rest to within
/// that pixel.
final class Scaler {
    let size: Int
    let resize: ResizeMode
    let roi: PixelRect?
    let columns: Int
    let rows: Int
    let grid: Int
    let ignore: [[SIMD2<Double>]]
    let flags: Int32
    /// One libswscale context per tile: neighbouring tiles may differ by a pixel, and a shared cached context
    /// would be rebuilt for every tile of every frame.
    private var contexts: [(context: OpaquePointer?, key: Key?)] = []
    private var cachedLayout: TileLayout?
    /// A second reference to the decoded picture, cropped to one tile at a time (the picture itself is untouched).
    private let view: UnsafeMutablePointer<AVFrame>

    private struct Key: Equatable { let w: Int32, h: Int32, fmt: Int32, fullRange: Bool, space: Int32 }

    init(size: Int, resize: ResizeMode, roi: PixelRect? = nil, columns: Int = 1, rows: Int = 1, grid: Int = 14,
         ignore: [[SIMD2<Double>]] = [], flags: Int32 = SWS_AREA) {
        self.size = size
        self.resize = resize
        self.roi = roi
        self.columns = columns
        self.rows = rows
        self.grid = grid
        self.ignore = ignore
        self.flags = flags
        guard let view = av_frame_alloc() else { fatalError("av_frame_alloc: out of memory") }
        self.view = view
    }

    convenience init(options: SourceOptions) {
        self.init(size: options.size, resize: options.resize, roi: options.roi, columns: options.tileColumns,
                  rows: options.tileRows, grid: options.patchGrid, ignore: options.ignore)
    }

    deinit {
        for c in contexts { sws_freeContext(c.context) }
        var view: UnsafeMutablePointer<AVFrame>? = view
        av_frame_free(&view)
    }

    /// The layout of a `width` x `height` picture, made once per picture size.
    func layout(width: Int, height: Int) throws(LayoutMismatch) -> TileLayout {
        if let l = cachedLayout, l.sourceWidth == width, l.sourceHeight == height { return l }
        let region = roi ?? (resize == .crop ? PixelRect.centredSquare(width: width, height: height) : nil)
        let l = try TileLayout(sourceWidth: width, sourceHeight: height, roi: region, columns: columns, rows: rows,
                               inputSize: size, grid: grid, ignore: ignore)
        cachedLayout = l
        return l
    }

    /// Scales each tile of `layout` (made by `layout(width:height:)` for this picture) to RGB24 bytes, tile-major.
    func scale(_ frame: UnsafeMutablePointer<AVFrame>, layout: TileLayout, source: String) throws -> [UInt8] {
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
        if contexts.count < layout.tileCount { contexts += Array(repeating: (nil, nil), count: layout.tileCount - contexts.count) }
        let tileBytes = size * size * 3
        var pixels = try [UInt8](unsafeUninitializedCapacity: layout.tileCount * tileBytes) { buffer, count in
            for (t, tile) in layout.tiles.enumerated() {
                let whole = tile == PixelRect(x: 0, y: 0, width: layout.sourceWidth, height: layout.sourceHeight)
                let picture = try whole ? frame : crop(frame, to: tile, source: source)
                defer { if !whole { av_frame_unref(view) } }
                let key = Key(w: picture.pointee.width, h: picture.pointee.height, fmt: format.rawValue,
                              fullRange: fullRange, space: space)
                if contexts[t].key != key {
                    contexts[t].context = sws_getCachedContext(contexts[t].context, key.w, key.h, format, Int32(size),
                                                               Int32(size), AV_PIX_FMT_RGB24, flags, nil, nil, nil)
                    contexts[t].key = nil
                    guard contexts[t].context != nil else {
                        throw IngestError.decodeFailed(source: source, reason: "libswscale cannot convert \(pixelFormatName(format)) \(key.w)x\(key.h)")
                    }
                    // Only YUV input has a matrix and a range; for RGB input swscale ignores these.
                    sws_setColorspaceDetails(contexts[t].context, sws_getCoefficients(space), fullRange ? 1 : 0,
                                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16)
                    contexts[t].key = key
                }
                var dst: [UnsafeMutablePointer<UInt8>?] = [buffer.baseAddress! + t * tileBytes, nil, nil, nil]
                var dstStride: [Int32] = [Int32(size * 3), 0, 0, 0]
                let produced = withUnsafeBytes(of: &picture.pointee.data) { data in
                    withUnsafeBytes(of: &picture.pointee.linesize) { lines in
                        sws_scale(contexts[t].context,
                                  data.bindMemory(to: UnsafePointer<UInt8>?.self).baseAddress,
                                  lines.bindMemory(to: Int32.self).baseAddress,
                                  0, key.h, &dst, &dstStride)
                    }
                }
                guard produced == Int32(size) else {
                    throw IngestError.decodeFailed(source: source, reason: "libswscale produced \(produced) of \(size) rows")
                }
            }
            count = layout.tileCount * tileBytes
        }
        layout.blankIgnoredCells(in: &pixels)
        return pixels
    }

    /// `view`, referencing `frame` narrowed to `tile` (left and top moved out to the chroma grid).
    private func crop(_ frame: UnsafeMutablePointer<AVFrame>, to tile: PixelRect, source: String) throws -> UnsafeMutablePointer<AVFrame> {
        let w = Int(frame.pointee.width), h = Int(frame.pointee.height)
        let desc = av_pix_fmt_desc_get(AVPixelFormat(rawValue: frame.pointee.format))
        let alignX = 1 << Int(desc?.pointee.log2_chroma_w ?? 0), alignY = 1 << Int(desc?.pointee.log2_chroma_h ?? 0)
        let left = tile.x - tile.x % alignX, top = tile.y - tile.y % alignY
        var r = av_frame_ref(view, frame)
        if r < 0 { throw IngestError.decodeFailed(source: source, reason: "cannot reference the picture: \(avErrorString(r))") }
        view.pointee.crop_left = left
        view.pointee.crop_right = w - tile.maxX
        view.pointee.crop_top = top
        view.pointee.crop_bottom = h - tile.maxY
        r = av_frame_apply_cropping(view, Int32(AV_FRAME_CROP_UNALIGNED))
        // Bitstream (1-bit) and hardware formats can only be cropped at the right and bottom.
        if r < 0 || Int(view.pointee.width) != tile.maxX - left || Int(view.pointee.height) != tile.maxY - top {
            av_frame_unref(view)
            let why = r < 0 ? avErrorString(r) : "\(pixelFormatName(AVPixelFormat(rawValue: frame.pointee.format))) pictures cannot be cropped at \(tile)"
            throw IngestError.decodeFailed(source: source, reason: "cannot crop: \(why)")
        }
        return view
    }
}

func pixelFormatName(_ format: AVPixelFormat) -> String {
    av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "pixel format \(format.rawValue)"
}
