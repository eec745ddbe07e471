import Foundation
import Storage

#if _endian(big)
#error("SafetensorsWriter writes in-memory Float32 values as they are, so it needs a little-endian host")
#endif

public enum SafetensorsWriter {
    /// Writes a safetensors file (F32, little-endian) whole or not at all (`AtomicFile`); a failed write throws
    /// the `StorageError` naming the file and the step.
    ///
    /// Tensors are laid out in the order given. The header is padded with spaces to a multiple of 8 bytes
    /// so that the data section, and with it every F32 tensor, is 4-byte aligned in the file.
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String], to path: String) throws {
        let header = try encodeHeader(tensors, metadata: metadata, path: path)
        try AtomicFile.write(to: path) { file in
            try file.write([UInt64(header.count).littleEndian])
            try file.write(header)
            for tensor in tensors { try file.write(tensor.values) }
        }
    }

    private static func encodeHeader(_ tensors: [(name: String, shape: [Int], values: [Float])],
                                     metadata: [String: String], path: String) throws -> [UInt8] {
        var entries: [String: Any] = [:]
        if !metadata.isEmpty { entries["__metadata__"] = metadata }
        var offset = 0
        for tensor in tensors {
            guard tensor.name != "__metadata__", entries[tensor.name] == nil else {
                throw CheckpointError.invalidHeader(path: path, detail: "tensor name '\(tensor.name)' is reserved or given twice")
            }
            guard let count = elementCount(tensor.shape) else {
                throw CheckpointError.invalidHeader(path: path, detail: "tensor '\(tensor.name)' has invalid shape \(tensor.shape)")
            }
            guard count == tensor.values.count else {
                throw CheckpointError.sizeMismatch(path: path, tensor: tensor.name, shape: tensor.shape,
                                                   dtype: DType.f32.rawValue, byteCount: tensor.values.count * 4)
            }
            let end = offset + 4 * count
            entries[tensor.name] = ["dtype": DType.f32.rawValue, "shape": tensor.shape, "data_offsets": [offset, end]] as [String: Any]
            offset = end
        }
        var json: [UInt8]
        do {
            json = [UInt8](try JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys]))
        } catch {
            throw CheckpointError.invalidHeader(path: path, detail: "cannot encode the header: \(error)")
        }
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return json
    }
}
