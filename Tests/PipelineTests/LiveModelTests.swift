import Checkpoint
import Detector
import Engine
import Foundation
import Logging
import Publisher
import XCTest
@testable import Pipeline

/// The live model's owner: it follows a rollback made on disk and announces it, and refuses a promotion built from
/// a model that is no longer live. Real Gaussian-only bundles against a tiny real teacher checkpoint, a bound
/// ZeroMQ publisher and a subscriber.
final class LiveModelTests: XCTestCase {
    private var directory = ""
    private var models: TinyModels!
    private var teacherPath: String { models.teacherPath }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("livemodel-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        models = try TinyModels(in: directory)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func bundle(_ n: Int) throws -> ModelBundle { try models.bundle(n) }

    private func live() throws -> (LiveModel, EventPublisher) {
        var settings = PublisherSettings()
        settings.endpoint = "tcp://127.0.0.1:*"
        let publisher = try EventPublisher(settings: settings)
        let store = ModelStore(stateDir: directory + "/state", teacherPath: teacherPath, logger: Logger(label: "test"))
        return (LiveModel(store: store, pipeline: "belt", publisher: publisher, logger: Logger(label: "test")), publisher)
    }

    /// `anomalyd model rollback` only moves the `current` link; the live model follows it and says so, with no
    /// refitter involved (the follower used to live in the refitter, which is off by default).
    func testFollowsARollbackMadeOnDiskAndAnnouncesIt() async throws {
        let (live, publisher) = try live()
        try await publisher.register(pipeline: "belt")
        let (a, b) = (try bundle(1), try bundle(2))
        try live.store.promote(a)
        try live.store.promote(b)
        let loaded = await live.loadStored()
        XCTAssertEqual(loaded?.metadata.modelVersion, b.metadata.modelVersion)
        XCTAssertEqual(live.version, b.metadata.modelVersion)

        let subscriber = try EventSubscriber(endpoint: publisher.endpoint, prefixes: ["anomaly/belt/model"])
        defer { subscriber.close() }
        try await Task.sleep(for: .milliseconds(300))   // the subscription reaches the publisher
        let following = Task { await live.follow(every: .milliseconds(50)) }
        defer { following.cancel() }
        XCTAssertEqual(try live.store.rollback().to, a.metadata.modelVersion)

        let deadline = Date().addingTimeInterval(10)
        while live.version != a.metadata.modelVersion, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertEqual(live.version, a.metadata.modelVersion)
        let current = await live.current
        XCTAssertEqual(current?.metadata.modelVersion, a.metadata.modelVersion)
        XCTAssertNotNil(live.rolledBackAt)

        var action: String?
        while action == nil, Date() < deadline, let parts = try subscriber.receive() {
            let json = try JSONSerialization.jsonObject(with: parts[1]) as? [String: Any]
            action = json?["action"] as? String
            XCTAssertEqual(json?["version"] as? String, a.metadata.modelVersion)
            XCTAssertEqual(json?["previous_version"] as? String, b.metadata.modelVersion)
        }
        XCTAssertEqual(action, "rolled_back")
        await publisher.close()
    }

    /// A candidate trained from a model that a rollback has since replaced never goes live.
    func testPromotionFromAModelNoLongerLiveIsRefused() async throws {
        let (live, publisher) = try live()
        let (a, b, c) = (try bundle(1), try bundle(2), try bundle(3))
        let first = try await live.promote(a, replacing: nil)
        XCTAssertTrue(first)
        let stale = try await live.promote(b, replacing: "some-other-version")
        XCTAssertFalse(stale)
        XCTAssertEqual(live.version, a.metadata.modelVersion)
        XCTAssertEqual(live.store.currentVersion(), a.metadata.modelVersion, "nothing was written")
        let next = try await live.promote(c, replacing: a.metadata.modelVersion)
        XCTAssertTrue(next)
        XCTAssertEqual(live.store.previousVersion(), a.metadata.modelVersion)
        await publisher.close()
    }
}
