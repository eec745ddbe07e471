import CFFmpeg
import Foundation
import Storage

/// The video stream's codec parameters and time base as the demuxer gave them, copied once per opened input:
/// what the MP4 muxer needs to describe the packets. Never changed after it is made (hence `@unchecked`).
public final class StreamParameters: @unchecked Sendable {
    let codecpar: UnsafeMutablePointer<AVCodecParameters>
    let timeBase: AVRational

    init?(copying source: UnsafePointer<AVCodecParameters>, timeBase: AVRational) {
        guard let p = avcodec_parameters_alloc() else { return nil }
        codecpar = p
        self.timeBase = timeBase
        guard avcodec_parameters_copy(p, source) >= 0 else { return nil }
    }

    deinit {
        var p: UnsafeMutablePointer<AVCodecParameters>? = codecpar
        avcodec_parameters_free(&p)
    }
}

public struct ClipWriteError: Error, CustomStringConvertible {
    public let path: String
    public let step: String
    public let reason: String
    public var description: String { "cannot write the clip \(path): \(step): \(reason)" }
}

/// Remuxes packets (decode order, starting at a keyframe) into an MP4 file with FFmpeg's muxer, without
/// re-encoding. The file is written under a hidden temporary name beside `path` (`AtomicFile`'s leftover pattern,
/// so a crash leaves nothing a reader could take for a clip), fsynced and renamed into place.
enum ClipWriter {
    /// Returns the size of the file written.
    static func write(_ packets: [EncodedPacket], parameters: StreamParameters, to path: String) throws -> Int {
        let directory = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        let temporary = "\(directory)/.\(name).tmp-\(UInt32.random(in: 0...UInt32.max))"
        func fail(_ step: String, _ code: Int32) -> ClipWriteError {
            ClipWriteError(path: path, step: step, reason: avErrorString(code))
        }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }

        var context: UnsafeMutablePointer<AVFormatContext>?
        // The temporary name has no .mp4 ending to guess from: the format is named.
        var r = avformat_alloc_output_context2(&context, nil, "mp4", temporary)
        guard r >= 0, let output = context else { throw fail("creating the muxer", r) }
        defer {
            if output.pointee.pb != nil { avio_closep(&output.pointee.pb) }
            avformat_free_context(output)
        }
        guard let stream = avformat_new_stream(output, nil) else { throw fail("adding the stream", anomalyd_averror(ENOMEM)) }
        r = avcodec_parameters_copy(stream.pointee.codecpar, parameters.codecpar)
        guard r >= 0 else { throw fail("copying the codec parameters", r) }
        // The input container's tag (RTP, Matroska) may mean nothing in MP4: the muxer picks its own.
        stream.pointee.codecpar.pointee.codec_tag = 0
        stream.pointee.time_base = parameters.timeBase
        r = avio_open(&output.pointee.pb, temporary, AVIO_FLAG_WRITE)
        guard r >= 0 else { throw fail("creating the file", r) }
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        // The index at the front: a browser or player can start the clip before it has all of it.
        av_dict_set(&options, "movflags", "+faststart", 0)
        r = avformat_write_header(output, &options)
        guard r >= 0 else { throw fail("writing the header", r) }

        let nopts = anomalyd_nopts_value()
        guard let scratch = av_packet_alloc() else { throw fail("allocating a packet", anomalyd_averror(ENOMEM)) }
        var owned: UnsafeMutablePointer<AVPacket>? = scratch
        defer { av_packet_free(&owned) }
        // The clip starts at 0; decode times must rise strictly (RTP gives some packets none).
        let origin = packets.lazy.map { $0.packet.pointee.dts != nopts ? $0.packet.pointee.dts : $0.packet.pointee.pts }
            .first { $0 != nopts } ?? 0
        var lastDTS = Int64.min
        for p in packets {
            r = av_packet_ref(scratch, p.packet)
            guard r >= 0 else { throw fail("referencing a packet", r) }
            var dts = scratch.pointee.dts != nopts ? scratch.pointee.dts : scratch.pointee.pts
            if dts == nopts { dts = lastDTS == .min ? origin : lastDTS + 1 }
            dts = max(dts - origin, lastDTS == .min ? 0 : lastDTS + 1)
            let pts = scratch.pointee.pts != nopts ? max(scratch.pointee.pts - origin, dts) : dts
            lastDTS = dts
            scratch.pointee.dts = dts
            scratch.pointee.pts = pts
            scratch.pointee.stream_index = 0
            scratch.pointee.pos = -1
            av_packet_rescale_ts(scratch, parameters.timeBase, stream.pointee.time_base)
            r = av_interleaved_write_frame(output, scratch)   // takes the reference
            guard r >= 0 else { throw fail("writing a packet", r) }
        }
        r = av_write_trailer(output)
        guard r >= 0 else { throw fail("writing the trailer", r) }
        avio_closep(&output.pointee.pb)

        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("opening it to fsync", anomalyd_averror(errno)) }
        var size = stat()
        let synced = fsync(fd) == 0 && fstat(fd, &size) == 0
        let code = errno
        close(fd)
        guard synced else { throw fail("fsync", anomalyd_averror(code)) }
        guard rename(temporary, path) == 0 else { throw fail("renaming it into place", anomalyd_averror(errno)) }
        renamed = true
        try AtomicFile.syncDirectory(directory, for: path)
        return Int(size.st_size)
    }
}
