import Kernels

/// The `engine:` section: how the process runs the teacher, shared by every pipeline on it (its weights are packed
/// once per process).
public struct EngineSettings: Decodable, Sendable, Equatable {
    /// What the teacher's matrix products multiply in: fp32, bf16 (AVX512_BF16) or int8 (AVX512_VNNI). nil: the
    /// process's default (`FastPath.precision`: fp32, or ANOMALYD_PRECISION). A CPU without the precision runs fp32
    /// and says so at start, so one file serves several machines.
    public var precision: FastPath.Precision?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case precision }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let raw = try c.decodeIfPresent(String.self, forKey: .precision) {
            guard let p = FastPath.Precision(rawValue: raw) else {
                throw DecodingError.dataCorruptedError(forKey: .precision, in: c, debugDescription:
                    "expected one of \(FastPath.Precision.allCases.map(\.rawValue).joined(separator: ", ")), got \(quoted(raw))")
            }
            precision = p
        }
    }

    /// The precision `run` packs the teacher in on this machine.
    public var effectivePrecision: FastPath.Precision { precision.map(FastPath.runnable) ?? FastPath.precision }
}

extension EngineSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { nil }
}
