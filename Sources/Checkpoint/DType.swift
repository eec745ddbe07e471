/// Element types a safetensors checkpoint may hold that anomalyd reads (all converted to Float32).
public enum DType: String, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    public var byteSize: Int { self == .f32 ? 4 : 2 }
}
