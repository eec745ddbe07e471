import XCTest
@testable import Publisher

final class TopicTests: XCTestCase {
    func testTopicNamesAndPipelineNames() {
        XCTAssertEqual(Topic.name(pipeline: "line3", kind: .event), "anomaly/line3/event")
        XCTAssertFalse(Topic.name(pipeline: "line30", kind: .event).hasPrefix(Topic.prefix(pipeline: "line3")))
        XCTAssertTrue(Topic.isValidPipelineName("line_3-a"))
        XCTAssertFalse(Topic.isValidPipelineName("Line3"))
        XCTAssertFalse(Topic.isValidPipelineName("line/3"))
        XCTAssertFalse(Topic.isValidPipelineName(""))
    }
}
