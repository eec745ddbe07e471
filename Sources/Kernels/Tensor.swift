/// A contiguous, row-major Float32 buffer with a shape. Owns its memory; kernels take raw pointers into it.
/// Not Sendable: it is scratch (or the storage of something that decides for itself whether it may be shared).
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>

    public init(_ shape: [Int]) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = .allocate(capacity: max(count, 1))
        self.data.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ shape: [Int], _ values: [Float]) {
        self.init(shape)
        precondition(values.count == count, "Tensor \(shape) needs \(count) values, got \(values.count)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { data.deallocate() }

    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public func zero() { data.update(repeating: 0, count: count) }
}
