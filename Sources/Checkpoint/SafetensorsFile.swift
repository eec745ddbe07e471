import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor entry of a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data section (just after the header).
    public let dataOffsets: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file mapped read-only into memory.
///
/// The whole header is parsed and validated in `init`, so every later accessor only has to look a
/// name up: a file that opens is internally consistent. Reads never modify the mapping, so one
/// instance may be shared between threads.
// @unchecked Sendable: a read-only mapping behind a raw pointer, immutable after init.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    /// The `__metadata__` entry (empty if absent).
    public let metadata: [String: String]
    private let tensors: [String: TensorInfo]
    private let mapping: UnsafeMutableRawPointer
    private let mappedSize: Int
    private let dataStart: Int

    public var tensorNames: [String] { tensors.keys.sorted() }

    /// Total number of elements over all tensors.
    public var parameterCount: Int { tensors.values.reduce(0) { $0 + $1.elementCount } }

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        // The mapping stays valid after the descriptor is closed.
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.unreadable(path: path, reason: "not a regular file")
        }
        let fileSize = Int(status.st_size)
        guard fileSize >= 8 else {
            throw CheckpointError.truncated(path: path, detail: "the file is \(fileSize) bytes, shorter than the 8-byte header length")
        }
        guard let base = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw CheckpointError.unreadable(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        do {
            let parsed = try Self.parseHeader(path: path, bytes: UnsafeRawBufferPointer(start: base, count: fileSize))
            metadata = parsed.metadata
            tensors = parsed.tensors
            dataStart = parsed.dataStart
        } catch {
            munmap(base, fileSize)
            throw error
        }
        mapping = base
        mappedSize = fileSize
    }

    deinit {
        munmap(mapping, mappedSize)
    }

    public func info(_ name: String) -> TensorInfo? {
        tensors[name]
    }

    public func shape(_ name: String) throws -> [Int] {
        try existing(name).shape
    }

    /// The tensor's values converted to Float32, in row-major order.
    public func floats(_ name: String) throws -> [Float] {
        let tensor = try existing(name)
        return read(tensor)
    }

    /// Like `floats(_:)`, but refuses a tensor whose shape is not `expected`.
    public func floats(_ name: String, shape expected: [Int]) throws -> [Float] {
        let tensor = try existing(name, shape: expected)
        return read(tensor)
    }

    /// Converts the tensor into `destination`, which must have room for the product of `expected`.
    public func copyFloats(_ name: String, shape expected: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        let tensor = try existing(name, shape: expected)
        convertToFloat(mapping + dataStart + tensor.dataOffsets.lowerBound, dtype: tensor.dtype,
                       count: tensor.elementCount, into: destination)
    }

    private func existing(_ name: String) throws -> TensorInfo {
        guard let tensor = tensors[name] else { throw CheckpointError.missingTensor(path: path, tensor: name) }
        return tensor
    }

    private func existing(_ name: String, shape expected: [Int]) throws -> TensorInfo {
        let tensor = try existing(name)
        guard tensor.shape == expected else {
            throw CheckpointError.unexpectedShape(path: path, tensor: name, expected: expected, found: tensor.shape)
        }
        return tensor
    }

    private func read(_ tensor: TensorInfo) -> [Float] {
        let count = tensor.elementCount
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let destination = buffer.baseAddress {
                convertToFloat(mapping + dataStart + tensor.dataOffsets.lowerBound, dtype: tensor.dtype,
                               count: count, into: destination)
            }
            initialized = count
        }
    }

    // MARK: - Header parsing

    private struct Header {
        var metadata: [String: String]
        var tensors: [String: TensorInfo]
        var dataStart: Int
    }

    private static func parseHeader(path: String, bytes: UnsafeRawBufferPointer) throws -> Header {
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw CheckpointError.headerTooLarge(path: path, headerLength: headerLength, fileSize: bytes.count)
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        let json = Data(bytes[8..<dataStart])

        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw CheckpointError.invalidHeader(path: path, detail: "the \(headerLength)-byte header is not valid JSON")
        }
        guard let entries = root as? [String: Any] else {
            throw CheckpointError.invalidHeader(path: path, detail: "the header is JSON but not an object")
        }

        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        // Sorted so that a file with several faults always reports the same one.
        for (name, value) in entries.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                guard let map = value as? [String: String] else {
                    throw CheckpointError.invalidHeader(path: path, detail: "__metadata__ is not a map of strings to strings")
                }
                metadata = map
                continue
            }
            tensors[name] = try parseEntry(path: path, name: name, value: value, dataSize: dataSize)
        }

        // Sorted by start, no two ranges overlap iff no two neighbours do. Empty tensors own no bytes.
        let ordered = tensors.values.filter { !$0.dataOffsets.isEmpty }.sorted {
            ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name)
        }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.dataOffsets.lowerBound < previous.dataOffsets.upperBound {
            throw CheckpointError.overlapping(path: path, tensor: next.name, other: previous.name)
        }
        if let last = tensors.values.max(by: { $0.dataOffsets.upperBound < $1.dataOffsets.upperBound }),
           last.dataOffsets.upperBound > dataSize {
            throw CheckpointError.truncated(
                path: path,
                detail: "tensor '\(last.name)' ends at byte \(last.dataOffsets.upperBound) of the data section, but the file holds only \(dataSize) data bytes")
        }
        return Header(metadata: metadata, tensors: tensors, dataStart: dataStart)
    }

    private static func parseEntry(path: String, name: String, value: Any, dataSize: Int) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw CheckpointError.invalidHeader(path: path, detail: "the entry for tensor '\(name)' is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw CheckpointError.invalidHeader(path: path, detail: "tensor '\(name)' has no string dtype")
        }
        guard let shapeValues = entry["shape"] as? [Any], let shape = integers(shapeValues) else {
            throw CheckpointError.invalidHeader(path: path, detail: "tensor '\(name)' has no shape given as a list of integers")
        }
        guard let offsetValues = entry["data_offsets"] as? [Any], let offsets = integers(offsetValues), offsets.count == 2 else {
            throw CheckpointError.invalidHeader(path: path, detail: "tensor '\(name)' has no data_offsets given as two integers")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw CheckpointError.unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw CheckpointError.invalidHeader(path: path, detail: "tensor '\(name)' has a negative dimension in shape \(shape)")
        }
        guard let needed = storageSize(shape: shape, dtype: dtype) else {
            throw CheckpointError.invalidHeader(path: path, detail: "tensor '\(name)' has shape \(shape), too large to address")
        }
        guard offsets[0] >= 0, offsets[0] <= offsets[1] else {
            throw CheckpointError.offsetsOutOfRange(path: path, tensor: name, offsets: offsets, dataSize: dataSize)
        }
        guard offsets[1] - offsets[0] == needed else {
            throw CheckpointError.sizeMismatch(path: path, tensor: name, shape: shape, dtype: dtypeName,
                                               byteCount: offsets[1] - offsets[0])
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: offsets[0]..<offsets[1])
    }

    /// JSON numbers as Ints, rejecting booleans and non-integral or out-of-range numbers
    /// (Foundation would otherwise bridge `true` and `2.0` to Int silently).
    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        result.reserveCapacity(values.count)
        for value in values {
            guard let number = value as? NSNumber else { return nil }
            let kind = String(cString: number.objCType)
            guard kind != "c", kind != "d", kind != "f", let integer = value as? Int else { return nil }
            result.append(integer)
        }
        return result
    }
}
