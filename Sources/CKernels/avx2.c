/* The AVX2+FMA kernels (8 lanes, 16 ymm registers), for CPUs without AVX-512 such as AMD Zen 3. They read the same
 * packed panels as avx512.c (32 columns wide), each as two halves of 16 columns, and compute the same functions. */
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

/* Compiled for AVX2 whatever the build's baseline: only reached when ck_best_isa() said CK_AVX2 or wider. */
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

/* The micro-tile: MR = 6 rows by 16 columns (two ymm per row): 12 accumulators, 2 registers for the panel row and
 * 1 for the broadcast, of 16. Query blocks are 6 rows too: the threads' 12-row ranges hold whole blocks. */
enum { MR = 6, NH = 16 };

/* All-ones in the first n lanes (n may be ≤ 0 or ≥ 8). */
static inline __m256i lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The first n lanes at p, zeros past them; a plain load when all 8 are there (masked moves are slow on AMD). */
static inline __m256 load(const float *p, int n) {
    return n >= 8 ? _mm256_loadu_ps(p) : n <= 0 ? _mm256_setzero_ps() : _mm256_maskload_ps(p, lanes(n));
}

static inline void store(float *p, __m256 v, int n) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else if (n > 0) _mm256_maskstore_ps(p, lanes(n), v);
}

static inline float reduce_add(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

static inline float reduce_max(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/* exp(x) as in avx512.c, but 2^n goes straight into the exponent bits (AVX2 has no scalef), which hold n ≤ 127:
 * hence the upper clamp of 88.3 rather than 88.7 (softmax only ever asks for x ≤ 0). */
static inline __m256 vexp(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3f)), _mm256_set1_ps(-87.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.442695040888963f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(EXP_P[0]);
    for (int i = 1; i < 6; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P[i]));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
}

/* Exact-form GELU as in avx512.c. */
static inline __m256 vgelu(__m256 v) {
    __m256 x = _mm256_mul_ps(v, _mm256_set1_ps(0.7071067811865476f));
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(4)), _mm256_set1_ps(-4));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(ERF_P[0]), q = _mm256_set1_ps(ERF_Q[0]);
    for (int i = 1; i < 7; i++) p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(ERF_P[i]));
    for (int i = 1; i < 5; i++) q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(ERF_Q[i]));
    __m256 erf = _mm256_div_ps(_mm256_mul_ps(x, p), q);
    __m256 half = _mm256_mul_ps(v, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(half, erf, half);
}

/* c[mr, nr] = epilogue(a[mr, k]·b[k, nr]) for nr ≤ 16, a with row stride lda (read by broadcasts), b with row
 * stride ldb. `full`: b's rows have 16 readable floats (a zero-padded panel), so the loop loads them plainly; else
 * it masks past nr (V's last head at the end of qkv). `mr` and `full` are constants in every call (see tile_any),
 * so the loops unroll and the accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile(const int mr, const int full, int k, const float *a, size_t lda,
                                                        const float *b, size_t ldb, int nr, float *c, size_t ldc,
                                                        epilogue e) {
    __m256i m0 = lanes(nr), m1 = lanes(nr - 8);
    __m256 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) c0[i] = c1[i] = _mm256_setzero_ps();
    for (int p = 0; p < k; p++) {
        /* The panel streams from L2 (the row tile's inputs stay in L1): ask for it a few rows early. */
        _mm_prefetch((const char *)(b + (p + 8) * ldb), _MM_HINT_T0);
        const float *bp = b + p * ldb;
        __m256 b0 = full ? _mm256_loadu_ps(bp) : _mm256_maskload_ps(bp, m0);
        __m256 b1 = full ? _mm256_loadu_ps(bp + 8) : _mm256_maskload_ps(bp + 8, m1);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            __m256 av = _mm256_broadcast_ss(a + i * lda + p);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
    }
    __m256 bias0 = e.bias ? load(e.bias, nr) : _mm256_setzero_ps();
    __m256 bias1 = e.bias ? load(e.bias + 8, nr - 8) : _mm256_setzero_ps();
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        __m256 v0 = c0[i], v1 = c1[i];
        if (e.rowscale) {
            __m256 s = _mm256_set1_ps(e.rowscale[i]);
            v0 = _mm256_mul_ps(v0, s);
            v1 = _mm256_mul_ps(v1, s);
        }
        v0 = _mm256_add_ps(v0, bias0);
        v1 = _mm256_add_ps(v1, bias1);
        if (e.gelu) {
            v0 = vgelu(v0);
            v1 = vgelu(v1);
        }
        if (e.res) {
            v0 = _mm256_add_ps(v0, load(e.res + i * e.ldr, nr));
            v1 = _mm256_add_ps(v1, load(e.res + i * e.ldr + 8, nr - 8));
        }
        store(c + i * ldc, v0, nr);
        store(c + i * ldc + 8, v1, nr - 8);
    }
}

static void tile_any(int mr, int full, int k, const float *a, size_t lda, const float *b, size_t ldb, int nr,
                     float *c, size_t ldc, epilogue e) {
    switch (mr * 2 + (full != 0)) {
#define CASE(r) case 2 * r: tile(r, 0, k, a, lda, b, ldb, nr, c, ldc, e); break; \
                case 2 * r + 1: tile(r, 1, k, a, lda, b, ldb, nr, c, ldc, e); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
#undef CASE
    }
}

/* The 16-column halves of a panel up to nr ≤ 32 columns, b's rows readable up to `readable` columns. */
static void panel(int mr, int k, const float *a, size_t lda, const float *b, size_t ldb, int nr, int readable,
                  float *c, size_t ldc, epilogue e) {
    for (int j = 0; j < nr; j += NH) {
        epilogue h = e;
        if (h.bias) h.bias += j;
        if (h.res) h.res += j;
        tile_any(mr, readable - j >= NH, k, a, lda, b + j, ldb, nr - j, c + j, ldc, h);
    }
}

void ck256_linear(float *out, const float *inp, const float *packed, const float *bias, const float *residual,
                  int m, int k, int n, int gelu) {
    int panels = (n + NR - 1) / NR;
    /* Row tiles outside, panels inside: the tile's rows of `inp` stay in L1 while the packed weights stream by. */
    for (int i0 = 0; i0 < m; i0 += MR) {
        int mr = m - i0 < MR ? m - i0 : MR;
        for (int p = 0; p < panels; p++) {
            int j0 = p * NR;
            epilogue e = {bias ? bias + j0 : NULL, residual ? residual + (size_t)i0 * n + j0 : NULL, (size_t)n, NULL, gelu};
            panel(mr, k, inp + (size_t)i0 * k, (size_t)k, packed + (size_t)p * k * NR, NR, n - j0 < NR ? n - j0 : NR,
                  NR, out + (size_t)i0 * n + j0, (size_t)n, e);
        }
    }
}

/* One row of scores (t of them, readable up to t rounded to 8) to exp(scale·(s − max)), zeros past t; returns
 * 1 / their sum. */
static float softmax_row(float *row, int t, float scale) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vm = ninf;
    for (int j = 0; j < t; j += 8)
        vm = _mm256_max_ps(vm, _mm256_blendv_ps(ninf, _mm256_loadu_ps(row + j), _mm256_castsi256_ps(lanes(t - j))));
    __m256 m = _mm256_set1_ps(reduce_max(vm) * scale), sc = _mm256_set1_ps(scale), sum = _mm256_setzero_ps();
    for (int j = 0; j < t; j += 8) {
        __m256 e = vexp(_mm256_fmsub_ps(_mm256_loadu_ps(row + j), sc, m));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(lanes(t - j)));
        _mm256_storeu_ps(row + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    return 1 / reduce_add(sum);
}

void ck256_attention(float *out, float *cls_probs, size_t cls_stride, const float *qkv, float *scratch,
                     int batch, int t, int d, int heads, int q_begin, int q_end) {
    const int hd = d / heads, tp = round_up(t, NR), panels = tp / NR;
    const size_t ld = 3 * (size_t)d;
    const float scale = 1 / sqrtf((float)hd);
    float *kt = scratch;                  /* this head's kᵀ as packed panels [panels][hd][32] */
    float *s = kt + (size_t)hd * tp;      /* one row block's scores, then weights [MR][tp] */
    float *inv = s + (size_t)MR_MAX * tp; /* 1 / each row's softmax sum, applied in the a·v tile */
    const epilogue none = {NULL, NULL, 0, NULL, 0};
    for (int b = 0; b < batch; b++) {
        for (int h = 0; h < heads; h++) {
            const float *q = qkv + (size_t)b * t * ld + (size_t)h * hd, *k = q + d, *v = q + 2 * d;
            ck_pack_keys(kt, k, ld, t, hd);
            for (int i0 = q_begin; i0 < q_end; i0 += MR) {
                int mr = q_end - i0 < MR ? q_end - i0 : MR;
                for (int p = 0; p < panels; p++)
                    panel(mr, hd, q + i0 * ld, ld, kt + (size_t)p * hd * NR, NR, NR, NR, s + p * NR, tp, none);
                /* The block of rows is in L1, no T×T matrix is written. */
                for (int i = 0; i < mr; i++) inv[i] = softmax_row(s + (size_t)i * tp, t, scale);
                if (cls_probs && i0 == 0) {
                    float *dst = cls_probs + (size_t)(b * heads + h) * cls_stride;
                    for (int j = 0; j < t; j++) dst[j] = s[j] * inv[0];
                }
                epilogue norm = {NULL, NULL, 0, inv, 0};
                for (int j0 = 0; j0 < hd; j0 += NR)
                    panel(mr, t, s, tp, v + j0, ld, hd - j0 < NR ? hd - j0 : NR, hd - j0,
                          out + ((size_t)b * t + i0) * d + (size_t)h * hd + j0, (size_t)d, norm);
            }
        }
    }
}

void ck256_layernorm(float *out, const float *inp, const float *gamma, const float *beta, float *mean, float *rstd,
                     int rows, int c, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * c;
        float *y = out + (size_t)r * c;
        __m256 acc = _mm256_setzero_ps();
        for (int i = 0; i < c; i += 8) acc = _mm256_add_ps(acc, load(x + i, c - i));
        float m = reduce_add(acc) / c;
        __m256 mv = _mm256_set1_ps(m);
        acc = _mm256_setzero_ps();
        for (int i = 0; i < c; i += 8) {
            __m256 dv = _mm256_and_ps(_mm256_sub_ps(load(x + i, c - i), mv), _mm256_castsi256_ps(lanes(c - i)));
            acc = _mm256_fmadd_ps(dv, dv, acc);
        }
        float s = 1 / sqrtf(reduce_add(acc) / c + eps);
        __m256 sv = _mm256_set1_ps(s);
        for (int i = 0; i < c; i += 8) {
            __m256 xh = _mm256_mul_ps(_mm256_sub_ps(load(x + i, c - i), mv), sv);
            store(y + i, _mm256_fmadd_ps(xh, load(gamma + i, c - i), load(beta + i, c - i)), c - i);
        }
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = s;
    }
}

#pragma clang attribute pop
#endif
