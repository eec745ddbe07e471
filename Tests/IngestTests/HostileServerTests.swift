import Foundation
import XCTest
@testable import Ingest

/// Kept cases of issue 14 for live sources: an "RTSP server" that answers with garbage, one that accepts and says
/// nothing, and one that answers a plausible RTSP reply with nonsense in it. Each source keeps reconnecting with its
/// error recorded, never delivers a frame, never crashes, and stops within a second. (The daemon-level case, such
/// servers beside a healthy pipeline, is benchmarks/hostile/run.sh `servers`.)
final class HostileServerTests: XCTestCase {
    /// A loopback TCP server on a thread: each accepted connection gets `reply` (repeated while the peer reads) or,
    /// when nil, silence until it goes.
    final class Peer: @unchecked Sendable {   // fd and port are set once in init; the thread only reads them
        let fd: Int32
        let port: Int
        private let thread: Thread

        init(reply: [UInt8]?) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(fd, 16) == 0 else { throw NSError(domain: "bind", code: Int(errno)) }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            port = Int(UInt16(bigEndian: address.sin_port))
            let listener = fd
            thread = Thread {
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 { return }
                    Thread.detachNewThread {
                        var buffer = [UInt8](repeating: 0, count: 4096)
                        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
                        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                        for _ in 0..<200 {
                            let n = recv(client, &buffer, buffer.count, 0)
                            if n == 0 { break }
                            if let reply, n > 0 {
                                guard send(client, reply, reply.count, Int32(MSG_NOSIGNAL)) >= 0 else { break }
                            }
                        }
                        close(client)
                    }
                }
            }
            thread.start()
        }

        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    func testGarbageSilentAndNonsenseServersNeverDeliverNorCrash() async throws {
        var random = [UInt8](repeating: 0, count: 64 * 1024)
        var state: UInt32 = 7
        for i in random.indices {
            state = state &* 1_103_515_245 &+ 12345
            random[i] = UInt8(truncatingIfNeeded: state >> 16)
        }
        let nonsense = Array(("RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 99999999999\r\n"
            + "Transport: RTP/AVP/TCP;interleaved=0-1\r\nSession: \(String(repeating: "S", count: 8000))\r\n\r\n"
            + "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 sprop-parameter-sets=////,AAAA\r\n").utf8)
        let peers = [("garbage", try Peer(reply: random)), ("silent", try Peer(reply: nil)), ("nonsense", try Peer(reply: nonsense))]
        defer { peers.forEach { $0.1.stop() } }
        var options = SourceOptions()
        options.ioTimeout = 1
        options.stallTimeout = 1
        options.reconnectBaseDelay = 0.1
        options.reconnectMaxDelay = 0.5
        let sources = try peers.map { try FrameSource("rtsp://127.0.0.1:\($0.1.port)/cam", options: options) }
        let collectors = sources.map { Collector($0) }
        for (source, (name, _)) in zip(sources, peers) {
            let retried = await eventually(within: 15) { source.stats.reconnectsTotal >= 2 }
            XCTAssertTrue(retried, "\(name): the source retries: \(source.stats)")
            XCTAssertNotNil(source.stats.lastError, name)
            XCTAssertTrue([.connecting, .reconnecting, .stalled].contains(source.stats.state), "\(name): \(source.stats.state)")
        }
        for (collector, (name, _)) in zip(collectors, peers) {
            XCTAssertTrue(collector.frames.isEmpty, "\(name) delivered frames")
            let took = await collector.cancel()
            XCTAssertLessThan(took, 1.5, "\(name): the source stops promptly")
        }
    }
}
