import Foundation
import Logging

/// TEST-ONLY fault injection, for faults a test cannot cause from outside: `ANOMALYD_FAULT_INJECT=wedge-infer-after:N`
/// makes the inference stage of every pipeline stop for good (until cancelled) after it has scored N frames, the
/// way a hung BLAS call or a deadlocked stage would. Never set it in production.
public struct FaultInjection: Sendable, Equatable {
    public static let variable = "ANOMALYD_FAULT_INJECT"
    public static let current = FaultInjection(environment: ProcessInfo.processInfo.environment)

    /// Scored frames after which inference wedges.
    public let wedgeInferAfter: Int?

    public init(environment: [String: String]) {
        let spec = environment[Self.variable] ?? ""
        let prefix = "wedge-infer-after:"
        wedgeInferAfter = spec.hasPrefix(prefix) ? Int(spec.dropFirst(prefix.count)) : nil
    }

    /// Blocks (cancellably) once `scored` has reached the wedge point.
    func inferStage(scored: Int, logger: Logger) async throws {
        guard let after = wedgeInferAfter, scored >= after else { return }
        logger.warning("fault injection: wedging the inference stage", metadata: ["variable": "\(Self.variable)"])
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
