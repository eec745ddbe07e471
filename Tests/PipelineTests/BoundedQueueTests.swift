import XCTest
@testable import Pipeline

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

    func testFinishReleasesABlockedProducer() async {
        let q = BoundedQueue<Int>(name: "file", capacity: 1, policy: .block)
        await q.push(1)
        let blocked = Task { await q.push(2) }
        try? await Task.sleep(for: .milliseconds(20))
        q.finish()
        let accepted = await blocked.value
        XCTAssertFalse(accepted)
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
}
