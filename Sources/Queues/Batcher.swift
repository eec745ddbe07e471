/// Groups a stream into batches of up to `maxCount`, or fewer once the batch's first element has waited `maxWait`:
/// a full batch uses the engine best, a partial one bounds the latency a quiet source adds.
public struct Batcher<Element: Sendable>: Sendable {
    public let maxCount: Int
    public let maxWait: Duration

    public init(maxCount: Int, maxWait: Duration) {
        precondition(maxCount >= 1)
        self.maxCount = maxCount
        self.maxWait = maxWait
    }

    /// The next batch from `queue`; nil when the queue has finished and nothing is left.
    public func next(from queue: BoundedQueue<Element>) async -> [Element]? {
        guard let first = await queue.pop() else { return nil }
        var batch = [first]
        let deadline = ContinuousClock.now + maxWait
        while batch.count < maxCount {
            guard case .element(let e) = await queue.pop(deadline: deadline) else { break }
            batch.append(e)
        }
        return batch
    }
}
