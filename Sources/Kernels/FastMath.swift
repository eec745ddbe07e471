// Vectorisable exp and erf for the hot elementwise kernels (softmax, GELU). glibc's scalar expf/erff
// cost ~10 ns per call, which at ViT sizes is a large share of a forward pass; these run 8 lanes at a time.
// Accuracy (checked in KernelsTests against Foundation): exp within 2 ulp over [-87, 88], erf within 5e-7 absolute.

public typealias Vec = SIMD8<Float>

// Lane-wise min/max by compare-and-blend on the mask bits: the stdlib's pointwiseMin/Max are not lowered to
// vector instructions and showed up as 12% of a forward pass.
@inline(__always)
func select(_ mask: SIMDMask<SIMD8<Int32>>, _ a: Vec, _ b: Vec) -> Vec {
    let m = unsafeBitCast(mask, to: SIMD8<Int32>.self)
    let ai = unsafeBitCast(a, to: SIMD8<Int32>.self), bi = unsafeBitCast(b, to: SIMD8<Int32>.self)
    return unsafeBitCast((ai & m) | (bi & ~m), to: Vec.self)
}

@inline(__always) func vmax(_ a: Vec, _ b: Vec) -> Vec { select(a .> b, a, b) }
@inline(__always) func vmin(_ a: Vec, _ b: Vec) -> Vec { select(a .< b, a, b) }

@inline(__always)
public func vexp(_ xIn: Vec) -> Vec {
    // exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 (ln2 split in two for precision).
    let x = vmin(vmax(xIn, Vec(repeating: -87.3)), Vec(repeating: 88.7))
    // Adding 1.5·2^23 rounds to the nearest integer and leaves it in the low mantissa bits: a branch-free
    // float→int conversion (the generic SIMD conversion initialisers are not specialised and are slow).
    let shifted = x * 1.442695040888963 + 12582912
    let n = shifted - 12582912
    let r = x - n * 0.693359375 + n * 2.12194440e-4
    var p = Vec(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let er = p * r * r + r + 1
    let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    return er * unsafeBitCast((ni &+ 127) &<< 23, to: Vec.self)
}

@inline(__always)
public func vexp(_ x: Float) -> Float { vexp(Vec(repeating: x))[0] }

@inline(__always)
public func verf(_ xIn: Vec) -> Vec {
    // Rational minimax approximation on [-4, 4]; erf is +-1 in float32 beyond.
    let x = vmin(vmax(xIn, Vec(repeating: -4)), Vec(repeating: 4))
    let x2 = x * x
    var p = Vec(repeating: -2.72614225801306e-10)
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    var q = Vec(repeating: -1.45660718464996e-05)
    q = q * x2 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return x * p / q
}

@inline(__always)
public func verf(_ x: Float) -> Float { verf(Vec(repeating: x))[0] }

/// Applies a vector function over n floats, 8 at a time, with a padded tail.
@inline(__always)
func mapVec(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ n: Int, _ f: (Vec) -> Vec) {
    var i = 0
    while i + 8 <= n {
        store(f(load(inp + i)), out + i)
        i += 8
    }
    if i < n {
        var v = Vec(repeating: 0)
        for j in 0..<(n - i) { v[j] = inp[i + j] }
        let r = f(v)
        for j in 0..<(n - i) { out[i + j] = r[j] }
    }
}
