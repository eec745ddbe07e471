import Foundation
import Storage
import XCTest

/// A directory of stored evidence within its limits: the oldest files go first past the bytes, and any past the
/// age; hidden files (unfinished writes) and files of another kind are left alone.
final class RetentionTests: XCTestCase {
    func testRetentionDeletesTheOldestPastTheBytesAndAnythingPastTheAge() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("retention-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let now = Date()
        let fm = FileManager.default
        // a is the oldest; each clip 1000 bytes; the hidden leftover and the other file are not clips.
        for (name, age) in [("a.mp4", 3000.0), ("b.mp4", 2000), ("c.mp4", 1000), ("d.mp4", 10), (".e.mp4.tmp-1", 5000), ("notes.txt", 9000)] {
            let path = dir.appendingPathComponent(name).path
            XCTAssertTrue(fm.createFile(atPath: path, contents: Data(count: 1000)))
            try fm.setAttributes([.modificationDate: now.addingTimeInterval(-age)], ofItemAtPath: path)
        }
        XCTAssertEqual(Retention(maxBytes: 2500, maxAge: 86_400, suffix: ".mp4").enforce(in: dir.path, now: now), ["a.mp4", "b.mp4"])
        XCTAssertEqual(Retention(maxBytes: 1 << 30, maxAge: 500, suffix: ".mp4").enforce(in: dir.path, now: now), ["c.mp4"])
        XCTAssertEqual(Set(try fm.contentsOfDirectory(atPath: dir.path)), ["d.mp4", ".e.mp4.tmp-1", "notes.txt"])
    }
}
