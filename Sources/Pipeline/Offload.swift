import Dispatch

/// Runs CPU-bound work (a ViT forward, a training run) on a Dispatch thread instead of Swift concurrency's small
/// cooperative pool, whose threads must stay free for the stages' queues, timers and the publisher.
func offload<T: Sendable>(qos: DispatchQoS.QoSClass = .userInitiated, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        DispatchQueue.global(qos: qos).async {
            do { c.resume(returning: try work()) } catch { c.resume(throwing: error) }
        }
    }
}
