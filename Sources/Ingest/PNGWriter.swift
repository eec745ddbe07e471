import CFFmpeg
import Foundation

/// Encodes frames as PNG with FFmpeg's png encoder (libavcodec), so no second image library is needed.
public enum PNGWriter {
    /// Tile `tile` of the frame (its only image without tiles).
    public static func encode(_ frame: Frame, tile: Int = 0) throws -> Data {
        let name = "frame \(frame.index)"
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_PNG) else {
            throw IngestError.encodeFailed(path: name, reason: "this FFmpeg build has no png encoder")
        }
        var ctx = avcodec_alloc_context3(codec)
        var picture = av_frame_alloc()
        var packet = av_packet_alloc()
        defer {
            avcodec_free_context(&ctx)
            av_frame_free(&picture)
            av_packet_free(&packet)
        }
        guard let ctx, let picture, let packet else { throw IngestError.encodeFailed(path: name, reason: "out of memory") }
        ctx.pointee.width = Int32(frame.size)
        ctx.pointee.height = Int32(frame.size)
        ctx.pointee.pix_fmt = AV_PIX_FMT_RGB24
        ctx.pointee.time_base = AVRational(num: 1, den: 1)
        var r = avcodec_open2(ctx, codec, nil)
        guard r >= 0 else { throw IngestError.encodeFailed(path: name, reason: avErrorString(r)) }
        picture.pointee.width = Int32(frame.size)
        picture.pointee.height = Int32(frame.size)
        picture.pointee.format = AV_PIX_FMT_RGB24.rawValue
        r = av_frame_get_buffer(picture, 0)
        guard r >= 0 else { throw IngestError.encodeFailed(path: name, reason: avErrorString(r)) }
        let rowBytes = frame.size * 3
        let stride = Int(picture.pointee.linesize.0)
        frame.tilePixels(tile).withUnsafeBufferPointer { src in
            for y in 0..<frame.size {
                memcpy(picture.pointee.data.0! + y * stride, src.baseAddress! + y * rowBytes, rowBytes)
            }
        }
        r = avcodec_send_frame(ctx, picture)
        guard r >= 0 else { throw IngestError.encodeFailed(path: name, reason: avErrorString(r)) }
        avcodec_send_frame(ctx, nil)
        r = avcodec_receive_packet(ctx, packet)
        guard r >= 0 else { throw IngestError.encodeFailed(path: name, reason: avErrorString(r)) }
        defer { av_packet_unref(packet) }
        return Data(bytes: packet.pointee.data, count: Int(packet.pointee.size))
    }

    public static func write(_ frame: Frame, tile: Int = 0, to path: String) throws {
        let data = try encode(frame, tile: tile)
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw IngestError.encodeFailed(path: path, reason: error.localizedDescription)
        }
    }
}
