import Checkpoint
import Detector
import Engine
import Foundation
import Logging
import XCTest
@testable import Pipeline

/// The versioned model store: promotion, the kept previous version, rollback, pruning and the move from the
/// single-bundle layout. Real bundles (Gaussian-only, 16 wide) against a real tiny teacher checkpoint.
final class ModelStoreTests: XCTestCase {
    private var directory = ""
    private var models: TinyModels!
    private var teacherPath: String { models.teacherPath }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("modelstore-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        models = try TinyModels(in: directory)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func store() -> ModelStore { ModelStore(stateDir: directory + "/state", teacherPath: teacherPath, logger: Logger(label: "test")) }

    private func bundle(_ n: Int) throws -> ModelBundle { try models.bundle(n) }

    func testPromotionKeepsThePreviousVersionAndRollbackSwapsThem() throws {
        let s = store()
        XCTAssertNil(s.load())
        XCTAssertThrowsError(try s.rollback()) { XCTAssertTrue("\($0)".contains("no previous model version"), "\($0)") }
        let (a, b, c) = (try bundle(1), try bundle(2), try bundle(3))
        XCTAssertNil(try s.promote(a))
        XCTAssertEqual(try s.promote(b), a.metadata.modelVersion)
        XCTAssertEqual(s.currentVersion(), b.metadata.modelVersion)
        XCTAssertEqual(s.previousVersion(), a.metadata.modelVersion)
        XCTAssertEqual(try s.promote(c), b.metadata.modelVersion)
        // Only current and previous are kept.
        XCTAssertEqual(s.list().map(\.version), [c, b].map(\.metadata.modelVersion))
        XCTAssertEqual(s.list().map(\.isCurrent), [true, false])
        XCTAssertEqual(s.list().map(\.isPrevious), [false, true])
        XCTAssertEqual(s.list().map(\.createdAt), [c, b].map(\.metadata.createdAt), "read from metadata.json")

        let (from, to) = try s.rollback()
        XCTAssertEqual(from, c.metadata.modelVersion)
        XCTAssertEqual(to, b.metadata.modelVersion)
        XCTAssertEqual(s.load()?.metadata.modelVersion, b.metadata.modelVersion)
        XCTAssertEqual(s.previousVersion(), c.metadata.modelVersion, "rolling back again returns to the newer model")
        // A fresh store object (another process: `anomalyd model rollback`) sees the same.
        XCTAssertEqual(store().load()?.metadata.modelVersion, b.metadata.modelVersion)
    }

    func testTheSingleBundleLayoutIsMigrated() throws {
        let a = try bundle(1)
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        try a.save(to: directory + "/state/model")
        let s = store()
        XCTAssertEqual(s.load()?.metadata.modelVersion, a.metadata.modelVersion)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/state/model"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.root + "/" + a.metadata.modelVersion + "/metadata.json"))
        XCTAssertEqual(s.currentVersion(), a.metadata.modelVersion)
    }

    func testACrashBeforeTheLinkSwitchLeavesTheCurrentModel() throws {
        let s = store()
        let (a, b) = (try bundle(1), try bundle(2))
        try s.promote(a)
        // What a crash after writing the new bundle but before switching `current` leaves behind.
        try b.save(to: s.root + "/" + b.metadata.modelVersion)
        try? FileManager.default.removeItem(atPath: s.root + "/.tmp-current")
        XCTAssertTrue(symlink("nowhere", s.root + "/.tmp-current") == 0)
        XCTAssertEqual(store().load()?.metadata.modelVersion, a.metadata.modelVersion)
        // The next promotion prunes the orphan.
        let c = try bundle(3)
        try s.promote(c)
        XCTAssertEqual(Set(s.list().map(\.version)), [a, c].map(\.metadata.modelVersion).reduce(into: Set<String>()) { $0.insert($1) })
    }

    func testWhatAnInterruptedSaveLeavesIsRemoved() throws {
        let s = store()
        let (a, b) = (try bundle(1), try bundle(2))
        try s.promote(a)
        // A crash while saving b: its staging directory, half written; and one while switching a link.
        let staging = s.root + "/." + b.metadata.modelVersion + ".tmp-Qx81Lk"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        try Data("{".utf8).write(to: URL(fileURLWithPath: staging + "/metadata.json"))
        XCTAssertEqual(symlink(b.metadata.modelVersion, s.root + "/.current.tmp-9zz1"), 0)
        // The next start removes them and keeps the model.
        XCTAssertEqual(store().load()?.metadata.modelVersion, a.metadata.modelVersion)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: s.root).sorted(), [a.metadata.modelVersion, "current"])
        // So does a promotion (of another version than the one that left it).
        let orphan = s.root + "/.20270101T000000Z-0a1b2c.old-Zz0Zz0"
        try FileManager.default.createDirectory(atPath: orphan, withIntermediateDirectories: false)
        try s.promote(b)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: s.root).sorted(),
                       [a.metadata.modelVersion, b.metadata.modelVersion, "current", "previous"].sorted())
    }

    func testABundleThatDoesNotLoadIsMovedAside() throws {
        let s = store()
        let a = try bundle(1)
        try s.promote(a)
        try "{".write(toFile: s.root + "/" + a.metadata.modelVersion + "/calibration.json", atomically: true, encoding: .utf8)
        XCTAssertNil(s.load())
        XCTAssertNil(s.currentVersion())
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: s.root).contains { $0.contains(".rejected-") })
    }
}
