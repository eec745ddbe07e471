/* What ckernels.c (the entry points) shares with avx512.c and avx2.c (one instruction set's kernels each). */
#ifndef ANOMALYD_CKERNELS_INTERNAL_H
#define ANOMALYD_CKERNELS_INTERNAL_H
#include <stddef.h>

/* Packed panels are NR = 32 columns wide for both instruction sets (two zmm, or two 16-column halves of four ymm),
 * so weights pack once whichever kernels run; attention's scratch holds up to MR_MAX = 12 query rows (the AVX-512
 * row tile; the AVX2 one is 6). */
enum { NR = 32, MR_MAX = 12 };

static inline int round_up(int x, int to) { return (x + to - 1) / to * to; }

/* One head's keys k[t][hd] (row stride ld) as packed panels kt[t/32][hd][32], zero past t: the q·kᵀ tile then reads
 * kᵀ like a weight panel. */
void ck_pack_keys(float *kt, const float *k, size_t ld, int t, int hd);

void ck512_linear(float *out, const float *inp, const float *packed, const float *bias, const float *residual,
                  int m, int k, int n, int gelu);
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
