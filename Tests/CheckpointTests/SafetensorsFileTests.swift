import Foundation
import XCTest
@testable import Checkpoint

/// Malformed files are assembled byte by byte, so each test controls exactly which rule is broken.
final class SafetensorsFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    /// 8-byte little-endian header length, the header text, then `data`.
    private func makeFile(_ name: String, header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws -> String {
        let json = Array(header.utf8)
        let length = declaredLength ?? UInt64(json.count)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        bytes += json + data
        return try makeRawFile(name, bytes: bytes)
    }

    private func makeRawFile(_ name: String, bytes: [UInt8]) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Asserts that opening `path` throws exactly `expected`, and that the message names the file and `mentions`.
    private func assertOpenFails(_ path: String, with expected: (String) -> CheckpointError, mentions: [String] = [],
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            guard let error = error as? CheckpointError else {
                return XCTFail("not a CheckpointError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(error, expected(path), file: file, line: line)
            for text in [path] + mentions {
                XCTAssertTrue(error.description.contains(text), "'\(error)' does not mention \(text)", file: file, line: line)
            }
        }
    }

    private func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) } }
    }

    // MARK: - Malformed files

    func testMissingFileIsUnreadable() {
        let path = directory.appendingPathComponent("absent.safetensors").path
        XCTAssertThrowsError(try SafetensorsFile(path: path)) { error in
            guard case .unreadable(let reported, _)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(reported, path)
        }
    }

    func testFileShorterThanEightBytesIsTruncated() throws {
        let empty = try makeRawFile("empty.safetensors", bytes: [])
        assertOpenFails(empty, with: { .truncated(path: $0, detail: "the file is 0 bytes, shorter than the 8-byte header length") })
        let short = try makeRawFile("short.safetensors", bytes: [2, 0, 0, 0, 0])
        assertOpenFails(short, with: { .truncated(path: $0, detail: "the file is 5 bytes, shorter than the 8-byte header length") })
    }

    func testHeaderLengthBeyondFile() throws {
        let path = try makeFile("big-header.safetensors", header: "{}", declaredLength: 1000)
        assertOpenFails(path, with: { .headerTooLarge(path: $0, headerLength: 1000, fileSize: 10) }, mentions: ["1000"])
        // A length near 2^64 must not overflow into a small number.
        let huge = try makeFile("huge-header.safetensors", header: "{}", declaredLength: UInt64.max)
        assertOpenFails(huge, with: { .headerTooLarge(path: $0, headerLength: UInt64.max, fileSize: 10) })
    }

    func testHeaderThatIsNotJSON() throws {
        let path = try makeFile("garbage.safetensors", header: "{\"a\": [1,")
        assertOpenFails(path, with: { .invalidHeader(path: $0, detail: "the 9-byte header is not valid JSON") })
    }

    func testHeaderThatIsNotAnObject() throws {
        let path = try makeFile("array.safetensors", header: "[1, 2]")
        assertOpenFails(path, with: { .invalidHeader(path: $0, detail: "the header is JSON but not an object") })
    }

    func testMetadataMustMapStringsToStrings() throws {
        let path = try makeFile("meta.safetensors", header: #"{"__metadata__": {"epochs": 3}}"#)
        assertOpenFails(path, with: { .invalidHeader(path: $0, detail: "__metadata__ is not a map of strings to strings") })
    }

    func testEntryMissingAField() throws {
        let noDType = try makeFile("no-dtype.safetensors", header: #"{"w": {"shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        assertOpenFails(noDType, with: { .invalidHeader(path: $0, detail: "tensor 'w' has no string dtype") }, mentions: ["'w'"])
        let noShape = try makeFile("no-shape.safetensors", header: #"{"w": {"dtype": "F32", "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        assertOpenFails(noShape, with: { .invalidHeader(path: $0, detail: "tensor 'w' has no shape given as a list of integers") })
        let noOffsets = try makeFile("no-offsets.safetensors", header: #"{"w": {"dtype": "F32", "shape": [1]}}"#, data: [0, 0, 0, 0])
        assertOpenFails(noOffsets, with: { .invalidHeader(path: $0, detail: "tensor 'w' has no data_offsets given as two integers") })
        let notObject = try makeFile("not-object.safetensors", header: #"{"w": 5}"#)
        assertOpenFails(notObject, with: { .invalidHeader(path: $0, detail: "the entry for tensor 'w' is not an object") })
    }

    func testNonIntegerNumbersAreRejected() throws {
        // Foundation bridges `true` and `2.0` to Int; the reader must not.
        let boolean = try makeFile("bool.safetensors", header: #"{"w": {"dtype": "F32", "shape": [true], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        assertOpenFails(boolean, with: { .invalidHeader(path: $0, detail: "tensor 'w' has no shape given as a list of integers") })
        let fraction = try makeFile("float.safetensors", header: #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.0]}}"#, data: [0, 0, 0, 0])
        assertOpenFails(fraction, with: { .invalidHeader(path: $0, detail: "tensor 'w' has no data_offsets given as two integers") })
        let three = try makeFile("three.safetensors", header: #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}"#, data: [0, 0, 0, 0])
        assertOpenFails(three, with: { .invalidHeader(path: $0, detail: "tensor 'w' has no data_offsets given as two integers") })
    }

    func testNegativeDimension() throws {
        let path = try makeFile("negative.safetensors", header: #"{"w": {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 0]}}"#)
        assertOpenFails(path, with: { .invalidHeader(path: $0, detail: "tensor 'w' has a negative dimension in shape [-1, 2]") })
    }

    func testShapeTooLargeToAddress() throws {
        let path = try makeFile("overflow.safetensors", header: #"{"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 0]}}"#)
        assertOpenFails(path, with: { .invalidHeader(path: $0, detail: "tensor 'w' has shape [4611686018427387904, 4], too large to address") })
    }

    func testUnknownDTypes() throws {
        for dtype in ["I64", "F64"] {
            let path = try makeFile("\(dtype).safetensors", header: #"{"step": {"dtype": "\#(dtype)", "shape": [1], "data_offsets": [0, 8]}}"#,
                                    data: Array(repeating: 0, count: 8))
            assertOpenFails(path, with: { .unknownDType(path: $0, tensor: "step", dtype: dtype) }, mentions: ["'step'", dtype])
        }
    }

    func testDecreasingOrNegativeOffsets() throws {
        let decreasing = try makeFile("decreasing.safetensors", header: #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}"#,
                                      data: Array(repeating: 0, count: 8))
        assertOpenFails(decreasing, with: { .offsetsOutOfRange(path: $0, tensor: "w", offsets: [8, 4], dataSize: 8) }, mentions: ["'w'"])
        let negative = try makeFile("negative-offset.safetensors", header: #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}"#,
                                    data: Array(repeating: 0, count: 8))
        assertOpenFails(negative, with: { .offsetsOutOfRange(path: $0, tensor: "w", offsets: [-4, 0], dataSize: 8) })
    }

    func testByteCountNotMatchingShape() throws {
        let path = try makeFile("size.safetensors", header: #"{"w": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 24]}}"#,
                                data: Array(repeating: 0, count: 24))
        assertOpenFails(path, with: { .sizeMismatch(path: $0, tensor: "w", shape: [2, 3], dtype: "F16", byteCount: 24) },
                        mentions: ["'w'", "24 bytes", "needs 12 bytes"])
    }

    func testOverlappingTensors() throws {
        let header = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#
        let path = try makeFile("overlap.safetensors", header: header, data: Array(repeating: 0, count: 12))
        assertOpenFails(path, with: { .overlapping(path: $0, tensor: "b", other: "a") }, mentions: ["'a'", "'b'"])
    }

    func testEmptyTensorsDoNotOverlap() throws {
        let header = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]}}"#
        let file = try SafetensorsFile(path: try makeFile("empty-tensor.safetensors", header: header, data: littleEndianBytes([1, 2])))
        XCTAssertEqual(try file.floats("e"), [])
        XCTAssertEqual(try file.floats("a"), [1, 2])
    }

    func testDataSectionShorterThanHeaderSays() throws {
        let header = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}"#
        let path = try makeFile("cut.safetensors", header: header, data: Array(repeating: 0, count: 20))
        assertOpenFails(path, with: {
            .truncated(path: $0, detail: "tensor 'b' ends at byte 24 of the data section, but the file holds only 20 data bytes")
        }, mentions: ["'b'"])
    }

    // MARK: - Reading

    func testMissingTensorAndUnexpectedShape() throws {
        let path = try makeFile("one.safetensors", header: #"{"w": {"dtype": "F32", "shape": [2, 1], "data_offsets": [0, 8]}}"#,
                                data: littleEndianBytes([3, 4]))
        let file = try SafetensorsFile(path: path)
        XCTAssertThrowsError(try file.floats("v")) { error in
            XCTAssertEqual(error as? CheckpointError, .missingTensor(path: path, tensor: "v"))
            XCTAssertTrue("\(error)".contains("'v'") && "\(error)".contains(path))
        }
        XCTAssertThrowsError(try file.shape("v")) { XCTAssertEqual($0 as? CheckpointError, .missingTensor(path: path, tensor: "v")) }
        XCTAssertThrowsError(try file.floats("w", shape: [2])) { error in
            XCTAssertEqual(error as? CheckpointError, .unexpectedShape(path: path, tensor: "w", expected: [2], found: [2, 1]))
            XCTAssertTrue("\(error)".contains("'w'") && "\(error)".contains(path))
        }
        XCTAssertNil(file.info("v"))
        XCTAssertEqual(try file.floats("w", shape: [2, 1]), [3, 4])
    }

    /// A header length that is not a multiple of 4 leaves every F32 value misaligned in memory.
    func testUnalignedHeaderReadsCorrectly() throws {
        let header = #"{"__metadata__":{"k":"odd"},"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#
        XCTAssertNotEqual(header.utf8.count % 4, 0)
        let values: [Float] = [1.5, -2.25, .greatestFiniteMagnitude]
        let file = try SafetensorsFile(path: try makeFile("unaligned.safetensors", header: header, data: littleEndianBytes(values)))
        XCTAssertEqual(file.metadata, ["k": "odd"])
        XCTAssertEqual(try file.floats("w"), values)
        var copied = [Float](repeating: 0, count: 3)
        try copied.withUnsafeMutableBufferPointer { try file.copyFloats("w", shape: [3], into: $0.baseAddress!) }
        XCTAssertEqual(copied, values)
    }

    func testFloat16Conversion() throws {
        let cases: [(bits: UInt16, value: Float)] = [
            (0x3C00, 1), (0xC000, -2), (0x3555, 0.333251953125), (0x7BFF, 65504),
            (0x0001, 0x1p-24),          // smallest subnormal
            (0x03FF, 1023 * 0x1p-24),   // largest subnormal
            (0x0400, 0x1p-14),          // smallest normal
            (0x7C00, .infinity), (0xFC00, -.infinity), (0x0000, 0),
        ]
        let special: [UInt16] = [0x8000, 0x7E00]  // negative zero, NaN
        let bits = cases.map(\.bits) + special
        let data = bits.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let header = #"{"h": {"dtype": "F16", "shape": [\#(bits.count)], "data_offsets": [0, \#(data.count)]}}"#
        let values = try SafetensorsFile(path: try makeFile("f16.safetensors", header: header, data: data)).floats("h")
        XCTAssertEqual(Array(values.prefix(cases.count)), cases.map(\.value))
        XCTAssertEqual(values[cases.count], 0)
        XCTAssertEqual(values[cases.count].sign, .minus)
        XCTAssertTrue(values[cases.count + 1].isNaN)
    }

    func testBFloat16Conversion() throws {
        let cases: [(bits: UInt16, value: Float)] = [
            (0x3F80, 1), (0xC040, -3), (0x3E20, 0.15625), (0x7F7F, Float(bitPattern: 0x7F7F_0000)),
            (0x0001, Float(bitPattern: 0x0001_0000)),  // subnormal
            (0x7F80, .infinity), (0xFF80, -.infinity),
        ]
        let bits = cases.map(\.bits) + [0x8000, 0x7FC0]  // negative zero, NaN
        let data = bits.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let header = #"{"b": {"dtype": "BF16", "shape": [\#(bits.count)], "data_offsets": [0, \#(data.count)]}}"#
        let values = try SafetensorsFile(path: try makeFile("bf16.safetensors", header: header, data: data)).floats("b")
        XCTAssertEqual(Array(values.prefix(cases.count)), cases.map(\.value))
        XCTAssertEqual(values[cases.count].sign, .minus)
        XCTAssertEqual(values[cases.count], 0)
        XCTAssertTrue(values[cases.count + 1].isNaN)
    }

    // MARK: - The real checkpoint

    func testRealViTTinyCheckpoint() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("../shared/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors").standardized.path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "shared checkpoint not present at \(path)")
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.tensorNames.count, 152)
        XCTAssertEqual(file.tensorNames, file.tensorNames.sorted())
        XCTAssertEqual(try file.shape("patch_embed.proj.weight"), [192, 3, 16, 16])
        XCTAssertEqual(try file.shape("pos_embed"), [1, 197, 192])
        XCTAssertEqual(try file.shape("head.weight"), [1000, 192])
        XCTAssertEqual(file.parameterCount, 5_717_416)
        XCTAssertEqual(file.info("cls_token")?.dtype, .f32)
        let loaded = try file.tensorNames.reduce(0) { $0 + (try file.floats($1)).count }
        XCTAssertEqual(loaded, 5_717_416)
        let gamma = try file.floats("norm.weight", shape: [192])
        XCTAssertTrue(gamma.allSatisfy(\.isFinite))
        // Trained LayerNorm gains are not all equal to their initial value of 1.
        XCTAssertGreaterThan(Set(gamma).count, 100)
    }
}
