import ArgumentParser
import Foundation
import Publisher

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a new CURVE key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (public), Z85 text.",
        discussion: "Never overwrites: if either file exists, nothing is written.")

    @Option(help: "Path prefix of the two files, e.g. /etc/anomalyd/proxy.")
    var out: String

    func run() throws {
        do {
            let keys = try CurveKeyPair.generate()
            let files = try keys.write(prefix: out)
            print("wrote \(files.secretFile) (secret) and \(files.publicFile) (public key \(keys.publicKey))")
        } catch let error as CurveKeyError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
