import Foundation
import Logging
import XCTest
@testable import Service
import Synchronization

final class JournalLogHandlerTests: XCTestCase {
    final class Lines: Sendable {
        private let items = Mutex<[String]>([])
        func append(_ s: String) { items.withLock { $0.append(s) } }
        var all: [String] { items.withLock { $0 } }
    }

    func testJournalLinesCarryPriorityAndMetadata() {
        let lines = Lines()
        var logger = Logger(label: "t") { JournalLogHandler(label: $0, journal: true, write: lines.append) }
        logger[metadataKey: "pipeline"] = "line3"
        logger.notice("anomaly new", metadata: ["id": "line3-1"])
        logger.error("cannot publish\nsecond line")
        logger.debug("hidden below the info level")
        XCTAssertEqual(lines.all, ["<5>anomaly new id=line3-1 pipeline=line3\n", "<3>cannot publish second line pipeline=line3\n"])
    }

    func testTerminalLinesHaveNoPriorityPrefix() {
        let lines = Lines()
        let logger = Logger(label: "t") { JournalLogHandler(label: $0, journal: false, write: lines.append) }
        logger.warning("stalled")
        XCTAssertEqual(lines.all.count, 1)
        XCTAssertFalse(lines.all[0].hasPrefix("<"))
        XCTAssertTrue(lines.all[0].hasSuffix(" warning stalled\n"), lines.all[0])
    }
}
