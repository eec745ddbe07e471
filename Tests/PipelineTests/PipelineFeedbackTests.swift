import Checkpoint
import Config
import Detector
import Engine
import Feedback
import Foundation
import Logging
import Publisher
import Timestamps
import XCTest
@testable import Pipeline

/// A verdict's effects on a pipeline's state: frames move between the real frame stores, the suppression starts and
/// ends, everything survives a restart (a new `PipelineFeedback` on the same state_dir), and each step is reported on
/// the feedback topic to a real ZeroMQ subscriber. The tiny real teacher of `TinyModels` (32×32 frames).
final class PipelineFeedbackTests: XCTestCase {
    private var directory = ""
    private let start = Date(timeIntervalSince1970: 1_800_000_000)
    private let id = "belt-20270115T080000.000Z-0a1b"

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("feedback-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func frame(_ value: UInt8) -> [UInt8] { [UInt8](repeating: value, count: 32 * 32 * 3) }

    func testVerdictsMoveFramesSuppressUndoRetireAndSurviveARestart() async throws {
        let models = try TinyModels(in: directory)
        let vit = ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: models.teacherPath)))
        let config = try ConfigLoader.parse("""
        pipelines:
          belt:
            source: /unused.mp4
            teacher: \(models.teacherPath)
            state_dir: \(directory)/state
            refit: {enabled: true}
        """, file: "feedback.yaml").pipelines[0]
        var settings = PublisherSettings()
        settings.endpoint = "tcp://127.0.0.1:*"
        let publisher = try EventPublisher(settings: settings)
        try await publisher.register(pipeline: "belt")
        let subscriber = try EventSubscriber(endpoint: publisher.endpoint, prefixes: ["anomaly/belt/feedback"])
        defer { subscriber.close() }
        try await Task.sleep(for: .milliseconds(300))   // the subscription reaches the publisher

        func open() throws -> PipelineFeedback {
            try PipelineFeedback(config: config, frameBytes: 32 * 32 * 3, publisher: publisher, logger: Logger(label: "test"))
        }
        let feedback = try open()
        let live = LiveModel(store: ModelStore(stateDir: config.stateDir, teacherPath: models.teacherPath, logger: Logger(label: "test")),
                             pipeline: "belt", publisher: publisher, logger: Logger(label: "test"))
        let refitter = try Refitter(config: config, live: live, vit: vit, logger: Logger(label: "test"), feedback: feedback)
        feedback.attach(refitter)

        // An ended episode of 4 s with three evidence frames, and one more evidence frame long after it.
        let d = 3
        try feedback.log.write(EpisodeRecord(id: id, pipeline: "belt", startTime: Timestamp.rfc3339(start),
                                             endTime: Timestamp.rfc3339(start + 4), peakScore: 1, threshold: 0.5,
                                             region: nil, model: "m1", frames: 20))
        try feedback.log.writePatches([0, 0, 0, 10, 0, 0], dimension: d, episode: id)
        for (i, t) in [0.5, 2.0, 3.5, 60].enumerated() { try refitter.evidence.add(frame(UInt8(10 + i)), time: start + t) }
        var repeatOf = NovelPatches()   // a frame whose two novel patches lie near the dismissed ones
        (repeatOf.cells, repeatOf.distances, repeatOf.features, repeatOf.dimension) = ([0, 1], [5, 5], [0.5, 0, 0, 10, 0.5, 0], d)
        var other = repeatOf            // and one far from them
        other.features = [0, 6, 0, 0, 6, 0]
        let reach: [Float] = [0.1, 0.1]
        XCTAssertNil(feedback.match(repeatOf, reach: reach), "nothing dismissed yet")

        // Not an anomaly: the episode's three frames move from the evidence to the normal buffer; frames like it match.
        let record = try await feedback.give(.normal, episode: id)
        XCTAssertEqual(record.frames, 3)
        XCTAssertEqual(refitter.buffer.count, 3)
        XCTAssertEqual(refitter.evidence.snapshot.map(\.time), [start + 60])
        XCTAssertEqual(try refitter.buffer.read(refitter.buffer.snapshot[1]), frame(11))
        XCTAssertEqual(feedback.match(repeatOf, reach: reach)?.episode, id)
        XCTAssertNil(feedback.match(other, reach: reach), "6 from the dismissed patches, 5 from normal")
        let again = try await feedback.give(.normal, episode: id)
        XCTAssertEqual(again, record, "the same verdict again changes nothing")
        XCTAssertEqual(feedback.suppressions, 1)

        // A restart finds the verdict and its suppression.
        XCTAssertEqual(try open().match(repeatOf, reach: reach)?.episode, id)
        XCTAssertEqual(try open().verdicts.record(id), record)

        // Undo: the frames go back to the evidence, the suppression ends, for this process and the next.
        let undone = try await feedback.undo(episode: id)
        XCTAssertEqual(undone, record)
        XCTAssertEqual(refitter.buffer.count, 0)
        XCTAssertEqual(refitter.evidence.count, 4)
        XCTAssertNil(feedback.match(repeatOf, reach: reach))
        XCTAssertNil(try open().match(repeatOf, reach: reach))
        do {
            _ = try await feedback.undo(episode: id)
            XCTFail("undoing twice")
        } catch let e as FeedbackError { XCTAssertEqual(e, .noFeedback(id)) }

        // Confirmed: copies in the confirmed store, which undo removes.
        let confirmed = try await feedback.give(.anomaly, episode: id)
        XCTAssertEqual(confirmed.frames, 3)
        XCTAssertEqual(feedback.confirmed.count, 3)
        XCTAssertEqual(refitter.evidence.count, 4, "the evidence keeps its own frames")
        // Changing the verdict undoes the first one.
        _ = try await feedback.give(.normal, episode: id)
        XCTAssertEqual(feedback.confirmed.count, 0)
        XCTAssertEqual(refitter.buffer.count, 3)

        // A refit that scored the dismissed frames normal retires the suppression; the verdict stays, marked.
        XCTAssertEqual(feedback.dismissedFrames(in: refitter.buffer).map(\.episode), [id])
        await feedback.retire([id], model: "m2")
        XCTAssertNil(feedback.match(repeatOf, reach: reach))
        XCTAssertEqual(feedback.verdicts.record(id)?.retiredBy, "m2")
        XCTAssertNil(try open().match(repeatOf, reach: reach), "a retired suppression stays retired after a restart")
        XCTAssertTrue(feedback.dismissedFrames(in: refitter.buffer).isEmpty)

        // Unknown and malformed ids are refused with nothing changed.
        for (bad, expected) in [("belt-nope", FeedbackError.unknownEpisode("belt-nope")), ("../x", .invalidEpisodeID("../x"))] {
            do {
                _ = try await feedback.give(.normal, episode: bad)
                XCTFail(bad)
            } catch let e as FeedbackError { XCTAssertEqual(e, expected) }
        }

        // Every step went out on the feedback topic, in order.
        var seen: [String] = []
        let deadline = Date().addingTimeInterval(5)
        while seen.count < 6, Date() < deadline, let parts = try subscriber.receive() {
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: parts[1]) as? [String: Any])
            XCTAssertEqual(json["schema"] as? String, "anomalyd.feedback/1")
            XCTAssertEqual(json["episode"] as? String, id)
            seen.append([json["type"], json["verdict"] ?? json["model"]].compactMap { $0 as? String }.joined(separator: " "))
        }
        XCTAssertEqual(seen, ["verdict normal", "undo normal", "verdict anomaly", "undo anomaly", "verdict normal", "retired m2"])
        await publisher.close()
    }
}
