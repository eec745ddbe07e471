import Foundation

/// Bounded single-consumer queue between the decoding thread and an async consumer.
///
/// When full, the producer either replaces the oldest frame (live sources: the newest picture is what
/// matters) or blocks until the consumer takes one (files: nothing may be lost). `close()` ends both sides
/// at once and is how cancellation reaches the decoding thread.
final class FrameChannel: @unchecked Sendable {
    enum PushResult { case queued, replacedOldest, closed }

    let capacity: Int
    private let condition = NSCondition()
    private var buffer: [Frame] = []
    private var waiter: UnsafeContinuation<Frame?, Error>?
    private var end: Result<Void, Error>?
    private var closed = false

    init(capacity: Int) { self.capacity = capacity }

    var isClosed: Bool {
        condition.lock(); defer { condition.unlock() }
        return closed
    }

    var depth: Int {
        condition.lock(); defer { condition.unlock() }
        return buffer.count
    }

    func push(_ frame: Frame, dropOldest: Bool) -> PushResult {
        condition.lock()
        while true {
            if closed { condition.unlock(); return .closed }
            if let waiter {
                self.waiter = nil
                condition.unlock()
                waiter.resume(returning: frame)
                return .queued
            }
            if buffer.count < capacity {
                buffer.append(frame)
                condition.unlock()
                return .queued
            }
            if dropOldest {
                buffer.removeFirst()
                buffer.append(frame)
                condition.unlock()
                return .replacedOldest
            }
            condition.wait()
        }
    }

    /// The producer is done; the consumer drains what is queued, then sees the end (or `error`).
    func finish(_ error: Error?) {
        condition.lock()
        if end == nil { end = error.map { .failure($0) } ?? .success(()) }
        guard buffer.isEmpty, let waiter else { condition.unlock(); return }
        self.waiter = nil
        let result = takeEnd()
        condition.unlock()
        waiter.resume(with: result)
    }

    /// Stops both sides: queued frames are discarded, a waiting consumer gets nil, a blocked producer returns.
    func close() {
        condition.lock()
        closed = true
        buffer.removeAll()
        let waiter = self.waiter
        self.waiter = nil
        condition.broadcast()
        condition.unlock()
        waiter?.resume(returning: nil)
    }

    /// Sleeps on the producer thread; returns false early if the channel is closed meanwhile.
    func sleep(_ seconds: TimeInterval) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock(); defer { condition.unlock() }
        while !closed && condition.wait(until: deadline) {}
        return !closed
    }

    func next() async throws -> Frame? {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Frame?, Error>) in
                condition.lock()
                if !buffer.isEmpty {
                    let frame = buffer.removeFirst()
                    condition.broadcast()
                    condition.unlock()
                    continuation.resume(returning: frame)
                } else if closed || end != nil {
                    let result = closed ? .success(nil) : takeEnd()
                    condition.unlock()
                    continuation.resume(with: result)
                } else {
                    waiter = continuation
                    condition.unlock()
                }
            }
        } onCancel: {
            close()
        }
    }

    /// The end as the consumer sees it: an error is reported once, then the sequence simply ends.
    private func takeEnd() -> Result<Frame?, Error> {
        guard case .failure(let error)? = end else { return .success(nil) }
        end = .success(())
        return .failure(error)
    }
}
