import Foundation
import XCTest
@testable import Config
import Decisions
import Detector
import Ingest
import MQTT
import Publisher

/// pipelines/example.yaml documents every key the file may hold, and is itself valid.
final class ExampleConfigTests: XCTestCase {
    let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("pipelines/example.yaml").path

    func testEveryKeyIsDocumented() throws {
        let text = try String(contentsOfFile: example, encoding: .utf8)
        let keys = TopLevel.keyNames + PublisherSettings.keyNames + MetricsSettings.keyNames + PipelineConfig.keyNames
            + BatchSettings.keyNames + LearningSettings.keyNames + DetectorSettings.keyNames + DecisionSettings.keyNames
            + RefitSettings.keyNames + MQTTSettings.keyNames + MQTTTLSSettings.keyNames + ClipSettings.keyNames
            + SnapshotSettings.keyNames
        for key in keys {
            XCTAssertNotNil(text.range(of: #"(?m)^[ #]*\#(key):"#, options: .regularExpression), "\(key) is not in example.yaml")
        }
    }

    func testTheExampleIsValid() throws {
        let credentials = FileManager.default.temporaryDirectory.appendingPathComponent("camera-\(UUID().uuidString)").path
        try "viewer:secret\n".write(toFile: credentials, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: credentials) }
        let text = try String(contentsOfFile: example, encoding: .utf8)
            .replacingOccurrences(of: "/run/credentials/anomalyd@dock.service/camera", with: credentials)
        let c = try ConfigLoader.parse(text, file: example, environment: ["CAM_LINE3_USER": "u", "CAM_LINE3_PASSWORD": "p"])
        XCTAssertEqual(c.pipelines.map(\.name), ["dock", "line3", "replay"])
        let line3 = c.pipelines[1]
        // The documented values are the defaults.
        XCTAssertEqual(line3.detector, DetectorSettings())
        XCTAssertEqual(line3.decision, DecisionSettings())
        XCTAssertEqual(line3.refit, RefitSettings())
        XCTAssertEqual(line3.clips, ClipSettings())
        XCTAssertEqual(line3.snapshots, SnapshotSettings())
        XCTAssertEqual(line3.batch, BatchSettings())
        XCTAssertEqual(line3.learning, LearningSettings())
        XCTAssertEqual(c.publisher, PublisherSettings())
        XCTAssertEqual(line3.sourceOptions.stallTimeout, 10)
        XCTAssertEqual(c.pipelines[0].sourceOptions.sampleFPS, 5)
        let dock = c.pipelines[0].sourceOptions
        XCTAssertEqual(dock.roi, PixelRect(x: 0, y: 700, width: 1920, height: 300))
        XCTAssertEqual([dock.tileColumns, dock.tileRows], [4, 1])
        XCTAssertEqual(dock.ignore, [[[1500, 700], [1920, 700], [1920, 850], [1500, 850]]])
        XCTAssertNil(line3.sourceOptions.roi)
        XCTAssertEqual([line3.sourceOptions.tileColumns, line3.sourceOptions.tileRows], [1, 1])
    }
}
