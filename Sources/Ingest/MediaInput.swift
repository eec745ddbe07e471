import CFFmpeg
import Foundation

/// FFmpeg's log lines go through a callback that redacts URL credentials; installed once, before any open.
let redactingLogInstalled: Void = anomalyd_install_redacting_log()

/// One opened input (file, image, network stream or device) and the decoder of its best video stream.
/// Not thread-safe: one thread opens, reads and closes it.
final class MediaInput {
    enum Event {
        /// A decoded picture, valid until the next call.
        case frame(UnsafeMutablePointer<AVFrame>)
        case endOfStream
        /// The demuxer failed (network error, interrupt); the caller decides whether to reconnect.
        case readError(Int32)
    }

    let source: String
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private(set) var streamIndex: Int32 = -1
    private(set) var timeBase = AVRational(num: 1, den: 1)
    /// Nominal frame rate of the stream, when the container states one.
    private(set) var frameRate: Double?
    /// Packets the decoder rejected plus frames it flagged corrupt; each one is skipped.
    private(set) var decodeErrors = 0
    private var draining = false
    /// Called with every packet of the video stream as it is read, before the decoder sees it (the clip recorder).
    var packetTap: ((UnsafeMutablePointer<AVPacket>) -> Void)?

    /// - Parameters:
    ///   - url: what libavformat opens; `source` is its redacted name for messages.
    ///   - interrupt: checked by libavformat inside every blocking call.
    init(url: String, source: String, inputFormat: String? = nil, options: [String: String] = [:],
         interrupt: AVIOInterruptCB? = nil, decoderThreads: Int = 0) throws {
        self.source = source
        _ = redactingLogInstalled
        // All properties are set from here on, so a throw below runs deinit, which frees what was opened.
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        guard packet != nil, frame != nil else { throw IngestError.openFailed(source: source, reason: "out of memory") }
        var fmt: UnsafePointer<AVInputFormat>?
        if let inputFormat {
            fmt = av_find_input_format(inputFormat)
            if fmt == nil {
                throw IngestError.openFailed(source: source, reason: "input format '\(inputFormat)' is not in this FFmpeg build")
            }
        }
        var ctx = avformat_alloc_context()
        if let interrupt { ctx?.pointee.interrupt_callback = interrupt }
        var dict: OpaquePointer?
        defer { av_dict_free(&dict) }
        for (k, v) in options { av_dict_set(&dict, k, v, 0) }
        let r = avformat_open_input(&ctx, url, fmt, &dict)  // frees ctx on failure
        if r < 0 {
            if r == anomalyd_averror(ENOENT) { throw IngestError.notFound(source: source) }
            throw IngestError.openFailed(source: source, reason: avErrorString(r))
        }
        format = ctx
        let s = avformat_find_stream_info(ctx, nil)
        if s < 0 { throw IngestError.openFailed(source: source, reason: avErrorString(s)) }
        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        if index == anomalyd_averror_decoder_not_found() {
            let streams = (0..<Int(ctx!.pointee.nb_streams)).map { ctx!.pointee.streams[$0]!.pointee.codecpar.pointee }
            let video = streams.first(where: { $0.codec_type == AVMEDIA_TYPE_VIDEO })
            var codecName = String(cString: avcodec_get_name(video?.codec_id ?? AV_CODEC_ID_NONE))
            if let tag = video?.codec_tag, tag != 0 {
                // An unknown codec has no name; its FourCC is what a user can look up.
                let chars = (0..<4).map { Character(Unicode.Scalar(UInt8(truncatingIfNeeded: tag >> ($0 * 8)))) }
                codecName += " (FourCC \(String(chars)))"
            }
            throw IngestError.unsupportedCodec(source: source, codec: codecName)
        }
        if index < 0 { throw IngestError.noVideoStream(source: source) }
        let stream = ctx!.pointee.streams[Int(index)]!
        streamIndex = index
        timeBase = stream.pointee.time_base
        let rate = stream.pointee.avg_frame_rate.num > 0 ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
        frameRate = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : nil
        codec = avcodec_alloc_context3(decoder)
        let p = avcodec_parameters_to_context(codec, stream.pointee.codecpar)
        if p < 0 { throw IngestError.openFailed(source: source, reason: avErrorString(p)) }
        codec!.pointee.thread_count = Int32(decoderThreads)
        codec!.pointee.pkt_timebase = stream.pointee.time_base
        // Report damage instead of silently concealing it (mjpeg, for one, conceals by default), so a
        // corrupt packet is counted and its picture skipped.
        codec!.pointee.err_recognition |= AV_EF_EXPLODE
        let o = avcodec_open2(codec, decoder, nil)
        if o < 0 {
            throw IngestError.unsupportedCodec(source: source, codec: String(cString: avcodec_get_name(stream.pointee.codecpar.pointee.codec_id)) + ": \(avErrorString(o))")
        }
        // Drop the other streams at the demuxer so audio or data packets are not even read into memory.
        for i in 0..<Int(ctx!.pointee.nb_streams) where i != Int(index) {
            ctx!.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }
    }

    deinit {
        avcodec_free_context(&codec)
        avformat_close_input(&format)
        av_packet_free(&packet)
        av_frame_free(&frame)
    }

    /// The video stream's codec parameters, for a muxer that copies its packets; nil for a still image (image2 and
    /// the `*_pipe` picture demuxers), which has no clip.
    func clipParameters() -> StreamParameters? {
        guard let format, streamIndex >= 0, let demuxer = format.pointee.iformat else { return nil }
        let name = String(cString: demuxer.pointee.name)
        if name.contains("image2") || name.hasSuffix("_pipe") { return nil }
        return StreamParameters(copying: format.pointee.streams[Int(streamIndex)]!.pointee.codecpar, timeBase: timeBase)
    }

    /// Presentation time of the last decoded frame in seconds, if it has one.
    func seconds(of frame: UnsafeMutablePointer<AVFrame>) -> Double? {
        let ts = frame.pointee.best_effort_timestamp
        guard ts != anomalyd_nopts_value() else { return nil }
        return Double(ts) * av_q2d(timeBase)
    }

    /// Decodes the next picture, reading packets as needed. Corrupt packets are counted and skipped.
    func next() -> Event {
        guard let codec, let format, let packet, let frame else { return .endOfStream }
        av_frame_unref(frame)
        var consecutiveReadErrors = 0
        while true {
            let r = avcodec_receive_frame(codec, frame)
            if r == 0 {
                // Concealed or corrupt pictures would look like anomalies downstream: count and skip them.
                if frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 || frame.pointee.decode_error_flags != 0 {
                    decodeErrors += 1
                    av_frame_unref(frame)
                    continue
                }
                return .frame(frame)
            }
            if r == anomalyd_averror_eof() { return .endOfStream }
            if r != anomalyd_averror(EAGAIN) { decodeErrors += 1; continue }
            let rr = av_read_frame(format, packet)
            if rr < 0 {
                if rr == anomalyd_averror(EAGAIN) { usleep(5_000); continue }
                let atEnd = rr == anomalyd_averror_eof() || (format.pointee.pb != nil && avio_feof(format.pointee.pb) != 0)
                if !atEnd && rr == anomalyd_averror_invaliddata() {
                    // A damaged file can make the demuxer fail repeatedly; past a few tries treat it as the end.
                    decodeErrors += 1
                    consecutiveReadErrors += 1
                    if consecutiveReadErrors < 32 { continue }
                } else if !atEnd {
                    return .readError(rr)
                }
                // End of input: flush the decoder so the frames it still holds come out.
                if draining { return .endOfStream }
                draining = true
                avcodec_send_packet(codec, nil)
                continue
            }
            consecutiveReadErrors = 0
            defer { av_packet_unref(packet) }
            if packet.pointee.stream_index != streamIndex { continue }
            if packet.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 { decodeErrors += 1 }
            packetTap?(packet)
            let s = avcodec_send_packet(codec, packet)
            if s < 0 && s != anomalyd_averror(EAGAIN) { decodeErrors += 1 }
        }
    }
}
