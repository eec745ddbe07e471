import CZMQ
import Foundation

/// Keeps an XPUB socket's subscription table bounded, whatever its peers send.
///
/// libzmq files every subscription a peer sends before the application sees it (ZMQ_XPUB_MANUAL too keeps its own
/// copy of each request, so filtering them there bounds nothing) and forgets them only when the peer leaves; it has
/// no call to drop one peer of an XPUB either. So the bound is kept by making the peer leave: libzmq's socket
/// monitor reports each accepted connection with its descriptor, and when the subscriptions of the addresses still
/// connected pass `limit`, every connection from the address that holds the most is shut down (shutdown(2): the
/// descriptor stays libzmq's, which sees the end of the stream, closes it and drops what that peer held). Other
/// subscribers on the same address lose their connection too: they reconnect and resubscribe by themselves, with a
/// seq gap. What libzmq is still dropping for connections already ended or shut down counts in the table but is
/// nobody's to pay for.
///
/// Not thread-safe: the publisher's actor owns it and calls it between its own uses of the socket.
final class SubscriptionLimit {
    let limit: Int
    /// Subscriptions the socket holds, one per peer and prefix (ZMQ_XPUB_VERBOSER reports each one and each
    /// cancellation, including those libzmq makes for a peer that leaves).
    private(set) var held = 0
    /// Connections shut down so far.
    private(set) var disconnected = 0

    private let monitor: UnsafeMutableRawPointer
    /// Subscriptions per peer address, from the subscriptions and cancellations its connections sent (libzmq's
    /// cancellations for a peer that left carry no address, so an address is forgotten when its connections end).
    private var heldByAddress: [String: Int] = [:]
    private var connections: [Int32: Connection] = [:]
    /// The XPUB's TCP port once bound (nil for ipc://): only descriptors of its own connections are ever shut down.
    private var port: Int?

    private struct Connection {
        /// As libzmq reports it in the "Peer-Address" property: the numeric IP, or "" for ipc://.
        let address: String
        var shutDownAt: ContinuousClock.Instant?

        /// Not shut down, or shut down so long ago that libzmq should have ended it (a lost event, at worst).
        func isLive(at now: ContinuousClock.Instant) -> Bool { shutDownAt.map { now - $0 > .seconds(1) } ?? true }
    }

    /// Starts the socket monitor; call it before the socket binds, so that no connection goes unseen.
    init(context: UnsafeMutableRawPointer, socket: UnsafeMutableRawPointer, limit: Int, endpoint: String) throws {
        self.limit = limit
        let address = "inproc://anomalyd-publisher-monitor-\(UUID().uuidString)"
        guard zmq_socket_monitor(socket, address, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) == 0,
              let pair = zmq_socket(context, ZMQ_PAIR) else {
            throw PublisherError.socketFailed(endpoint: endpoint, operation: "monitoring connections", reason: zmqError())
        }
        monitor = pair
        do {
            try setOption(pair, ZMQ_LINGER, 0, endpoint)
            // Unbounded: libzmq's I/O thread would block on a full monitor queue. It is read on every drain.
            try setOption(pair, ZMQ_RCVHWM, 0, endpoint)
            guard zmq_connect(pair, address) == 0 else {
                throw PublisherError.socketFailed(endpoint: endpoint, operation: "monitoring connections", reason: zmqError())
            }
        } catch {
            close(socket: socket)
            throw error
        }
    }

    func bound(to endpoint: String) {
        port = endpoint.hasPrefix("tcp://") ? endpoint.split(separator: ":").last.flatMap { Int($0) } : nil
    }

    /// One subscription (or cancellation) as the socket reported it; `address` is its "Peer-Address" (nil on the
    /// cancellations libzmq makes for a peer that left).
    func record(subscribe: Bool, from address: String?) {
        held += subscribe ? 1 : -1
        if let address {
            let count = heldByAddress[address, default: 0] + (subscribe ? 1 : -1)
            heldByAddress[address] = count > 0 ? count : nil
        }
        if subscribe && held > limit { disconnectLargestHolder() }
    }

    /// Reads what the monitor reported: connections accepted and ended.
    func readEvents() {
        while true {
            var event = zmq_msg_t()
            zmq_msg_init(&event)
            defer { zmq_msg_close(&event) }
            guard zmq_msg_recv(&event, monitor, ZMQ_DONTWAIT) >= 0 else { return }
            // Two frames: the event (uint16) and its value (uint32, the descriptor here), then the endpoint.
            var kind: UInt16 = 0, descriptor: Int32 = -1
            if zmq_msg_size(&event) == 6, let data = zmq_msg_data(&event) {
                kind = data.loadUnaligned(as: UInt16.self)
                descriptor = data.loadUnaligned(fromByteOffset: 2, as: Int32.self)
            }
            if zmq_msg_more(&event) == 1 {
                var endpoint = zmq_msg_t()
                zmq_msg_init(&endpoint)
                zmq_msg_recv(&endpoint, monitor, ZMQ_DONTWAIT)
                zmq_msg_close(&endpoint)
            }
            if Int32(kind) == ZMQ_EVENT_ACCEPTED {
                connections[descriptor] = Connection(address: Self.peerAddress(descriptor) ?? "")
            } else if Int32(kind) == ZMQ_EVENT_DISCONNECTED, let gone = connections.removeValue(forKey: descriptor) {
                // An address with no connection left holds nothing for long: libzmq is dropping its subscriptions.
                if !connections.values.contains(where: { $0.address == gone.address }) { heldByAddress[gone.address] = nil }
            }
        }
    }

    /// Stops the monitor; call it before the socket closes.
    func close(socket: UnsafeMutableRawPointer) {
        zmq_socket_monitor(socket, nil, 0)
        zmq_close(monitor)
    }

    private func disconnectLargestHolder() {
        readEvents()
        let now = ContinuousClock.now
        let live = Set(connections.values.filter { $0.isLive(at: now) }.map(\.address))
        // Only what live connections hold counts: the rest is on its way out, and must not make another peer pay.
        heldByAddress = heldByAddress.filter { live.contains($0.key) }
        guard heldByAddress.values.reduce(0, +) > limit,
              let address = heldByAddress.max(by: { $0.value < $1.value })?.key else { return }
        for (descriptor, connection) in connections
        where connection.address == address && connection.isLive(at: now) && isOurs(descriptor, from: address) {
            shutdown(descriptor, Int32(SHUT_RDWR))
            connections[descriptor]?.shutDownAt = now
            disconnected += 1
        }
        heldByAddress[address] = nil
    }

    /// Whether `descriptor` is still a connection of this socket from `address`: checked again right before the
    /// shutdown, in case libzmq closed it and the number was reused.
    private func isOurs(_ descriptor: Int32, from address: String) -> Bool {
        var local = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
        }
        guard named else { return false }
        switch Int32(local.ss_family) {
        case AF_INET:
            let port = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port } }
            guard Int(UInt16(bigEndian: port)) == self.port else { return false }
        case AF_INET6:
            let port = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port } }
            guard Int(UInt16(bigEndian: port)) == self.port else { return false }
        case AF_UNIX:
            guard self.port == nil else { return false }
        default:
            return false
        }
        return (Self.peerAddress(descriptor) ?? "") == address
    }

    /// The peer's numeric address as libzmq formats it for "Peer-Address" (getnameinfo with NI_NUMERICHOST).
    private static func peerAddress(_ descriptor: Int32) -> String? {
        var peer = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var host = [CChar](repeating: 0, count: 1025)  // NI_MAXHOST
        let rc = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard getpeername(descriptor, p, &length) == 0 else { return -1 }
                return getnameinfo(p, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        return rc == 0 ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }
}
