import Foundation
import XCTest
@testable import Queues

final class BoundedQueueTests: XCTestCase {
    func testDropOldestKeepsTheNewestAndCountsDrops() async {
        let q = BoundedQueue<Int>(name: "frames", capacity: 3, policy: .dropOldest)
        for i in 0..<10 { await q.push(i) }
        XCTAssertEqual(q.dropped, 7)
        XCTAssertEqual(q.depth, 3)
        q.finish()
        var got: [Int] = []
        while let v = await q.pop() { got.append(v) }
        XCTAssertEqual(got, [7, 8, 9])
    }

    func testBlockPolicyLosesNothingWithASlowConsumer() async {
        let q = BoundedQueue<Int>(name: "file", capacity: 2, policy: .block)
        let producer = Task {
            for i in 0..<200 { await q.push(i) }
            q.finish()
        }
        var got: [Int] = []
        while let v = await q.pop() {
            got.append(v)
            if v % 50 == 0 { try? await Task.sleep(for: .milliseconds(5)) }
        }
        await producer.value
        XCTAssertEqual(got, Array(0..<200))
        XCTAssertEqual(q.dropped, 0)
    }

    func testPopTimesOutAndCancellationReturnsPromptly() async {
        let q = BoundedQueue<Int>(name: "idle", capacity: 1, policy: .block)
        let start = ContinuousClock.now
        let r = await q.pop(deadline: .now + .milliseconds(50))
        guard case .timedOut = r else { return XCTFail("expected a time-out, got \(r)") }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))

        let waiter = Task { await q.pop() }
        try? await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        let v = await waiter.value
        XCTAssertNil(v)
    }

    /// An alarm that fires the moment it is armed: the extreme of a deadline that passes, or of a pool thread that
    /// runs the timer, before the consumer has registered. The time-out must still reach the consumer; a lost one
    /// leaves it waiting for the next element, forever if the source has stalled.
    func testATimeOutFiringBeforeTheConsumerWaitsIsNotLost() async {
        let q = BoundedQueue<Int>(name: "frames", capacity: 1, policy: .block, alarm: { _, fire in fire(); return {} })
        let r = await popBounded(q, deadline: .now + .seconds(3600))
        guard case .timedOut = r else { return XCTFail("the time-out was lost: got \(r), and only because the test finished the queue") }
    }

    func testFinishReleasesABlockedProducer() async {
        let q = BoundedQueue<Int>(name: "file", capacity: 1, policy: .block)
        await q.push(1)
        let blocked = Task { await q.push(2) }
        try? await Task.sleep(for: .milliseconds(20))
        q.finish()
        let accepted = await blocked.value
        XCTAssertFalse(accepted)
    }

    func testAProducerThreadUnderBlockLosesNothing() async {
        let q = BoundedQueue<Int>(name: "file", capacity: 2, policy: .block)
        async let producer: Void = onThread {
            for i in 0..<200 { _ = q.blockingPush(i) }
            q.finish()
        }
        var got: [Int] = []
        while let v = await q.pop() {
            got.append(v)
            if v % 50 == 0 { try? await Task.sleep(for: .milliseconds(5)) }
        }
        await producer
        XCTAssertEqual(got, Array(0..<200))
        XCTAssertEqual(q.dropped, 0)
    }

    func testAProducerThreadUnderDropOldestNeverWaits() {
        let q = BoundedQueue<Int>(name: "live", capacity: 2, policy: .dropOldest)
        for i in 0..<10 { XCTAssertTrue(q.blockingPush(i)) }
        XCTAssertEqual(q.dropped, 8)
        XCTAssertEqual(q.depth, 2)
    }

    /// A decoder thread waiting for room is released when the consumer's side finishes the queue, or when the
    /// consumer is cancelled (its next pop finishes the queue): it must not wait for a reader that is gone.
    func testAWaitingProducerThreadIsReleasedWhenTheConsumerGoes() async {
        for cancelled in [false, true] {
            let q = BoundedQueue<Int>(name: "file", capacity: 1, policy: .block)
            XCTAssertTrue(q.blockingPush(1))
            async let second = onThread { q.blockingPush(2) }
            let consumer = Task {
                // Busy with an earlier element until it is cancelled.
                try? await Task.sleep(for: .seconds(60))
                return await q.pop()
            }
            try? await Task.sleep(for: .milliseconds(20))
            if cancelled { consumer.cancel() } else { q.finish() }
            let accepted = await second
            XCTAssertFalse(accepted, cancelled ? "cancelled consumer" : "finished")
            XCTAssertTrue(q.isFinished)
            consumer.cancel()
            let popped = await consumer.value
            XCTAssertNil(popped, "a cancelled consumer takes nothing more")
        }
    }

    func testWaitForFinishEndsAtTheTimeoutOrAtOnceWhenFinished() async {
        let q = BoundedQueue<Int>(name: "live", capacity: 1, policy: .dropOldest)
        XCTAssertFalse(q.waitForFinish(timeout: 0.01))
        async let waited = onThread { () -> (Bool, TimeInterval) in
            let start = Date()
            return (q.waitForFinish(timeout: 60), Date().timeIntervalSince(start))
        }
        try? await Task.sleep(for: .milliseconds(20))
        q.finish()
        let (finished, seconds) = await waited
        XCTAssertTrue(finished)
        XCTAssertLessThan(seconds, 5)
    }

    func testBatcherFillsOrTimesOut() async {
        let q = BoundedQueue<Int>(name: "frames", capacity: 16, policy: .block)
        for i in 0..<5 { await q.push(i) }
        let batcher = Batcher<Int>(maxCount: 4, maxWait: .milliseconds(30))
        let full = await batcher.next(from: q)
        XCTAssertEqual(full, [0, 1, 2, 3])
        let partial = await batcher.next(from: q)   // one left, none coming: waits maxWait, then returns it
        XCTAssertEqual(partial, [4])
        q.finish()
        let end = await batcher.next(from: q)
        XCTAssertNil(end)
    }

    /// A batch whose wait is over before the next pop returns what it has at once: the deadline is already past
    /// when the consumer would register.
    func testABatchWhoseWaitIsOverReturnsWhatItHas() async {
        let q = BoundedQueue<Int>(name: "frames", capacity: 4, policy: .dropOldest)
        await q.push(1)
        let rescue = Task {
            try await Task.sleep(for: .seconds(5))
            q.finish()
        }
        defer { rescue.cancel() }
        let batch = await Batcher<Int>(maxCount: 4, maxWait: .zero).next(from: q)
        XCTAssertEqual(batch, [1])
        XCTAssertFalse(q.isFinished, "returned by its deadline, not by the rescue")
    }

    /// `q.pop(deadline:)`, except that a consumer still waiting after five seconds is released by finishing the queue
    /// (it then sees `.finished`): a lost wake-up fails the test instead of hanging it.
    private func popBounded(_ q: BoundedQueue<Int>, deadline: ContinuousClock.Instant) async -> BoundedQueue<Int>.Pop {
        let rescue = Task {
            try await Task.sleep(for: .seconds(5))
            q.finish()
        }
        defer { rescue.cancel() }
        return await q.pop(deadline: deadline)
    }
}

/// Runs `body` on a thread of its own, as the decoder pushes, and hands back its result. Free, so that an `async let`
/// child calling it does not capture the (non-Sendable) test case.
private func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in Thread { c.resume(returning: body()) }.start() }
}
