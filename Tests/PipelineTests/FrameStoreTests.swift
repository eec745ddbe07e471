import Foundation
import Storage
import XCTest
@testable import Pipeline

/// The on-disk frame store behind the normal buffer and the anomaly evidence, with tiny frames.
final class FrameStoreTests: XCTestCase {
    private var directory = ""
    private let frameBytes = 12

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("framestore-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func open(maxFrames: Int = 100, maxBytes: Int = .max, _ eviction: FrameStore.Eviction = .timeStratified) throws -> FrameStore {
        try FrameStore(directory: directory, frameBytes: frameBytes, maxFrames: maxFrames, maxBytes: maxBytes, eviction: eviction)
    }

    private func frame(_ value: Int) -> [UInt8] { [UInt8](repeating: UInt8(value % 256), count: frameBytes) }
    private func at(_ seconds: Int) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + Double(seconds)) }
    private func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: directory).sorted() }

    func testCapsInFramesAndInBytes() throws {
        let byFrames = try open(maxFrames: 5)
        for i in 0..<20 { try byFrames.add(frame(i), time: at(i)) }
        XCTAssertEqual(byFrames.count, 5)
        XCTAssertEqual(try files().count, 5, "evicted frames leave the disk too")
        try FileManager.default.removeItem(atPath: directory)

        let byBytes = try open(maxFrames: 100, maxBytes: 4 * frameBytes + 5)
        for i in 0..<20 { try byBytes.add(frame(i), time: at(i)) }
        XCTAssertEqual(byBytes.count, 4)
        XCTAssertLessThanOrEqual(byBytes.bytes, 4 * frameBytes + 5)
        XCTAssertEqual(try files().count, 4)
    }

    func testTimeStratifiedEvictionKeepsTheWholePeriod() throws {
        let store = try open(maxFrames: 10)
        for i in 0..<200 { try store.add(frame(i), time: at(i)) }
        let times = store.snapshot.map { Int($0.time.timeIntervalSince(at(0))) }
        XCTAssertEqual(times.count, 10)
        XCTAssertEqual(times.last, 199, "the newest frame is always kept")
        XCTAssertLessThanOrEqual(times.first!, 20, "the early period is still represented: \(times)")
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        XCTAssertLessThanOrEqual(gaps.max()!, 3 * 199 / 9, "frames spread over the period, not clustered: \(times)")

        // The evidence policy keeps the newest instead.
        try FileManager.default.removeItem(atPath: directory)
        let evidence = try open(maxFrames: 10, .oldestFirst)
        for i in 0..<200 { try evidence.add(frame(i), time: at(i)) }
        XCTAssertEqual(evidence.snapshot.map { Int($0.time.timeIntervalSince(at(0))) }, Array(190..<200))
    }

    /// A refit reads the snapshot it took while the buffer goes on thinning itself: frames evicted meanwhile are
    /// skipped (they once failed the refit as "missing"); a frame still indexed whose file is gone is an error.
    func testReadingASnapshotSkipsFramesEvictedSinceAndNoOthers() throws {
        let store = try open(maxFrames: 10)
        for i in 0..<10 { try store.add(frame(i), time: at(i)) }
        let snapshot = store.snapshot
        for i in 10..<15 { try store.add(frame(i), time: at(i)) }
        let kept = snapshot.filter { store.snapshot.contains($0) }
        XCTAssertLessThan(kept.count, snapshot.count, "adding frames evicted some of the snapshot")
        let read = try store.readPresent(snapshot)
        XCTAssertEqual(read.count, kept.count)
        XCTAssertEqual(read.rgb, kept.flatMap { try! store.read($0) })

        try FileManager.default.removeItem(atPath: directory + "/" + kept[0].name)
        XCTAssertThrowsError(try store.readPresent(snapshot)) {
            XCTAssertTrue("\($0)".contains(kept[0].name), "\($0)")
        }
    }

    func testSurvivesReopen() throws {
        let store = try open(maxFrames: 50)
        for i in 0..<7 { try store.add(frame(i), time: at(i * 10)) }
        let before = store.snapshot
        let reopened = try open(maxFrames: 50)
        XCTAssertEqual(reopened.snapshot, before)
        XCTAssertEqual(try reopened.read(before[3]), frame(3))
        XCTAssertTrue(reopened.repaired.isEmpty)
        try reopened.add(frame(99), time: at(1000))
        XCTAssertGreaterThan(reopened.snapshot.last!.seq, before.map(\.seq).max()!, "sequence numbers continue after a reopen")
        XCTAssertEqual(reopened.count(after: at(35)), 4)
        // A smaller cap applies at once on reopen.
        XCTAssertEqual(try open(maxFrames: 3).count, 3)
    }

    func testPartialWritesAreRemovedOnReopen() throws {
        let store = try open()
        for i in 0..<4 { try store.add(frame(i), time: at(i)) }
        // What a crash mid-write leaves: a temporary file (named as AtomicFile names it, or as earlier versions
        // did), or (a foreign copy) a frame file cut short.
        let leftover = directory + "/.000000000005-1800000000005.rgb.tmp-Ab12Cd"
        let legacyLeftover = directory + "/.tmp-000000000007-1800000000007.rgb"
        let cut = directory + "/000000000006-1800000000006.rgb"
        _ = FileManager.default.createFile(atPath: leftover, contents: Data(repeating: 1, count: 5))
        _ = FileManager.default.createFile(atPath: legacyLeftover, contents: Data(repeating: 1, count: 12))
        _ = FileManager.default.createFile(atPath: cut, contents: Data(repeating: 1, count: 7))
        let reopened = try open()
        XCTAssertEqual(reopened.count, 4)
        XCTAssertEqual(reopened.repaired.count, 3, "\(reopened.repaired)")
        XCTAssertTrue(reopened.repaired.contains { $0.contains("7 bytes where a frame has 12") }, "\(reopened.repaired)")
        XCTAssertEqual(try files().count, 4, "only the whole frames are left")
        for (i, e) in reopened.snapshot.enumerated() { XCTAssertEqual(try reopened.read(e), frame(i)) }
    }

    func testAFailedWriteNamesTheFrameFile() throws {
        let store = try open()
        try store.add(frame(1), time: at(1))
        try FileManager.default.removeItem(atPath: directory)
        XCTAssertThrowsError(try store.add(frame(2), time: at(2))) { error in
            guard let error = error as? StorageError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.path, directory + "/000000000002-1800000002000.rgb")
            XCTAssertEqual(error.step, .createTemporary)
            XCTAssertTrue("\(error)".contains("No such file or directory"), "\(error)")
        }
        XCTAssertEqual(store.count, 1, "a frame that was not stored is not indexed")
    }

    func testAFrameOfTheWrongSizeIsRefusedByName() throws {
        let store = try open()
        XCTAssertThrowsError(try store.add([1, 2, 3], time: at(0))) { error in
            XCTAssertTrue("\(error)".contains(directory), "\(error)")
            XCTAssertTrue("\(error)".contains("3 bytes"), "\(error)")
        }
        XCTAssertEqual(store.count, 0)
    }
}
