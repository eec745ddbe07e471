import Foundation

/// What a full queue does with a new element, stated per edge and counted.
public enum OverflowPolicy: String, Sendable {
    /// Live data: the oldest queued element is dropped so the newest survives.
    case dropOldest
    /// Recorded data: the producer waits; nothing is lost.
    case block
}

/// A bounded single-consumer async queue joining two pipeline stages. Drops are counted, never silent.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    public enum Pop { case element(Element), timedOut, finished }

    public let name: String
    public let capacity: Int
    public let policy: OverflowPolicy

    private let lock = NSLock()
    // A ring of optionals: a popped slot is cleared at once, so the queue never keeps consumed frames alive.
    private var ring: [Element?]
    private var head = 0
    private var count = 0
    private var consumer: (id: UInt64, continuation: CheckedContinuation<Pop, Never>)?
    private var producers: [(id: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
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

    public var depth: Int { lock.withLock { count } }
    public var dropped: Int { lock.withLock { droppedCount } }
    public var isFinished: Bool { lock.withLock { finished } }

    /// Adds an element. Returns false when the queue is finished or the task cancelled (the element is discarded).
    @discardableResult
    public func push(_ element: Element) async -> Bool {
        while true {
            if let accepted = tryPush(element) { return accepted }
            let id = lock.withLock { nextID() }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in waitForSpace(id, c) }
            } onCancel: {
                self.wakeProducer(id)
            }
            if Task.isCancelled { return false }
        }
    }

    /// The next element, waiting for one; nil once the queue is finished and drained, or the task is cancelled.
    public func pop() async -> Element? {
        if case .element(let e) = await pop(deadline: nil) { return e }
        return nil
    }

    /// The next element, or `.timedOut` at `deadline`, or `.finished`.
    public func pop(deadline: ContinuousClock.Instant?) async -> Pop {
        if let ready = tryPop() { return ready }
        let id = lock.withLock { nextID() }
        var disarm: (@Sendable () -> Void)?
        defer { disarm?() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Pop, Never>) in
                // Registered first, armed second: an alarm that fires at once still finds the consumer to wake.
                guard waitForElement(id, c, deadline: deadline), let deadline else { return }
                disarm = alarm(deadline) { [weak self] in self?.resumeConsumer(id, with: .timedOut) }
            }
        } onCancel: {
            self.resumeConsumer(id, with: .finished)
        }
    }

    /// nil when the producer has to wait for space.
    private func tryPush(_ element: Element) -> Bool? {
        lock.lock()
        if finished || Task.isCancelled { lock.unlock(); return false }
        if let c = consumer {
            consumer = nil
            lock.unlock()
            c.continuation.resume(returning: .element(element))
            return true
        }
        if count < capacity || policy == .dropOldest {
            if count == capacity {
                ring[head] = nil
                head = (head + 1) % capacity
                count -= 1
                droppedCount += 1
            }
            ring[(head + count) % capacity] = element
            count += 1
            lock.unlock()
            return true
        }
        lock.unlock()
        return nil
    }

    /// nil when the consumer has to wait.
    private func tryPop() -> Pop? {
        lock.lock()
        if let (e, waiting) = takeLocked() {
            lock.unlock()
            waiting?.resume()
            return .element(e)
        }
        let done = finished || Task.isCancelled
        lock.unlock()
        return done ? .finished : nil
    }

    /// Takes the oldest element and the producer its slot frees, if any. Caller holds the lock.
    private func takeLocked() -> (Element, CheckedContinuation<Void, Never>?)? {
        guard count > 0, let e = ring[head] else { return nil }
        ring[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return (e, producers.isEmpty ? nil : producers.removeFirst().continuation)
    }

    // Registration re-checks under the lock: space, an element, the end or a cancellation may have come meanwhile.
    private func waitForSpace(_ id: UInt64, _ c: CheckedContinuation<Void, Never>) {
        lock.lock()
        if finished || Task.isCancelled || count < capacity || consumer != nil {
            lock.unlock()
            c.resume()
            return
        }
        producers.append((id, c))
        lock.unlock()
    }

    /// False when the consumer was resumed at once (an element, the end, or a deadline already past).
    private func waitForElement(_ id: UInt64, _ c: CheckedContinuation<Pop, Never>, deadline: ContinuousClock.Instant?) -> Bool {
        lock.lock()
        if let (e, waiting) = takeLocked() {
            lock.unlock()
            waiting?.resume()
            c.resume(returning: .element(e))
            return false
        }
        if finished || Task.isCancelled {
            lock.unlock()
            c.resume(returning: .finished)
            return false
        }
        if let deadline, ContinuousClock.now >= deadline {
            lock.unlock()
            c.resume(returning: .timedOut)
            return false
        }
        consumer = (id, c)
        lock.unlock()
        return true
    }

    /// No more elements will come: the consumer drains what is queued, then sees the end; producers return false.
    public func finish() {
        lock.lock()
        finished = true
        let c = consumer
        consumer = nil
        let waiting = producers
        producers.removeAll()
        lock.unlock()
        c?.continuation.resume(returning: .finished)
        waiting.forEach { $0.continuation.resume() }
    }

    private func nextID() -> UInt64 { nextWaiterID += 1; return nextWaiterID }

    private func resumeConsumer(_ id: UInt64, with value: Pop) {
        lock.lock()
        guard let c = consumer, c.id == id else { lock.unlock(); return }
        consumer = nil
        lock.unlock()
        c.continuation.resume(returning: value)
    }

    private func wakeProducer(_ id: UInt64) {
        lock.lock()
        guard let i = producers.firstIndex(where: { $0.id == id }) else { lock.unlock(); return }
        let p = producers.remove(at: i)
        lock.unlock()
        p.continuation.resume()
    }
}
