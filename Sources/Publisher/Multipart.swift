import CZMQ
import Foundation

/// A failed receive: libzmq's errno and whether any part of the message had arrived before it.
public struct MultipartReceiveError: Error {
    public let code: Int32
    public let beforeFirstPart: Bool
}

/// Receives one multipart message (blocking as the socket's options say): all its parts, or the failure.
/// Callers judge the errno: a timeout or a signal before the first part is no message, anything else is theirs.
public func receiveMultipart(_ socket: UnsafeMutableRawPointer) throws(MultipartReceiveError) -> [Data] {
    var parts: [Data] = []
    var more = true
    while more {
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        guard zmq_msg_recv(&msg, socket, 0) >= 0 else {
            throw MultipartReceiveError(code: zmq_errno(), beforeFirstPart: parts.isEmpty)
        }
        parts.append(Data(bytes: zmq_msg_data(&msg), count: zmq_msg_size(&msg)))
        more = zmq_msg_more(&msg) == 1
    }
    return parts
}

/// libzmq's message for an errno, e.g. "Address already in use".
public func zmqError(_ code: Int32 = zmq_errno()) -> String { String(cString: zmq_strerror(code)) }
