import Foundation
import Publisher

/// The subscribers allowed through a CURVE proxy: one `NAME.pub` file per client in a directory (as
/// `anomalyd keygen --out NAME` writes them), like an SSH authorized_keys list. Read once at start.
public struct AuthorizedKeys: Sendable {
    /// Z85 public key -> client name (the file name without `.pub`), which ZAP reports as the User-Id.
    public let names: [String: String]

    public init(directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ProxyError.invalidAuthorizedKeys(directory: directory, reason: "it does not exist")
        }
        guard isDirectory.boolValue else {
            throw ProxyError.invalidAuthorizedKeys(directory: directory, reason: "not a directory (expected a directory of NAME.pub files)")
        }
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw ProxyError.invalidAuthorizedKeys(directory: directory, reason: "cannot list it: \(CurveKey.reason(error))")
        }
        var names: [String: String] = [:]
        for file in files.sorted() where file.hasSuffix(".pub") {
            let key = try CurveKey(file: URL(fileURLWithPath: directory).appendingPathComponent(file).path)
            names[key.z85] = String(file.dropLast(4))
        }
        // An empty list would refuse every subscriber, which is never what was meant.
        guard !names.isEmpty else {
            throw ProxyError.invalidAuthorizedKeys(directory: directory, reason: "no *.pub key files in it")
        }
        self.names = names
    }
}
