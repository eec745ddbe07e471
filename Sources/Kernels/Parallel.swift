import Dispatch

/// Data parallelism over raw buffers: `body(i)` for i in 0..<iterations, concurrently, returning when every
/// iteration has ended. The caller's contract, as with every kernel here: iterations write disjoint slices.
public enum Parallel {
    public static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            let shared = Shared(body: body)
            DispatchQueue.concurrentPerform(iterations: iterations) { shared.body($0) }
        }
    }

    // @unchecked Sendable: the iterations touch disjoint data (forEach's contract), and concurrentPerform returns only
    // after all of them, so nothing the body captures is used after forEach returns.
    private struct Shared: @unchecked Sendable {
        let body: (Int) -> Void
    }
}
