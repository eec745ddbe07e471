/// Everything that can be wrong with a safetensors checkpoint, or with a model built from one.
/// Every case names the file so a message in a log is actionable on its own.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    /// Shorter than 8 bytes, or the data section is shorter than the header says.
    case truncated(path: String, detail: String)
    /// The 8-byte header length points beyond the end of the file.
    case headerTooLarge(path: String, headerLength: UInt64, fileSize: Int)
    /// Not JSON, not an object, a tensor entry missing dtype/shape/data_offsets, negative dims...
    case invalidHeader(path: String, detail: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    /// Offsets negative or decreasing.
    case offsetsOutOfRange(path: String, tensor: String, offsets: [Int], dataSize: Int)
    /// shape x itemsize differs from end - begin (or, when writing, from the number of values given).
    case sizeMismatch(path: String, tensor: String, shape: [Int], dtype: String, byteCount: Int)
    case overlapping(path: String, tensor: String, other: String)
    case missingTensor(path: String, tensor: String)
    /// Thrown by model builders.
    case unexpectedShape(path: String, tensor: String, expected: [Int], found: [Int])
    /// Thrown by model builders.
    case invalidArchitecture(path: String, detail: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "Cannot read checkpoint \(path): \(reason)."
        case let .truncated(path, detail):
            return "Checkpoint \(path) is truncated: \(detail)."
        case let .headerTooLarge(path, headerLength, fileSize):
            return "Checkpoint \(path) declares a \(headerLength)-byte header but the whole file is only \(fileSize) bytes."
        case let .invalidHeader(path, detail):
            return "Checkpoint \(path) has an invalid header: \(detail)."
        case let .unknownDType(path, tensor, dtype):
            return "Checkpoint \(path) stores tensor '\(tensor)' as \(dtype), but only F32, F16 and BF16 are supported."
        case let .offsetsOutOfRange(path, tensor, offsets, dataSize):
            return "Checkpoint \(path) gives tensor '\(tensor)' data_offsets \(offsets), which are not a valid [begin, end] range within its \(dataSize)-byte data section."
        case let .sizeMismatch(path, tensor, shape, dtype, byteCount):
            let needed = DType(rawValue: dtype).flatMap { storageSize(shape: shape, dtype: $0) }.map(String.init) ?? "a different number of"
            return "Checkpoint \(path) gives tensor '\(tensor)' (\(dtype), shape \(shape)) \(byteCount) bytes, but that shape needs \(needed) bytes."
        case let .overlapping(path, tensor, other):
            return "Checkpoint \(path) stores tensor '\(tensor)' in bytes that overlap those of tensor '\(other)'."
        case let .missingTensor(path, tensor):
            return "Checkpoint \(path) has no tensor named '\(tensor)'."
        case let .unexpectedShape(path, tensor, expected, found):
            return "Checkpoint \(path) has tensor '\(tensor)' with shape \(found), but shape \(expected) was expected."
        case let .invalidArchitecture(path, detail):
            return "Checkpoint \(path) does not describe a supported architecture: \(detail)."
        }
    }
}
