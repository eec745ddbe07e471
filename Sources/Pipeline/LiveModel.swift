import Detector
import Foundation
import Logging
import Publisher
import Synchronization

/// The one owner of a pipeline's live model: the versioned store on disk, the bundle detection uses, installing a
/// new one, following the store's `current` link (so `anomalyd model rollback` takes effect in a running daemon
/// whether or not refit is enabled), and announcing every change on `anomaly/<pipeline>/model`. Learning and refit
/// only produce bundles and hand them here; the infer stage only reads `current`.
public actor LiveModel {
    public nonisolated let pipeline: String
    public nonisolated let store: ModelStore
    let publisher: EventPublisher
    let logger: Logger
    private var bundle: ModelBundle?
    /// While a promotion moves the `current` link, the link is not a rollback to follow.
    private var promoting = false
    /// What synchronous readers (status, metrics, the refit schedule) see of the live model.
    private nonisolated let seen = Mutex<Seen>(Seen())

    struct Seen {
        var version: String?
        var rolledBackAt: Date?
    }

    public init(store: ModelStore, pipeline: String, publisher: EventPublisher, logger: Logger) {
        self.store = store
        self.pipeline = pipeline
        self.publisher = publisher
        self.logger = logger
    }

    /// The bundle detection uses now; nil while the pipeline learns.
    public var current: ModelBundle? { bundle }

    /// The live version, for readers that cannot wait (status and metrics).
    public nonisolated var version: String? { seen.withLock { $0.version } }

    /// When the live model last changed by a rollback: the refit schedule restarts from it, so the older model is
    /// not refitted away at once.
    public nonisolated var rolledBackAt: Date? { seen.withLock { $0.rolledBackAt } }

    /// Installs the stored current version, if there is one that loads (a restart detects at once).
    @discardableResult
    public func loadStored() async -> ModelBundle? {
        let store = self.store
        guard let stored = try? await offload(qos: .utility, { store.load() }) else { return nil }
        install(stored)
        return stored
    }

    /// Saves `candidate` as the new current version and makes it live, unless the live version is no longer
    /// `expected` (a rollback came while it trained): then nothing changes and the result is false.
    public func promote(_ candidate: ModelBundle, replacing expected: String?) async throws -> Bool {
        guard !promoting, bundle?.metadata.modelVersion == expected else { return false }
        promoting = true
        defer { promoting = false }
        let store = self.store
        // Writing and fsyncing a bundle blocks: off the cooperative pool.
        try await offload(qos: .utility) { _ = try store.promote(candidate) }
        install(candidate)
        return true
    }

    /// Publishes a change on `anomaly/<pipeline>/model` (refit outcomes come from the refitter through here).
    public func announce(_ change: ModelChange) async {
        do {
            try await publisher.announce(change, pipeline: pipeline)
        } catch {
            logger.warning("cannot publish the model change", metadata: ["error": "\(error)"])
        }
    }

    /// Every couple of seconds, until cancelled: has the store's `current` link moved (a rollback)?
    public func follow(every interval: Duration = .seconds(2)) async {
        while !Task.isCancelled {
            await followStore()
            try? await Task.sleep(for: interval)
        }
    }

    /// Installs the version `current` points at when it is not the live one and no promotion is moving the link.
    func followStore() async {
        guard !promoting, let live = bundle?.metadata.modelVersion, let version = store.currentVersion(), version != live
        else { return }
        let store = self.store
        do {
            let loaded = try await offload(qos: .utility) { try store.load(version: version) }
            // A promotion may have started while the bundle loaded; it wins.
            guard !promoting, bundle?.metadata.modelVersion == live else { return }
            install(loaded)
            seen.withLock { $0.rolledBackAt = Date() }
            logger.notice("model rolled back", metadata: ["model": "\(version)", "was": "\(live)"])
            await announce(ModelChange(action: .rolledBack, version: version, previousVersion: live))
        } catch {
            logger.error("cannot load the stored current model; keeping the live one",
                         metadata: ["model": "\(version)", "error": "\(error)"])
        }
    }

    private func install(_ new: ModelBundle) {
        bundle = new
        seen.withLock { $0.version = new.metadata.modelVersion }
    }
}
