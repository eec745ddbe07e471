import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request has not been read whole and answered within `timeout`. The idle timeout
/// starts again with every part that arrives, so without this a body sent a byte at a time would hold a connection
/// for ever. A request counts from its head until both its end has arrived and its response's end has gone out.
final class RequestDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Requests whose head has arrived and whose response's end has not gone out (HTTP/1.1 may pipeline them).
    private var unanswered = 0
    /// Whether a request's head has arrived and its end has not.
    private var reading = false

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            reading = true
            if deadline == nil {
                deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { context.close(promise: nil) }
            }
        case .body:
            break
        case .end:
            reading = false
            disarmWhenDone()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unanswered -= 1
            disarmWhenDone()
        }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    private func disarmWhenDone() {
        guard unanswered <= 0, !reading else { return }
        deadline?.cancel()
        deadline = nil
    }
}

// The channel's event loop owns it.
@available(*, unavailable)
extension RequestDeadline: Sendable {}
