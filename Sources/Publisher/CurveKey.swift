import CZMQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A CURVE key (Curve25519, 32 bytes) as ZeroMQ writes it: 40 characters of Z85 text (CONVENTIONS.md §3).
/// Key files hold exactly that text, plus an optional trailing newline: `PREFIX.key` the secret, `PREFIX.pub`
/// the public key, as `anomalyd keygen` writes them and pyzmq reads them (`zmq.curve_public(secret)`).
public struct CurveKey: Sendable, Hashable, CustomStringConvertible {
    public let z85: String

    /// Validates `text` (surrounding whitespace ignored); `origin` names the file or option in errors.
    public init(z85 text: String, origin: String) throws {
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard key.utf8.count == 40 else {
            throw CurveKeyError.malformed(origin: origin, reason: "expected 40 Z85 characters, found \(key.utf8.count)")
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, key) != nil else {
            throw CurveKeyError.malformed(origin: origin, reason: "not Z85 text (characters outside ZeroMQ's Z85 alphabet)")
        }
        z85 = key
    }

    /// Reads a key file (`.key` or `.pub`).
    public init(file path: String) throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CurveKeyError.unreadable(file: path, reason: Self.reason(error))
        }
        try self.init(z85: text, origin: path)
    }

    public var description: String { z85 }

    /// The 32 raw key bytes, as socket options take them.
    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = zmq_z85_decode(&out, z85)
        return out
    }

    /// "No such file or directory" rather than Foundation's wrapped error text.
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        let posix = ns.domain == NSPOSIXErrorDomain ? ns : ns.userInfo[NSUnderlyingErrorKey] as? NSError
        if let posix, posix.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(posix.code))) }
        if ns.domain == NSCocoaErrorDomain {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileReadNoSuchFile, .fileNoSuchFile: return "no such file"
            case .fileReadNoPermission: return "permission denied"
            case .fileReadInapplicableStringEncoding: return "not UTF-8 text"
            default: break
            }
        }
        return ns.localizedDescription
    }
}

/// A public/secret key pair. The public key is always derived from the secret, so the two cannot disagree.
public struct CurveKeyPair: Sendable {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    public init(secretKey: CurveKey) throws {
        try Curve.requireAvailable()
        var z85 = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&z85, secretKey.z85) == 0 else { throw CurveKeyError.unavailable }
        publicKey = try CurveKey(z85: String(decoding: z85.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self), origin: "derived public key")
        self.secretKey = secretKey
    }

    /// Reads a secret key file and derives its public key.
    public init(secretKeyFile path: String) throws {
        try self.init(secretKey: CurveKey(file: path))
    }

    /// A new random pair (libsodium's generator, through libzmq).
    public static func generate() throws -> CurveKeyPair {
        try Curve.requireAvailable()
        var pub = [CChar](repeating: 0, count: 41), secret = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &secret) == 0 else { throw CurveKeyError.unavailable }
        return try CurveKeyPair(secretKey: CurveKey(z85: String(decoding: secret.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self), origin: "generated secret key"))
    }

    /// Writes `PREFIX.key` (the secret, mode 0600 from the moment it exists) and `PREFIX.pub` (mode 0644).
    /// Refuses to overwrite either file: a replaced secret key cannot be recovered.
    public func write(prefix: String) throws -> (secretFile: String, publicFile: String) {
        let secretFile = prefix + ".key", publicFile = prefix + ".pub"
        for file in [secretFile, publicFile] where FileManager.default.fileExists(atPath: file) {
            throw CurveKeyError.exists(file: file)
        }
        try Self.create(secretFile, secretKey.z85 + "\n", mode: 0o600)
        do { try Self.create(publicFile, publicKey.z85 + "\n", mode: 0o644) } catch {
            unlink(secretFile)
            throw error
        }
        return (secretFile, publicFile)
    }

    /// O_EXCL so a file that appeared since the check is not overwritten either; fchmod so the umask cannot
    /// loosen or tighten the mode.
    private static func create(_ path: String, _ text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            if errno == EEXIST { throw CurveKeyError.exists(file: path) }
            throw CurveKeyError.writeFailed(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard fchmod(fd, mode) == 0, Glibc.write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw CurveKeyError.writeFailed(file: path, reason: reason)
        }
    }
}

/// How one socket uses CURVE (set before it binds or connects).
public enum CurveSecurity: Sendable {
    /// Encrypts for every client that knows the matching public key; who may connect is ZAP's business.
    case server(CurveKeyPair)
    /// Connects to the server with this public key, authenticating as `client`.
    case client(serverKey: CurveKey, client: CurveKeyPair)

    public func apply(to socket: UnsafeMutableRawPointer, endpoint: String) throws {
        func set(_ option: Int32, _ key: CurveKey) throws {
            let bytes = key.bytes
            guard zmq_setsockopt(socket, option, bytes, bytes.count) == 0 else {
                throw PublisherError.socketFailed(endpoint: endpoint, operation: "setting a CURVE key", reason: zmqError())
            }
        }
        switch self {
        case .server(let keys):
            try setOption(socket, ZMQ_CURVE_SERVER, 1, endpoint)
            try set(ZMQ_CURVE_SECRETKEY, keys.secretKey)
        case .client(let serverKey, let client):
            try set(ZMQ_CURVE_SERVERKEY, serverKey)
            try set(ZMQ_CURVE_PUBLICKEY, client.publicKey)
            try set(ZMQ_CURVE_SECRETKEY, client.secretKey)
        }
    }
}

public enum Curve {
    /// Debian's libzmq is built with libsodium; a build without it cannot encrypt, and must say so rather than
    /// silently sending plain text.
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    public static func requireAvailable() throws {
        if !isAvailable { throw CurveKeyError.unavailable }
    }
}

public enum CurveKeyError: Error, Equatable, CustomStringConvertible {
    case unavailable
    case unreadable(file: String, reason: String)
    case malformed(origin: String, reason: String)
    case exists(file: String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case .unavailable:
            return "this libzmq was built without CURVE support (zmq_has(\"curve\") is false); install a libzmq built with libsodium"
        case .unreadable(let f, let r): return "cannot read CURVE key file \(f): \(r)"
        case .malformed(let o, let r): return "invalid CURVE key in \(o): \(r)"
        case .exists(let f): return "\(f) already exists; refusing to overwrite a key (remove it first or choose another --out)"
        case .writeFailed(let f, let r): return "cannot write \(f): \(r)"
        }
    }
}
