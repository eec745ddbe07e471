import Foundation
import XCTest
@testable import Pipeline

/// The infer stage's executor: a task that prefers it runs there from its first line and comes back there after
/// every suspension (an actor hop, a sleep), so its non-Sendable scorer is only ever used on that one thread.
final class ComputeExecutorTests: XCTestCase {
    actor Elsewhere {
        func touch() {}
    }

    func testAPreferringTaskRunsOnTheExecutorsThreadAcrossSuspensions() async throws {
        let executor = ComputeExecutor(name: "compute-test")
        defer { executor.shutdown() }
        let elsewhere = Elsewhere()
        let seen = try await withThrowingTaskGroup(of: [Bool].self) { group in
            group.addTask(executorPreference: executor) {
                var seen = [executor.isCurrent]
                await elsewhere.touch()
                seen.append(executor.isCurrent)
                try await Task.sleep(for: .milliseconds(10))
                seen.append(executor.isCurrent)
                return seen
            }
            return try await group.next()!
        }
        // By the thread's identity: Foundation's `Thread.current.name` read a pool thread's name here in one full
        // debug run while the same test passed alone.
        XCTAssertEqual(seen, [true, true, true])
        XCTAssertFalse(executor.isCurrent, "the test itself runs elsewhere")
    }

    func testEveryJobRunsAndTheThreadEndsAfterShutdown() async {
        // The thread holds the executor until it leaves its loop: the executor goes away only when the thread has ended.
        weak var released: ComputeExecutor?
        do {
            let executor = ComputeExecutor(name: "compute-order")
            released = executor
            let ran = await withTaskGroup(of: Int.self, returning: [Int].self) { group in
                for i in 0..<20 {
                    group.addTask(executorPreference: executor) { i }
                }
                var all: [Int] = []
                for await i in group { all.append(i) }
                return all
            }
            XCTAssertEqual(ran.sorted(), Array(0..<20))
            executor.shutdown()
        }
        let ended = await eventually { released == nil }
        XCTAssertTrue(ended, "the executor's thread is still running after shutdown")
    }

    private func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<100 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}
