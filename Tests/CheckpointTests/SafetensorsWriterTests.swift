import Foundation
import Storage
import XCTest
@testable import Checkpoint

final class SafetensorsWriterTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    func testRoundTrip() throws {
        let path = directory.appendingPathComponent("model.safetensors").path
        let tensors: [(name: String, shape: [Int], values: [Float])] = [
            (name: "blocks.0.weight", shape: [2, 3], values: [1, -2, 3.5, .infinity, -0.0, .leastNormalMagnitude / 2]),   // a subnormal
            (name: "scalar", shape: [], values: [42]),
            (name: "empty", shape: [0, 4], values: []),
            (name: "name with \"quotes\"/slash", shape: [1], values: [7]),
        ]
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt", "note": "ünïcode"], to: path)

        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "ünïcode"])
        XCTAssertEqual(file.tensorNames, tensors.map(\.name).sorted())
        for tensor in tensors {
            XCTAssertEqual(try file.shape(tensor.name), tensor.shape)
            XCTAssertEqual(file.info(tensor.name)?.dtype, .f32)
            XCTAssertEqual(try file.floats(tensor.name).map(\.bitPattern), tensor.values.map(\.bitPattern), tensor.name)
        }
        XCTAssertEqual(file.parameterCount, 8)

        // Header padded to 8 bytes keeps F32 data aligned for readers that map it directly.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(bytes.count, 8 + headerLength + 4 * 8)
        // Only the target is left behind: the temporary file was renamed, not copied.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
    }

    func testOverwritesExistingFileWhole() throws {
        let path = directory.appendingPathComponent("model.safetensors").path
        try SafetensorsWriter.write([(name: "big", shape: [1000], values: Array(repeating: 1, count: 1000))], metadata: [:], to: path)
        try SafetensorsWriter.write([(name: "small", shape: [2], values: [5, 6])], metadata: [:], to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.tensorNames, ["small"])
        XCTAssertEqual(file.metadata, [:])
        XCTAssertEqual(try file.floats("small"), [5, 6])
    }

    func testRejectsValuesNotMatchingShape() {
        let path = directory.appendingPathComponent("bad.safetensors").path
        XCTAssertThrowsError(try SafetensorsWriter.write([(name: "w", shape: [2, 2], values: [1, 2, 3])], metadata: [:], to: path)) { error in
            XCTAssertEqual(error as? CheckpointError, .sizeMismatch(path: path, tensor: "w", shape: [2, 2], dtype: "F32", byteCount: 12))
            XCTAssertTrue("\(error)".contains("needs 16 bytes"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testRejectsDuplicateAndReservedNames() {
        let path = directory.appendingPathComponent("dup.safetensors").path
        XCTAssertThrowsError(try SafetensorsWriter.write([(name: "w", shape: [1], values: [1]), (name: "w", shape: [1], values: [2])],
                                                         metadata: [:], to: path)) { error in
            XCTAssertEqual(error as? CheckpointError, .invalidHeader(path: path, detail: "tensor name 'w' is reserved or given twice"))
        }
        XCTAssertThrowsError(try SafetensorsWriter.write([(name: "__metadata__", shape: [1], values: [1])], metadata: [:], to: path)) { error in
            XCTAssertEqual(error as? CheckpointError, .invalidHeader(path: path, detail: "tensor name '__metadata__' is reserved or given twice"))
        }
    }

    func testUnwritableDirectory() {
        let path = directory.appendingPathComponent("missing-dir/model.safetensors").path
        XCTAssertThrowsError(try SafetensorsWriter.write([(name: "w", shape: [1], values: [1])], metadata: [:], to: path)) { error in
            XCTAssertEqual(error as? StorageError, StorageError(path: path, step: .createTemporary, code: ENOENT))
        }
    }
}
