import Checkpoint
import Config
import Detector
import Engine
import Foundation
import Logging
import Publisher
import XCTest
@testable import Pipeline

/// The pipeline decodes frames at its teacher's input size. It decoded 224 px whatever the teacher read, so a
/// teacher for other than 224 px (a 384 px ViT, or this 32 px one) trapped on the first batch it learnt from
/// ("rgb holds N frames, not M") and took every pipeline of the process down with it.
final class TeacherInputSizeTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("teacher-size-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testAPipelineLearnsAndScoresAtItsTeachersInputSize() async throws {
        let models = try TinyModels(in: directory)
        let video = directory + "/clip.mp4"
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ffmpeg.arguments = ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=7",
                            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", video]
        try ffmpeg.run()
        ffmpeg.waitUntilExit()
        XCTAssertEqual(ffmpeg.terminationStatus, 0)
        let config = try ConfigLoader.parse("""
        pipelines:
          small:
            source: \(video)
            teacher: \(models.teacherPath)
            state_dir: \(directory)/state
            learning: {frames: 40}
            detector: {student_depth: 1, epochs: 1}
        """, file: "small.yaml").pipelines[0]
        var settings = PublisherSettings()
        settings.endpoint = "tcp://127.0.0.1:*"
        let publisher = try EventPublisher(settings: settings)
        let vit = ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: models.teacherPath)))
        XCTAssertEqual(vit.config.imageSize, 32)
        let pipeline = CameraPipeline(config: config, vit: vit, publisher: publisher, teacherName: "tiny", workers: 2,
                                      logger: Logger(label: "test"))
        try await pipeline.run()
        let counters = pipeline.counters.snapshot
        XCTAssertEqual(counters.framesIn, 70)
        XCTAssertGreaterThanOrEqual(counters.framesScored, 20, "the frames after the 40 or so learnt from are scored")
        XCTAssertNotNil(pipeline.live.version, "a model was learnt")
        await publisher.close()
    }
}
