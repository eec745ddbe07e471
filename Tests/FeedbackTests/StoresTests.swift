import Foundation
import XCTest
@testable import Feedback

final class FeedbackStoresTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "feedback-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private func record(_ n: Int) -> EpisodeRecord {
        EpisodeRecord(id: "line-20261203T21\(String(format: "%02d", n))00.000Z-00\(n % 10)a", pipeline: "line",
                      startTime: "2026-12-03T21:\(String(format: "%02d", n)):00.000Z", peakScore: 0.99, threshold: 0.9,
                      region: nil, model: "v1")
    }

    func testTheEpisodeLogListsNewestFirstKeepsTheNewestAndSurvivesARestart() throws {
        let log = try EpisodeLog(directory: dir, maxEpisodes: 3)
        for n in 0..<5 { try log.write(record(n)) }
        XCTAssertEqual(log.list(limit: 10).map(\.id), [4, 3, 2].map { record($0).id })
        XCTAssertEqual(log.list(limit: 2).count, 2)
        try log.writePatches([1, 2, 3, 4, 5, 6], dimension: 3, episode: record(4).id)
        var updated = record(4)
        updated.endTime = "2026-12-03T21:05:00.000Z"
        updated.snapshots = ["snapshots/x-1.jpg"]
        try log.write(updated)
        FileManager.default.createFile(atPath: dir + "/junk.json", contents: Data("{".utf8))

        let reopened = try EpisodeLog(directory: dir, maxEpisodes: 3)
        XCTAssertEqual(reopened.list(limit: 10).map(\.id), [4, 3, 2].map { record($0).id })
        XCTAssertEqual(reopened.record(record(4).id), updated)
        XCTAssertEqual(reopened.repaired.count, 1)
        let patches = try XCTUnwrap(reopened.patches(episode: record(4).id))
        XCTAssertEqual(patches.dimension, 3)
        XCTAssertEqual(patches.features, [1, 2, 3, 4, 5, 6])
        XCTAssertNil(reopened.patches(episode: "../etc/passwd"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/" + record(0).id + ".json"), "evicted")
    }

    func testVerdictsArePutRemovedAndKeptAcrossARestart() throws {
        let store = try FeedbackStore(directory: dir)
        let r = FeedbackRecord(episode: record(1).id, verdict: .normal, time: "2026-12-03T21:10:00.000Z", frames: 2,
                               stored: ["a.rgb", "b.rgb"])
        try store.put(r)
        try store.put(FeedbackRecord(episode: record(2).id, verdict: .anomaly, time: "2026-12-03T21:11:00.000Z"))
        XCTAssertEqual(try FeedbackStore(directory: dir).record(r.episode), r)
        XCTAssertEqual(try store.remove(r.episode), r)
        XCTAssertNil(try store.remove(r.episode))
        XCTAssertEqual(try FeedbackStore(directory: dir).all.map(\.episode), [record(2).id])
    }

    func testEpisodeIDsNeverNameAPath() {
        XCTAssertTrue(EpisodeRecord.isValidID("line3-20261203T210000.123Z-0a1f"))
        for bad in ["", "..", "../x", "a/b", ".hidden", "a\0b", "a b", "%2e%2e", String(repeating: "a", count: 201)] {
            XCTAssertFalse(EpisodeRecord.isValidID(bad), bad)
        }
    }
}
