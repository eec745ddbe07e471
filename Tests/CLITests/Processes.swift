import Foundation

/// Child processes, ports and collected messages for the tests that start real servers.
extension CLI {
    final class Child {
        let process = Process()
        let output = Pipe()
        init(_ executable: String, _ args: [String], environment: [String: String]? = nil) throws {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = args
            process.currentDirectoryURL = CLI.root
            if let environment { process.environment = environment }
            process.standardOutput = output
            process.standardError = output
            try process.run()
        }
        /// Reads the child's output until a line starts with `prefix` (or it exits).
        func waitFor(_ prefix: String) -> Bool {
            var seen = ""
            while process.isRunning || output.fileHandleForReading.availableData.count > 0 {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { usleep(50_000); continue }
                seen += String(decoding: data, as: UTF8.self)
                if seen.split(separator: "\n").contains(where: { $0.hasPrefix(prefix) }) { return true }
            }
            return false
        }
        func stop(_ signal: Int32 = SIGTERM) {
            if process.isRunning { kill(process.processIdentifier, signal) }
            process.waitUntilExit()
        }
    }

    static func messages(_ path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}
