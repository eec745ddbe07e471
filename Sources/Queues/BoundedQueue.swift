import Foundation

/// What a full queue does with a new element, stated per edge and counted.
public enum OverflowPolicy: String, Sendable {
    /// Live data: the oldest queued element is dropped so the newest survives.
    case dropOldest
    /// Recorded data: the producer waits; nothing is lost.
    case block
}

/// A bounded single-consumer queue: the one queue of an edge between two stages, with the edge's one overflow
/// policy and its one drop counter. Drops are counted, never silent.
///
/// Producers push from a task (`push`) or from a thread of their own (`blockingPush`: FFmpeg's decoder, which must
/// not occupy the cooperative pool); the consumer pops from a task. Finishing ends the edge from either side: the
/// producer has no more (the consumer drains what is queued, then sees the end), or the consumer is gone (`finish()`
/// from its side, or a cancelled pop), which releases a producer blocked on a full queue.
// @unchecked Sendable: every stored `var` is guarded by `condition`.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    public enum Pop: Sendable { case element(Element), timedOut, finished }

    public let name: String
    public let capacity: Int
    public let policy: OverflowPolicy

    /// The lock, and what producer threads wait on (for space, or in `waitForFinish`).
    private let condition = NSCondition()
    // A ring of optionals: a popped slot is cleared at once, so the queue never keeps consumed frames alive.
    private var ring: [Element?]
    private var head = 0
    private var count = 0
    private var consumer: (id: UInt64, continuation: CheckedContinuation<Pop, Never>)?
    private var producers: [(id: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    private var blockedThreads = 0
    private var nextWaiterID: UInt64 = 0
    private var finished = false
    private var droppedCount = 0
    private let alarm: Alarm

    /// How `pop(deadline:)` is woken at its deadline: `fire` runs then, unless the returned cancel runs first.
    /// Tests replace it to force orderings that a real timer produces only by chance.
    typealias Alarm = @Sendable (ContinuousClock.Instant, _ fire: @escaping @Sendable () -> Void) -> @Sendable () -> Void

    static var sleepingAlarm: Alarm {
        { deadline, fire in
            let task = Task {
                guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                fire()
            }
            return { task.cancel() }
        }
    }

    public convenience init(name: String, capacity: Int, policy: OverflowPolicy) {
        self.init(name: name, capacity: capacity, policy: policy, alarm: Self.sleepingAlarm)
    }

    init(name: String, capacity: Int, policy: OverflowPolicy, alarm: @escaping Alarm) {
        precondition(capacity >= 1)
        self.name = name
        self.capacity = capacity
        self.policy = policy
        self.alarm = alarm
        ring = Array(repeating: nil, count: capacity)
    }

    public var depth: Int { condition.withLock { count } }
    public var dropped: Int { condition.withLock { droppedCount } }
    public var isFinished: Bool { condition.withLock { finished } }

    // MARK: Producers

    /// Adds an element, waiting for space under `.block`. Returns false when the queue is finished or the task
    /// cancelled (the element is discarded).
    @discardableResult
    public func push(_ element: Element) async -> Bool {
        while true {
            let offer = condition.withLock { Task.isCancelled ? .refused : offerLocked(element) }
            switch offer {
            case .taken(let waiting):
                waiting?.resume(returning: .element(element))
                return true
            case .refused:
                return false
            case .full:
                let id = condition.withLock { nextID() }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in waitForSpace(id, c) }
                } onCancel: {
                    self.wakeProducer(id)
                }
            }
        }
    }

    /// `push` for a producer on a thread of its own: under `.block` it waits on that thread while the queue is full.
    /// Never call it from a task. Returns false once the queue is finished (the element is discarded).
    public func blockingPush(_ element: Element) -> Bool {
        condition.lock()
        while true {
            switch offerLocked(element) {
            case .taken(let waiting):
                condition.unlock()
                waiting?.resume(returning: .element(element))
                return true
            case .refused:
                condition.unlock()
                return false
            case .full:
                blockedThreads += 1
                condition.wait()
                blockedThreads -= 1
            }
        }
    }

    /// Blocks the calling thread until the queue is finished or `seconds` have passed; true if it is finished.
    /// A producer thread paces itself and backs off with it, so that finishing the queue stops it at once.
    public func waitForFinish(timeout seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !finished && condition.wait(until: deadline) {}
        return finished
    }

    private enum Offer {
        /// Queued, or handed straight to the waiting consumer (to be resumed once the lock is released).
        case taken(CheckedContinuation<Pop, Never>?)
        case refused
        case full
    }

    /// Caller holds the lock.
    private func offerLocked(_ element: Element) -> Offer {
        if finished { return .refused }
        if let c = consumer {
            consumer = nil
            return .taken(c.continuation)
        }
        if count == capacity {
            guard policy == .dropOldest else { return .full }
            ring[head] = nil
            head = (head + 1) % capacity
            count -= 1
            droppedCount += 1
        }
        ring[(head + count) % capacity] = element
        count += 1
        return .taken(nil)
    }

    // Registration re-checks under the lock: space, the consumer, the end or a cancellation may have come meanwhile.
    private func waitForSpace(_ id: UInt64, _ c: CheckedContinuation<Void, Never>) {
        condition.lock()
        if finished || Task.isCancelled || count < capacity || consumer != nil {
            condition.unlock()
            c.resume()
            return
        }
        producers.append((id, c))
        condition.unlock()
    }

    private func wakeProducer(_ id: UInt64) {
        condition.lock()
        guard let i = producers.firstIndex(where: { $0.id == id }) else { condition.unlock(); return }
        let p = producers.remove(at: i)
        condition.unlock()
        p.continuation.resume()
    }

    // MARK: The consumer

    /// The next element, waiting for one; nil once the queue is finished and drained, or the task is cancelled.
    public func pop() async -> Element? {
        if case .element(let e) = await pop(deadline: nil) { return e }
        return nil
    }

    /// The next element, or `.timedOut` at `deadline`, or `.finished`. A cancelled pop finishes the queue: the
    /// single consumer has gone, so nothing the producer would add could be read.
    public func pop(deadline: ContinuousClock.Instant?) async -> Pop {
        let id = condition.withLock { nextID() }
        var disarm: (@Sendable () -> Void)?
        defer { disarm?() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Pop, Never>) in
                // Registered first, armed second: an alarm that fires at once still finds the consumer to wake.
                guard waitForElement(id, c, deadline: deadline), let deadline else { return }
                disarm = alarm(deadline) { [weak self] in self?.resumeConsumer(id, with: .timedOut) }
            }
        } onCancel: {
            self.finish()
        }
    }

    /// Resumes the consumer at once when it can (an element, the end, or a deadline already past) and returns
    /// false; otherwise records it as waiting.
    private func waitForElement(_ id: UInt64, _ c: CheckedContinuation<Pop, Never>, deadline: ContinuousClock.Instant?) -> Bool {
        condition.lock()
        if Task.isCancelled {
            let producers = finishLocked()
            condition.unlock()
            producers.forEach { $0.resume() }
            c.resume(returning: .finished)
            return false
        }
        if count > 0, let e = ring[head] {
            ring[head] = nil
            head = (head + 1) % capacity
            count -= 1
            // The freed slot goes to one waiting producer, task or thread; the other kind simply finds it taken.
            let producer = producers.isEmpty ? nil : producers.removeFirst().continuation
            if blockedThreads > 0 { condition.broadcast() }
            condition.unlock()
            producer?.resume()
            c.resume(returning: .element(e))
            return false
        }
        if finished || deadline.map({ ContinuousClock.now >= $0 }) == true {
            let end: Pop = finished ? .finished : .timedOut
            condition.unlock()
            c.resume(returning: end)
            return false
        }
        consumer = (id, c)
        condition.unlock()
        return true
    }

    private func resumeConsumer(_ id: UInt64, with value: Pop) {
        condition.lock()
        guard let c = consumer, c.id == id else { condition.unlock(); return }
        consumer = nil
        condition.unlock()
        c.continuation.resume(returning: value)
    }

    // MARK: The end

    /// No more elements will be read or written: the consumer drains what is queued, then sees the end; waiting
    /// producers, tasks and threads, return false.
    public func finish() {
        condition.lock()
        let c = consumer
        consumer = nil
        let producers = finishLocked()
        condition.unlock()
        c?.continuation.resume(returning: .finished)
        producers.forEach { $0.resume() }
    }

    /// Marks the end and wakes the producer threads; returns the producer tasks to resume once the lock is released.
    private func finishLocked() -> [CheckedContinuation<Void, Never>] {
        finished = true
        condition.broadcast()
        defer { producers.removeAll() }
        return producers.map(\.continuation)
    }

    private func nextID() -> UInt64 { nextWaiterID += 1; return nextWaiterID }
}
