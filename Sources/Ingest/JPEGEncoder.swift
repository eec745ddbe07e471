import CFFmpeg
import Foundation

/// Encodes RGB24 pictures as JPEG with FFmpeg's MJPEG encoder (libavcodec), for the evidence frame of events.
/// One encoder serves one picture size; the codec context, frame, packet and scaler are made once and reused.
/// Not thread-safe: one per pipeline.
public final class JPEGEncoder {
    public let width: Int
    public let height: Int
    /// ffmpeg's `-q:v` scale: 2 is the best quality, 31 the smallest file.
    public let quality: Int

    private var context: UnsafeMutablePointer<AVCodecContext>?
    private var picture: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private let scaler: OpaquePointer
    private var pts: Int64 = 0

    public init(width: Int, height: Int, quality: Int = 4) throws {
        guard width > 0, height > 0 else { throw JPEGEncoderError.invalidConfiguration("picture size \(width)x\(height)") }
        guard (2...31).contains(quality) else {
            throw JPEGEncoderError.invalidConfiguration("quality must be 2 (best) ... 31 (smallest), got \(quality)")
        }
        self.width = width
        self.height = height
        self.quality = quality
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG) else {
            throw JPEGEncoderError.unavailable("this FFmpeg build has no mjpeg encoder")
        }
        // RGB (full range) to full-range BT.601 YUV 4:2:0, which is what JPEG stores. swscale is given plain
        // YUV420P plus a range flag (it deprecates the yuvj formats); the encoder gets the same bytes as YUVJ420P.
        guard let sws = sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(width), Int32(height),
                                       AV_PIX_FMT_YUV420P, SWS_BICUBIC | SWS_ACCURATE_RND, nil, nil, nil) else {
            throw JPEGEncoderError.unavailable("libswscale cannot convert rgb24 to yuv420p at \(width)x\(height)")
        }
        scaler = sws
        sws_setColorspaceDetails(sws, sws_getCoefficients(SWS_CS_ITU601), 1, sws_getCoefficients(SWS_CS_ITU601), 1,
                                 0, 1 << 16, 1 << 16)
        context = avcodec_alloc_context3(codec)
        picture = av_frame_alloc()
        packet = av_packet_alloc()
        guard let context, let picture, packet != nil else { throw JPEGEncoderError.failed("out of memory") }
        context.pointee.width = Int32(width)
        context.pointee.height = Int32(height)
        context.pointee.pix_fmt = AV_PIX_FMT_YUVJ420P
        context.pointee.color_range = AVCOL_RANGE_JPEG
        context.pointee.time_base = AVRational(num: 1, den: 25)
        // A fixed quantiser (like -q:v) rather than a bit rate: every evidence frame gets the same quality.
        context.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
        context.pointee.global_quality = Int32(FF_QP2LAMBDA) * Int32(quality)
        var r = avcodec_open2(context, codec, nil)
        guard r >= 0 else { throw JPEGEncoderError.failed("cannot open the mjpeg encoder: \(avErrorString(r))") }
        picture.pointee.width = Int32(width)
        picture.pointee.height = Int32(height)
        picture.pointee.format = AV_PIX_FMT_YUVJ420P.rawValue
        picture.pointee.color_range = AVCOL_RANGE_JPEG
        r = av_frame_get_buffer(picture, 0)
        guard r >= 0 else { throw JPEGEncoderError.failed("cannot allocate a picture: \(avErrorString(r))") }
    }

    deinit {
        avcodec_free_context(&context)
        av_frame_free(&picture)
        av_packet_free(&packet)
        sws_freeContext(scaler)
    }

    /// Encodes packed RGB24 bytes, `width`×`height`×3, row-major.
    public func encode(rgb: [UInt8]) throws -> Data {
        guard rgb.count == width * height * 3 else {
            throw JPEGEncoderError.invalidConfiguration("expected \(width)x\(height)x3 = \(width * height * 3) RGB bytes, got \(rgb.count)")
        }
        guard let context, let picture, let packet else { throw JPEGEncoderError.failed("encoder not initialised") }
        // The encoder may still reference the previous picture's buffers; this copies them if so.
        var r = av_frame_make_writable(picture)
        guard r >= 0 else { throw JPEGEncoderError.failed(avErrorString(r)) }
        rgb.withUnsafeBufferPointer { src in
            var srcPlanes: [UnsafePointer<UInt8>?] = [src.baseAddress, nil, nil, nil]
            var srcStrides: [Int32] = [Int32(width * 3), 0, 0, 0]
            withUnsafeMutableBytes(of: &picture.pointee.data) { data in
                withUnsafeMutableBytes(of: &picture.pointee.linesize) { lines in
                    _ = sws_scale(scaler, &srcPlanes, &srcStrides, 0, Int32(height),
                                  data.bindMemory(to: UnsafeMutablePointer<UInt8>?.self).baseAddress,
                                  lines.bindMemory(to: Int32.self).baseAddress)
                }
            }
        }
        picture.pointee.pts = pts
        pts += 1
        picture.pointee.quality = context.pointee.global_quality
        r = avcodec_send_frame(context, picture)
        guard r >= 0 else { throw JPEGEncoderError.failed(avErrorString(r)) }
        // MJPEG is intra-only with no delay: each picture comes straight back as one packet.
        r = avcodec_receive_packet(context, packet)
        guard r >= 0 else { throw JPEGEncoderError.failed(avErrorString(r)) }
        defer { av_packet_unref(packet) }
        return Data(bytes: packet.pointee.data, count: Int(packet.pointee.size))
    }

    /// Encodes a decoded frame (the model-size picture); the encoder must be `frame.size` square.
    public func encode(_ frame: Frame) throws -> Data {
        guard frame.size == width && frame.size == height else {
            throw JPEGEncoderError.invalidConfiguration("frame is \(frame.size)x\(frame.size), encoder is \(width)x\(height)")
        }
        return try encode(rgb: frame.pixels)
    }
}

public enum JPEGEncoderError: Error, Equatable, CustomStringConvertible {
    case unavailable(String)
    case invalidConfiguration(String)
    case failed(String)

    public var description: String {
        switch self {
        case .unavailable(let r): return "JPEG encoding unavailable: \(r)"
        case .invalidConfiguration(let r): return "invalid JPEG encoder configuration: \(r)"
        case .failed(let r): return "JPEG encoding failed: \(r)"
        }
    }
}
