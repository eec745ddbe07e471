import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if _endian(big)
#error("SafetensorsWriter writes in-memory Float32 values as they are, so it needs a little-endian host")
#endif

public enum SafetensorsWriter {
    /// Writes a safetensors file (F32, little-endian) atomically: temp file in the same directory, fsync, rename, fsync dir.
    ///
    /// Tensors are laid out in the order given. The header is padded with spaces to a multiple of 8 bytes
    /// so that the data section, and with it every F32 tensor, is 4-byte aligned in the file.
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String], to path: String) throws {
        let header = try encodeHeader(tensors, metadata: metadata, path: path)

        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var template = Array((directory + "/." + url.lastPathComponent + ".tmp-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw CheckpointError.unwritable(path: path, reason: "cannot create a temporary file: " + errnoText()) }
        let temporary = String(cString: template)
        var renamed = false
        defer { if !renamed { unlink(temporary) } }

        do {
            defer { close(fd) }
            try withUnsafeBytes(of: UInt64(header.count).littleEndian) { try writeAll(fd, $0, path: path) }
            try header.withUnsafeBytes { try writeAll(fd, $0, path: path) }
            for tensor in tensors {
                try tensor.values.withUnsafeBytes { try writeAll(fd, $0, path: path) }
            }
            // mkstemp creates the file 0600; a checkpoint is ordinary data, readable like any other file.
            guard fchmod(fd, 0o644) == 0 else { throw CheckpointError.unwritable(path: path, reason: "fchmod failed: " + errnoText()) }
            guard fsync(fd) == 0 else { throw CheckpointError.unwritable(path: path, reason: "fsync failed: " + errnoText()) }
        }
        guard rename(temporary, path) == 0 else {
            throw CheckpointError.unwritable(path: path, reason: "rename from \(temporary) failed: " + errnoText())
        }
        renamed = true
        // The rename itself is durable only once the directory entry is flushed.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw CheckpointError.unwritable(path: path, reason: "cannot open directory to fsync: " + errnoText()) }
        defer { close(directoryFD) }
        guard fsync(directoryFD) == 0 else { throw CheckpointError.unwritable(path: path, reason: "directory fsync failed: " + errnoText()) }
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
            throw CheckpointError.unwritable(path: path, reason: "cannot encode the header: \(error)")
        }
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return json
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var written = 0
        while written < bytes.count {
            let result = systemWrite(fd, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.unwritable(path: path, reason: "write failed: " + errnoText())
            }
            written += result
        }
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

/// The libc `write`, which the static `SafetensorsWriter.write` hides inside the enum.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
