import CFFmpeg

/// One encoded packet of the video stream: a new reference to FFmpeg's refcounted buffer, not a copy of its data.
/// Never changed after it is made, so it may cross threads (the decode thread makes it, the clip writer reads it);
/// the compiler cannot see that through the C pointer, hence `@unchecked`.
public final class EncodedPacket: @unchecked Sendable {
    let packet: UnsafeMutablePointer<AVPacket>
    /// Presentation time (decode time without one) in seconds, on the clock of `Frame.pts`.
    public let seconds: Double
    public let isKeyframe: Bool
    public var size: Int { Int(packet.pointee.size) }

    /// nil when FFmpeg cannot allocate the reference.
    init?(referencing source: UnsafePointer<AVPacket>, seconds: Double) {
        guard let copy = av_packet_clone(source) else { return nil }
        packet = copy
        self.seconds = seconds
        isKeyframe = copy.pointee.flags & AV_PKT_FLAG_KEY != 0
    }

    deinit {
        var p: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&p)
    }
}

/// The last seconds of a video stream's packets in decode order, always starting at a keyframe, so any clip cut
/// from it at a keyframe decodes from its first packet. Whole GOPs leave from the front: when the next keyframe is
/// at or before the horizon the caller gives, or when the ring holds more than `maxBytes`. Not thread-safe.
struct PacketRing {
    let maxBytes: Int
    private(set) var packets: [EncodedPacket] = []
    private(set) var bytes = 0

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    /// Adds the newest packet, then trims to the keyframe at or before `horizon` (seconds) and to `maxBytes`.
    mutating func append(_ packet: EncodedPacket, keepingFrom horizon: Double) {
        // Joined mid-GOP (a stream, a reconnect): what comes before the first keyframe cannot be decoded.
        if packets.isEmpty && !packet.isKeyframe { return }
        packets.append(packet)
        bytes += packet.size
        while let next = nextKeyframe(), packets[next].seconds <= horizon || bytes > maxBytes {
            dropFront(next)
        }
        // One GOP larger than the bound: nothing decodable can be kept.
        if bytes > maxBytes { removeAll() }
    }

    /// The packets from the last keyframe at or before `start` (the first packet, when none is that early).
    func packets(from start: Double) -> ArraySlice<EncodedPacket> {
        let first = packets.indices.last { packets[$0].isKeyframe && packets[$0].seconds <= start } ?? packets.startIndex
        return packets[first...]
    }

    mutating func removeAll() {
        packets.removeAll()
        bytes = 0
    }

    /// Index of the second GOP's keyframe.
    private func nextKeyframe() -> Int? { packets.indices.dropFirst().first { packets[$0].isKeyframe } }

    private mutating func dropFront(_ count: Int) {
        bytes -= packets[..<count].reduce(0) { $0 + $1.size }
        packets.removeFirst(count)
    }
}
