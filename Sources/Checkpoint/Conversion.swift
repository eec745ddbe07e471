/// Number of elements of `shape`, or nil if a dimension is negative or the product overflows.
func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dim in shape {
        guard dim >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dim)
        if overflow { return nil }
        count = product
    }
    return count
}

/// Bytes a tensor of `shape` and `dtype` occupies, or nil if that is not representable.
func storageSize(shape: [Int], dtype: DType) -> Int? {
    guard let count = elementCount(shape) else { return nil }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
    return overflow ? nil : bytes
}

/// Converts `count` little-endian elements of `dtype` at `source` (any alignment) to Float32.
/// Tensor data in a safetensors file has no alignment guarantee, so every load is unaligned.
func convertToFloat(_ source: UnsafeRawPointer, dtype: DType, count: Int, into destination: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        for i in 0..<count {
            let bits = UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            destination[i] = Float(bitPattern: bits)
        }
    case .f16:
        for i in 0..<count {
            let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            destination[i] = halfToFloat(bits)
        }
    case .bf16:
        for i in 0..<count {
            let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            destination[i] = bfloat16ToFloat(bits)
        }
    }
}

/// IEEE 754 binary16 to Float32; exact, including subnormals, infinities, NaN and signed zero.
@inline(__always)
func halfToFloat(_ bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
}

/// bfloat16 is the upper half of a Float32, so widening is a shift.
@inline(__always)
func bfloat16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}
