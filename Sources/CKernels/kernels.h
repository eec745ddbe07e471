/* What ckernels.c (the entry points) shares with avx512.c and avx2.c (one instruction set's kernels each). */
#ifndef ANOMALYD_CKERNELS_INTERNAL_H
#define ANOMALYD_CKERNELS_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

/* Packed panels are NR = 32 columns wide for both instruction sets (two zmm, or two 16-column halves of four ymm),
 * so weights pack once whichever kernels run; attention's scratch holds up to MR_MAX = 12 query rows (the AVX-512
 * row tile; the AVX2 one is 6). */
enum { NR = 32, MR_MAX = 12 };

/* The polynomials both instruction sets evaluate (Sources/Kernels/FastMath.swift's), highest power first:
 * exp(r) = 1 + r + r²·P(r) on |r| ≤ ln 2 / 2, and erf(x) = x·GELU_P(x²) / GELU_Q(x²) on |x| ≤ 4. */
static const float EXP_P[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                               1.6666665459e-1f, 5.0000001201e-1f};
static const float ERF_P[7] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                               -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                               -1.60960333262415e-02f};
static const float ERF_Q[5] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                               -7.37332916720468e-03f, -1.42647390514189e-02f};

/* What a tile does to its sums before storing them: c = act(acc·rowscale[i] + bias) + res. */
typedef struct {
    const float *bias;      /* [nr], or NULL */
    const float *res;       /* row i at res + i·ldr, or NULL; may be the output */
    size_t ldr;
    const float *rowscale;  /* [mr], or NULL */
    int gelu;
} epilogue;

static inline int round_up(int x, int to) { return (x + to - 1) / to * to; }

/* One head's keys k[t][hd] (row stride ld) as packed panels kt[t/32][hd][32], zero past t: the q·kᵀ tile then reads
 * kᵀ like a weight panel. */
void ck_pack_keys(float *kt, const float *k, size_t ld, int t, int hd);

void ck512_linear(float *out, const float *inp, const float *packed, const float *bias, const float *residual,
                  int m, int k, int n, int gelu);
/* ck_linear over a bf16 panel (ck_pack_bf16); needs AVX512_BF16 (ck_has_bf16). */
void ck512_linear_bf16(float *out, const float *inp, const uint16_t *packed, const float *bias,
                       const float *residual, int m, int k, int n, int gelu);
/* Bytes of one int8 panel (ck_pack_int8): k rounded up to 4, times 32 outputs, then 32 scales and 32 sums. */
static inline size_t ck_panel_int8_bytes(int k) { return (size_t)round_up(k, 4) * NR + NR * (sizeof(float) + sizeof(int32_t)); }
/* ck_linear over an int8 panel (ck_pack_int8); needs AVX512_VNNI (ck_has_vnni). */
void ck512_linear_int8(float *out, const float *inp, const int8_t *packed, const float *bias,
                       const float *residual, int m, int k, int n, int gelu);
void ck512_attention(float *out, float *cls_probs, size_t cls_stride, const float *qkv, float *scratch,
                     int batch, int t, int d, int heads, int q_begin, int q_end);
void ck512_layernorm(float *out, const float *inp, const float *gamma, const float *beta, float *mean, float *rstd,
                     int rows, int c, float eps);

void ck256_linear(float *out, const float *inp, const float *packed, const float *bias, const float *residual,
                  int m, int k, int n, int gelu);
void ck256_attention(float *out, float *cls_probs, size_t cls_stride, const float *qkv, float *scratch,
                     int batch, int t, int d, int heads, int q_begin, int q_end);
void ck256_layernorm(float *out, const float *inp, const float *gamma, const float *beta, float *mean, float *rstd,
                     int rows, int c, float eps);

#endif
