import Foundation
import Synchronization

/// A task executor with one thread of its own, for a CPU-bound stage. A task that prefers it
/// (`group.addTask(executorPreference:)`) runs its synchronous work (a ViT forward, a fit) right there: the stage's
/// runner, scorer or trainer, scratch buffers that are not Sendable, stays a local of that task and never crosses
/// isolation, and the long computation keeps off the cooperative pool, whose few threads the queues, timers and
/// the publisher need. `shutdown()` ends the thread once the tasks that prefer it have ended.
final class ComputeExecutor: TaskExecutor {
    private struct Jobs {
        var queue: [UnownedJob] = []
        var shuttingDown = false
    }

    private let jobs = Mutex(Jobs())
    /// One signal per job enqueued, and one for the shutdown.
    private let ready = DispatchSemaphore(value: 0)

    /// The executor's thread, once it has started.
    private let owner = Mutex<pthread_t?>(nil)

    /// Whether the caller runs on this executor's thread.
    var isCurrent: Bool { owner.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false } }

    init(name: String) {
        let thread = Thread { [self] in
            owner.withLock { $0 = pthread_self() }
            // Named from inside: on Linux, Foundation does not carry a name set before `start()` over to the thread.
            Thread.current.name = name
            serve()
        }
        thread.stackSize = 8 << 20   // a forward's stack frames are small, but a fit's calls run deep
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.queue.append(job) }
        ready.signal()
    }

    /// Ends the thread after the jobs already queued. Call it when no task that prefers this executor is left.
    func shutdown() {
        jobs.withLock { $0.shuttingDown = true }
        ready.signal()
    }

    private func serve() {
        while true {
            ready.wait()
            let (next, done) = jobs.withLock { j in j.queue.isEmpty ? (nil, j.shuttingDown) : (j.queue.removeFirst(), false) }
            if let next {
                next.runSynchronously(on: asUnownedTaskExecutor())
            } else if done {
                return
            }
        }
    }
}
