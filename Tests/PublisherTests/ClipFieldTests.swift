import Foundation
import XCTest
@testable import Publisher

/// The events' `clip` and `snapshot`: the stored files' names when the pipeline stores them, absent otherwise, and
/// read back by a subscriber decoding the event.
final class ClipFieldTests: XCTestCase {
    func testClipAndSnapshotAreNamedWhenGivenAndAbsentOtherwise() throws {
        let d = try Episodes.full()[0]
        var event = AnomalyEvent(d, seq: 1, pipeline: "line3", host: "h", model: Episodes.model, latency: Episodes.latency)
        let without = try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as! [String: Any]
        XCTAssertNil(without["clip"])
        XCTAssertNil(without["snapshot"])
        event.clip = "clips/\(d.id).mp4"
        event.snapshot = "snapshots/\(d.id)-\(d.frame.index).jpg"
        let data = try JSONEncoder().encode(event)
        let with = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        XCTAssertEqual(with["clip"] as? String, "clips/\(d.id).mp4")
        XCTAssertEqual(with["snapshot"] as? String, "snapshots/\(d.id)-\(d.frame.index).jpg")
        XCTAssertEqual(try JSONDecoder().decode(AnomalyEvent.self, from: data), event)
    }
}
