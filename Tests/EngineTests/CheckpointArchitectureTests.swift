import Checkpoint
import Foundation
import XCTest
@testable import Engine

/// Architecture inference from tensor shapes, and the errors for checkpoints that do not make a ViT.
final class CheckpointArchitectureTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-arch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Writes the random test ViT as a safetensors file, letting `edit` drop or reshape tensors first.
    func write(_ name: String, edit: (inout [(name: String, shape: [Int], values: [Float])]) -> Void = { _ in }) throws -> String {
        let p = ViTForwardTests.randomParameters()
        var tensors = p.layout.entries.map { e in
            (name: e.name, shape: e.shape,
             values: Array(UnsafeBufferPointer(start: p.storage.data + e.offset, count: e.shape.reduce(1, *))))
        }
        edit(&tensors)
        let path = dir.appendingPathComponent(name).path
        try SafetensorsWriter.write(tensors, metadata: [:], to: path)
        return path
    }

    func testInfersArchitectureAndLoadsExactly() throws {
        let path = try write("ok.safetensors")
        let loaded = try ViTParameters(checkpoint: SafetensorsFile(path: path), heads: 2)
        XCTAssertEqual(loaded.config, ViTForwardTests.config)
        let original = ViTForwardTests.randomParameters()
        XCTAssertEqual(loaded.storage.array, original.storage.array)
        // Default heads are width/64.
        XCTAssertEqual(try ViTConfig(inferringFrom: SafetensorsFile(path: path)).heads, 1)
    }

    func testMissingTensorIsNamed() throws {
        let path = try write("missing.safetensors") { $0.removeAll { $0.name == "blocks.1.mlp.fc2.bias" } }
        XCTAssertThrowsError(try ViTParameters(checkpoint: SafetensorsFile(path: path))) { error in
            XCTAssertEqual(error as? CheckpointError, .missingTensor(path: path, tensor: "blocks.1.mlp.fc2.bias"))
            XCTAssertTrue("\(error)".contains("blocks.1.mlp.fc2.bias"))
            XCTAssertTrue("\(error)".contains("missing.safetensors"))
        }
    }

    func testMissingBlockIsNamed() throws {
        let path = try write("gap.safetensors") { $0.removeAll { $0.name.hasPrefix("blocks.0.") } }
        XCTAssertThrowsError(try ViTParameters(checkpoint: SafetensorsFile(path: path))) { error in
            XCTAssertEqual(error as? CheckpointError, .missingTensor(path: path, tensor: "blocks.0.*"))
        }
    }

    func testShapeThatDoesNotFitIsNamed() throws {
        let path = try write("shape.safetensors") { t in
            let i = t.firstIndex { $0.name == "blocks.1.attn.qkv.weight" }!
            t[i] = (name: t[i].name, shape: [3 * 64, 32], values: Array(t[i].values.prefix(3 * 64 * 32)))
        }
        XCTAssertThrowsError(try ViTParameters(checkpoint: SafetensorsFile(path: path))) { error in
            XCTAssertEqual(error as? CheckpointError,
                           .unexpectedShape(path: path, tensor: "blocks.1.attn.qkv.weight", expected: [192, 64], found: [192, 32]))
        }
    }

    func testNonSquarePositionGridIsRejected() throws {
        let path = try write("pos.safetensors") { t in
            let i = t.firstIndex { $0.name == "pos_embed" }!
            t[i] = (name: "pos_embed", shape: [1, 9, 64], values: Array(t[i].values.prefix(9 * 64)))
        }
        XCTAssertThrowsError(try ViTParameters(checkpoint: SafetensorsFile(path: path))) { error in
            guard case .invalidArchitecture(let p, let detail)? = error as? CheckpointError else {
                return XCTFail("expected invalidArchitecture, got \(error)")
            }
            XCTAssertEqual(p, path)
            XCTAssertTrue(detail.contains("pos_embed"))
        }
    }

    func testHeadsMustDivideWidth() throws {
        let path = try write("heads.safetensors")
        XCTAssertThrowsError(try ViTParameters(checkpoint: SafetensorsFile(path: path), heads: 3)) { error in
            guard case .invalidArchitecture? = error as? CheckpointError else { return XCTFail("\(error)") }
        }
    }

    func testRealTeacherArchitecture() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors").path
        let p = try ViTParameters(checkpoint: SafetensorsFile(path: path))
        XCTAssertEqual(p.config, ViTConfig(imageSize: 224, patchSize: 16, width: 192, depth: 12, heads: 3,
                                           mlpWidth: 768, numClasses: 1000))
        XCTAssertEqual(p.layout.count, 5_717_416)
    }
}
