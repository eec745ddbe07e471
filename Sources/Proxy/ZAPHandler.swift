import CZMQ
import Foundation
import Logging
import Publisher

/// Answers libzmq's authentication requests (ZAP, ZeroMQ RFC 27) for the CURVE server sockets of one context:
/// a client whose public key is authorised is let in, any other is refused and logged. libzmq asks it during
/// each CURVE handshake, once the client has proved it holds the secret of the public key it presents; so a
/// subscriber needs both the proxy's public key and an authorised key pair.
///
/// It serves on its own thread (a ZAP request blocks that connection's handshake, not the forwarding) and ends
/// when the context is shut down.
// @unchecked Sendable: only its serving thread uses the socket (a raw libzmq handle); the rest is immutable.
final class ZAPHandler: @unchecked Sendable {
    /// Where libzmq sends ZAP requests; one handler per context.
    static let endpoint = "inproc://zeromq.zap.01"

    private let socket: UnsafeMutableRawPointer
    private let authorized: AuthorizedKeys
    private let logger: Logger
    private let finished = DispatchSemaphore(value: 0)

    /// Binds the handler; it must be bound before the CURVE server socket accepts connections.
    init(context: UnsafeMutableRawPointer, authorized: AuthorizedKeys, logger: Logger) throws {
        guard let socket = zmq_socket(context, ZMQ_REP) else {
            throw ProxyError.socketFailed(endpoint: Self.endpoint, operation: "creating the ZAP socket", reason: zmqError())
        }
        guard zmq_bind(socket, Self.endpoint) == 0 else {
            let reason = zmqError()
            zmq_close(socket)
            throw ProxyError.socketFailed(endpoint: Self.endpoint, operation: "binding the ZAP handler", reason: reason)
        }
        self.socket = socket
        self.authorized = authorized
        self.logger = logger
        Thread.detachNewThread { self.serve() }
    }

    /// Waits for the thread to close its socket; call after zmq_ctx_shutdown.
    func join() { finished.wait() }

    private func serve() {
        defer {
            zmq_close(socket)
            finished.signal()
        }
        while let request = receive() {
            // Frames: version, request id, domain, address, routing id, mechanism, credentials (the client's
            // 32-byte public key for CURVE).
            guard request.count >= 6 else { continue }
            let address = String(decoding: request[3], as: UTF8.self)
            var code = "400", text = "unknown client key", user = ""
            if request.count == 7, String(decoding: request[5], as: UTF8.self) == "CURVE", request[6].count == 32 {
                let key = z85(request[6])
                if let name = authorized.names[key] {
                    (code, text, user) = ("200", "OK", name)
                    logger.info("subscriber authorised", metadata: ["client": "\(name)", "address": "\(address)"])
                } else {
                    logger.warning("subscriber refused: its public key is not in --authorized-keys",
                                   metadata: ["key": "\(key)", "address": "\(address)"])
                }
            } else {
                text = "CURVE required"
                logger.warning("connection refused: not CURVE", metadata: ["address": "\(address)"])
            }
            let reply = [Data("1.0".utf8), request[1], Data(code.utf8), Data(text.utf8), Data(user.utf8), Data()]
            for (i, part) in reply.enumerated() {
                _ = part.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, i < reply.count - 1 ? ZMQ_SNDMORE : 0) }
            }
        }
    }

    /// One request's frames, or nil once the context is shut down.
    private func receive() -> [Data]? {
        while true {
            do {
                return try receiveMultipart(socket)
            } catch where error.code == EINTR && error.beforeFirstPart {
                continue
            } catch {
                return nil
            }
        }
    }

    private func z85(_ key: Data) -> String {
        var text = [CChar](repeating: 0, count: 41)
        _ = key.withUnsafeBytes { zmq_z85_encode(&text, $0.bindMemory(to: UInt8.self).baseAddress, 32) }
        return String(decoding: text.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
    }
}

