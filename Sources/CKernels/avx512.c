/* The AVX-512 kernels (16 lanes, 32 zmm registers). */
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Compiled for AVX-512 whatever the build's baseline: only reached when ck_best_isa() said CK_AVX512. */
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)

/* The micro-tile: MR rows by NR = 32 columns (two zmm per row), 24 accumulators in registers. */
enum { MR = MR_MAX };

/* exp(x) = 2^n·exp(r), n = round(x·log2 e), r = x − n·ln 2 (ln 2 in two parts); the polynomial is the one in
 * Sources/Kernels/FastMath.swift, and scalef applies 2^n without integer tricks. */
static inline __m512 vexp(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.7f)), _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.442695040888963f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(EXP_P[0]);
    for (int i = 1; i < 6; i++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P[i]));
    __m512 e = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1));
    return _mm512_scalef_ps(e, n);
}

/* Exact-form GELU, 0.5·x·(1 + erf(x/√2)), erf by the rational approximation in FastMath.swift. */
static inline __m512 vgelu(__m512 v) {
    __m512 x = _mm512_mul_ps(v, _mm512_set1_ps(0.7071067811865476f));
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(4)), _mm512_set1_ps(-4));
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(ERF_P[0]), q = _mm512_set1_ps(ERF_Q[0]);
    for (int i = 1; i < 7; i++) p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(ERF_P[i]));
    for (int i = 1; i < 5; i++) q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(ERF_Q[i]));
    __m512 erf = _mm512_div_ps(_mm512_mul_ps(x, p), q);
    __m512 half = _mm512_mul_ps(v, _mm512_set1_ps(0.5f));
    return _mm512_fmadd_ps(half, erf, half);
}

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* Stores a tile's sums c0/c1 (columns 0-15 and 16-31 of each row) through the epilogue, masked past nr: the fp32
 * and bf16 GEMMs differ only in how they multiply, never in what follows. */
static inline __attribute__((always_inline)) void finish(const int mr, const __m512 *c0, const __m512 *c1, int nr,
                                                          float *c, size_t ldc, epilogue e) {
    __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
    __m512 bias0 = e.bias ? _mm512_maskz_loadu_ps(m0, e.bias) : _mm512_setzero_ps();
    __m512 bias1 = e.bias ? _mm512_maskz_loadu_ps(m1, e.bias + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        __m512 v0 = c0[i], v1 = c1[i];
        if (e.rowscale) {
            __m512 s = _mm512_set1_ps(e.rowscale[i]);
            v0 = _mm512_mul_ps(v0, s);
            v1 = _mm512_mul_ps(v1, s);
        }
        v0 = _mm512_add_ps(v0, bias0);
        v1 = _mm512_add_ps(v1, bias1);
        if (e.gelu) {
            v0 = vgelu(v0);
            v1 = vgelu(v1);
        }
        if (e.res) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, e.res + i * e.ldr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, e.res + i * e.ldr + 16));
        }
        _mm512_mask_storeu_ps(c + i * ldc, m0, v0);
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, v1);
    }
}

/* c[mr, nr] = epilogue(a[mr, k]·b[k, nr]), a with row stride lda (read by broadcasts, never packed), b with row
 * stride ldb (a packed panel, or V's rows in attention), nr ≤ 32 (masked loads and stores past it). `mr` is a
 * constant in every call (see tile_any), so the loops unroll and the accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile(const int mr, int k, const float *a, size_t lda, const float *b,
                                                        size_t ldb, int nr, float *c, size_t ldc, epilogue e) {
    __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
    __m512 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int p = 0; p < k; p++) {
        /* The panel streams from L2 (the row tile's inputs stay in L1): ask for it a few rows early (+2 %). */
        _mm_prefetch((const char *)(b + (p + 8) * ldb), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + (p + 8) * ldb + 16), _MM_HINT_T0);
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b + p * ldb), b1 = _mm512_maskz_loadu_ps(m1, b + p * ldb + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[i * lda + p]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
    }
    finish(mr, c0, c1, nr, c, ldc, e);
}

static void tile_any(int mr, int k, const float *a, size_t lda, const float *b, size_t ldb, int nr, float *c,
                     size_t ldc, epilogue e) {
    switch (mr) {
#define CASE(r) case r: tile(r, k, a, lda, b, ldb, nr, c, ldc, e); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    }
}

void ck512_linear(float *out, const float *inp, const float *packed, const float *bias, const float *residual,
               int m, int k, int n, int gelu) {
    int panels = (n + NR - 1) / NR;
    /* Row tiles outside, panels inside: the tile's rows of `inp` stay in L1 while the packed weights stream by. */
    for (int i0 = 0; i0 < m; i0 += MR) {
        int mr = m - i0 < MR ? m - i0 : MR;
        for (int p = 0; p < panels; p++) {
            int j0 = p * NR;
            epilogue e = {bias ? bias + j0 : NULL, residual ? residual + (size_t)i0 * n + j0 : NULL, (size_t)n, NULL, gelu};
            tile_any(mr, k, inp + (size_t)i0 * k, (size_t)k, packed + (size_t)p * k * NR, NR, n - j0,
                     out + (size_t)i0 * n + j0, (size_t)n, e);
        }
    }
}

/* The bf16 GEMM (AVX512_BF16): vdpbf16ps multiplies pairs of bf16 and adds both products to fp32 lanes, so each
 * instruction does two k steps of 16 columns. Products of two bf16 are exact in fp32 and the sums stay fp32; only
 * the operands lose precision (8 bits of mantissa). The panel holds k in pairs, [k/2][32 columns][2] (ck_pack_bf16),
 * and the row tile's inputs are converted once per row tile, not once per panel. */
#define BF16 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx512bf16,avx2,fma")))

/* a: mr rows of kp bf16 pairs (one uint32 each, row stride lda pairs); b: one bf16 panel, kp pairs of 32 columns. */
static inline __attribute__((always_inline)) BF16 void tile_bf16(const int mr, int kp, const uint32_t *a, size_t lda,
                                                                  const uint16_t *b, int nr, float *c, size_t ldc,
                                                                  epilogue e) {
    __m512 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int q = 0; q < kp; q++) {
        const uint16_t *row = b + (size_t)q * 2 * NR;   /* 128 bytes: columns 0-15's pairs, then 16-31's */
        _mm_prefetch((const char *)(row + 8 * 2 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(row + 8 * 2 * NR + NR), _MM_HINT_T0);
        /* The panel is zero-padded to 32 columns, so no masks: the stores in finish drop columns past nr. */
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(row), b1 = (__m512bh)_mm512_loadu_si512(row + NR);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i * lda + q]);
            c0[i] = _mm512_dpbf16_ps(c0[i], av, b0);
            c1[i] = _mm512_dpbf16_ps(c1[i], av, b1);
        }
    }
    finish(mr, c0, c1, nr, c, ldc, e);
}

static BF16 void tile_bf16_any(int mr, int kp, const uint32_t *a, size_t lda, const uint16_t *b, int nr, float *c,
                               size_t ldc, epilogue e) {
    switch (mr) {
#define CASE(r) case r: tile_bf16(r, kp, a, lda, b, nr, c, ldc, e); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    }
}

BF16 void ck512_linear_bf16(float *out, const float *inp, const uint16_t *packed, const float *bias,
                            const float *residual, int m, int k, int n, int gelu) {
    const int panels = (n + NR - 1) / NR, kp = (k + 1) / 2;
    /* Each row converted 32 floats at a time (masked loads zero past k, which pads an odd k's last pair). */
    const size_t lda = (size_t)round_up(k, 32);
    uint16_t *a = aligned_alloc(64, sizeof(uint16_t) * MR * lda);
    for (int i0 = 0; i0 < m; i0 += MR) {
        int mr = m - i0 < MR ? m - i0 : MR;
        for (int i = 0; i < mr; i++) {
            const float *x = inp + (size_t)(i0 + i) * k;
            for (int p = 0; p < k; p += 32) {
                __m512 lo = _mm512_maskz_loadu_ps(lanes(k - p), x + p), hi = _mm512_maskz_loadu_ps(lanes(k - p - 16), x + p + 16);
                /* Round to nearest even, as ck_pack_bf16 rounds the weights; hi goes to the upper half. */
                _mm512_store_si512(a + i * lda + p, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
            }
        }
        for (int p = 0; p < panels; p++) {
            int j0 = p * NR;
            epilogue e = {bias ? bias + j0 : NULL, residual ? residual + (size_t)i0 * n + j0 : NULL, (size_t)n, NULL, gelu};
            tile_bf16_any(mr, kp, (const uint32_t *)a, lda / 2, packed + (size_t)p * kp * 2 * NR, n - j0,
                          out + (size_t)i0 * n + j0, (size_t)n, e);
        }
    }
    free(a);
}

/* The int8 GEMM (AVX512_VNNI): vpdpbusd multiplies four u8 by four s8 and adds the four products to an int32
 * lane, so each instruction does four k steps of 16 columns, and the sums are exact. Weights are s8, one scale per
 * output (ck_pack_int8); each row tile's inputs are quantized here, once per row tile, to u8 with one scale and zero
 * point per row (asymmetric: a row after GELU is nearly all positive, and would waste half of a symmetric range).
 * Σ (qa − z)·qw = Σ qa·qw − z·Σ qw, and Σ qw per output is packed with the weights, so the zero point costs one
 * multiply per row and panel. The panel holds k in quads, [k/4][32 columns][4]. */
#define VNNI __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx512vnni,avx2,fma")))

/* One row of k floats to u8 (masked loads zero past k: padding quantizes to z, against zero weights). The scalar
 * arithmetic is spelled out, without contractions, so that the tests' emulation (Tests/Reference) can repeat it. */
static inline VNNI void quantize_row(uint8_t *q, float *scale, int32_t *zero, const float *x, int k, int kpad) {
    __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();   /* the range holds 0, so z is in 0...255 */
    for (int p = 0; p < k; p += 16) {
        __m512 v = _mm512_maskz_loadu_ps(lanes(k - p), x + p);
        lo = _mm512_min_ps(lo, v);
        hi = _mm512_max_ps(hi, v);
    }
    float range = _mm512_reduce_max_ps(hi) - _mm512_reduce_min_ps(lo);
    float s = range > 0 ? range / 255 : 1, inv = 1 / s;
    float zf = -_mm512_reduce_min_ps(lo) * inv;
    int32_t z = (int32_t)nearbyintf(zf);
    __m512 vinv = _mm512_set1_ps(inv);
    __m512i vz = _mm512_set1_epi32(z), v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
    for (int p = 0; p < kpad; p += 16) {
        /* cvtps rounds to nearest even (MXCSR's default), as nearbyintf does. */
        __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(lanes(k - p), x + p), vinv)), vz);
        _mm_store_si128((__m128i *)(q + p), _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, v0), v255)));
    }
    *scale = s;
    *zero = z;
}

/* a: mr rows of kq u8 quads (one uint32 each, row stride lda quads), scale and zero point per row; b: one s8 panel,
 * kq quads of 32 columns, then the panel's 32 weight scales and 32 weight sums (ck_pack_int8). */
static inline __attribute__((always_inline)) VNNI void tile_int8(const int mr, int kq, const uint32_t *a, size_t lda,
                                                                  const float *ascale, const int32_t *azero,
                                                                  const int8_t *b, int nr, float *c, size_t ldc,
                                                                  epilogue e) {
    __m512i c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) c0[i] = c1[i] = _mm512_setzero_si512();
    for (int q = 0; q < kq; q++) {
        const int8_t *row = b + (size_t)q * 4 * NR;   /* 128 bytes: columns 0-15's quads, then 16-31's */
        _mm_prefetch((const char *)(row + 8 * 4 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(row + 8 * 4 * NR + 2 * NR), _MM_HINT_T0);
        __m512i b0 = _mm512_loadu_si512(row), b1 = _mm512_loadu_si512(row + 2 * NR);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            __m512i av = _mm512_set1_epi32((int)a[i * lda + q]);
            c0[i] = _mm512_dpbusd_epi32(c0[i], av, b0);
            c1[i] = _mm512_dpbusd_epi32(c1[i], av, b1);
        }
    }
    /* Dequantize: (Σ qa·qw − z·Σ qw), exact in int32, to float, times (row scale · column scale). */
    const float *wscale = (const float *)(b + (size_t)kq * 4 * NR);
    const int32_t *wsum = (const int32_t *)(wscale + NR);
    __m512 s0 = _mm512_loadu_ps(wscale), s1 = _mm512_loadu_ps(wscale + 16);
    __m512i w0 = _mm512_loadu_si512(wsum), w1 = _mm512_loadu_si512(wsum + 16);
    __m512 f0[MR], f1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        __m512i z = _mm512_set1_epi32(azero[i]);
        __m512 rs = _mm512_set1_ps(ascale[i]);
        f0[i] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c0[i], _mm512_mullo_epi32(z, w0))), _mm512_mul_ps(rs, s0));
        f1[i] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c1[i], _mm512_mullo_epi32(z, w1))), _mm512_mul_ps(rs, s1));
    }
    finish(mr, f0, f1, nr, c, ldc, e);
}

static VNNI void tile_int8_any(int mr, int kq, const uint32_t *a, size_t lda, const float *ascale,
                               const int32_t *azero, const int8_t *b, int nr, float *c, size_t ldc, epilogue e) {
    switch (mr) {
#define CASE(r) case r: tile_int8(r, kq, a, lda, ascale, azero, b, nr, c, ldc, e); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    }
}

VNNI void ck512_linear_int8(float *out, const float *inp, const int8_t *packed, const float *bias,
                            const float *residual, int m, int k, int n, int gelu) {
    const int panels = (n + NR - 1) / NR, kq = (k + 3) / 4;
    const size_t panel_bytes = ck_panel_int8_bytes(k);
    /* Rows padded to 16 bytes (one store per 16 floats); the tile reads kq quads of each. */
    const int kpad = round_up(k, 16);
    uint8_t *a = aligned_alloc(64, (size_t)MR * kpad);
    float ascale[MR];
    int32_t azero[MR];
    for (int i0 = 0; i0 < m; i0 += MR) {
        int mr = m - i0 < MR ? m - i0 : MR;
        for (int i = 0; i < mr; i++)
            quantize_row(a + (size_t)i * kpad, &ascale[i], &azero[i], inp + (size_t)(i0 + i) * k, k, kpad);
        for (int p = 0; p < panels; p++) {
            int j0 = p * NR;
            epilogue e = {bias ? bias + j0 : NULL, residual ? residual + (size_t)i0 * n + j0 : NULL, (size_t)n, NULL, gelu};
            tile_int8_any(mr, kq, (const uint32_t *)a, (size_t)kpad / 4, ascale, azero, packed + (size_t)p * panel_bytes,
                          n - j0, out + (size_t)i0 * n + j0, (size_t)n, e);
        }
    }
    free(a);
}

void ck512_attention(float *out, float *cls_probs, size_t cls_stride, const float *qkv, float *scratch,
                  int batch, int t, int d, int heads, int q_begin, int q_end) {
    const int hd = d / heads, tp = round_up(t, NR), panels = tp / NR;
    const size_t ld = 3 * (size_t)d;
    const float scale = 1 / sqrtf((float)hd);
    float *kt = scratch;                  /* this head's kᵀ as packed panels [panels][hd][32] */
    float *s = kt + (size_t)hd * tp;      /* one row tile's scores, then weights [MR][tp] */
    float *inv = s + (size_t)MR * tp;     /* 1 / each row's softmax sum, applied in the a·v tile */
    const epilogue none = {NULL, NULL, 0, NULL, 0};
    for (int b = 0; b < batch; b++) {
        for (int h = 0; h < heads; h++) {
            const float *q = qkv + (size_t)b * t * ld + (size_t)h * hd, *k = q + d, *v = q + 2 * d;
            ck_pack_keys(kt, k, ld, t, hd);
            for (int i0 = q_begin; i0 < q_end; i0 += MR) {
                int mr = q_end - i0 < MR ? q_end - i0 : MR;
                for (int p = 0; p < panels; p++)
                    tile_any(mr, hd, q + i0 * ld, ld, kt + (size_t)p * hd * NR, NR, NR, s + p * NR, tp, none);
                /* Softmax of scale·scores per row: the block of rows is in L1, no T×T matrix is written. */
                for (int i = 0; i < mr; i++) {
                    float *row = s + (size_t)i * tp;
                    __m512 vm = _mm512_set1_ps(-INFINITY);
                    for (int j = 0; j < t; j += 16) vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(vm, lanes(t - j), row + j));
                    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vm) * scale), sc = _mm512_set1_ps(scale);
                    __m512 sum = _mm512_setzero_ps();
                    for (int j = 0; j < t; j += 16) {
                        __mmask16 mk = lanes(t - j);
                        __m512 e = vexp(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(mk, row + j), sc, m));
                        e = _mm512_maskz_mov_ps(mk, e);
                        _mm512_mask_storeu_ps(row + j, mk, e);
                        sum = _mm512_add_ps(sum, e);
                    }
                    inv[i] = 1 / _mm512_reduce_add_ps(sum);
                }
                if (cls_probs && i0 == 0) {
                    float *dst = cls_probs + (size_t)(b * heads + h) * cls_stride;
                    for (int j = 0; j < t; j++) dst[j] = s[j] * inv[0];
                }
                epilogue norm = {NULL, NULL, 0, inv, 0};
                for (int j0 = 0; j0 < hd; j0 += NR)
                    tile_any(mr, t, s, tp, v + j0, ld, hd - j0, out + ((size_t)b * t + i0) * d + (size_t)h * hd + j0,
                             (size_t)d, norm);
            }
        }
    }
}

void ck512_layernorm(float *out, const float *inp, const float *gamma, const float *beta, float *mean, float *rstd,
                  int rows, int c, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * c;
        float *y = out + (size_t)r * c;
        __m512 acc = _mm512_setzero_ps();
        for (int i = 0; i < c; i += 16) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes(c - i), x + i));
        float m = _mm512_reduce_add_ps(acc) / c;
        __m512 mv = _mm512_set1_ps(m);
        acc = _mm512_setzero_ps();
        for (int i = 0; i < c; i += 16) {
            __mmask16 mk = lanes(c - i);
            __m512 dv = _mm512_maskz_sub_ps(mk, _mm512_maskz_loadu_ps(mk, x + i), mv);
            acc = _mm512_fmadd_ps(dv, dv, acc);
        }
        float s = 1 / sqrtf(_mm512_reduce_add_ps(acc) / c + eps);
        __m512 sv = _mm512_set1_ps(s);
        for (int i = 0; i < c; i += 16) {
            __mmask16 mk = lanes(c - i);
            __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + i), mv), sv);
            _mm512_mask_storeu_ps(y + i, mk, _mm512_fmadd_ps(xh, _mm512_maskz_loadu_ps(mk, gamma + i),
                                                             _mm512_maskz_loadu_ps(mk, beta + i)));
        }
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = s;
    }
}

#pragma clang attribute pop
#endif
