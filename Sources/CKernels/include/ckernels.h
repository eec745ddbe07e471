#ifndef ANOMALYD_CKERNELS_H
#define ANOMALYD_CKERNELS_H
#include <stddef.h>

/* AVX-512 inference kernels for the ViT forward: a GEMM over weights packed once, with bias, GELU and residual
 * fused into its epilogue; attention in one pass per head and block of query rows; LayerNorm. Every function
 * except ck_available needs the CPU features ck_available checks; callers fall back to OpenBLAS without them. */

/* 1 when this CPU (and OS) runs AVX-512F with FMA, else 0. */
int ck_available(void);

/* Floats needed to pack an [n, k] weight (n outputs, k inputs): n rounded up to 32, times k. */
size_t ck_packed_count(int n, int k);
/* Packs w [n, k] row-major into panels of 32 outputs, each [k][32], zero-padded past n. */
void ck_pack(float *dst, const float *w, int n, int k);

/* out[m, n] = inp[m, k]·Wᵀ + bias, then GELU (erf form) when gelu != 0, then + residual[m, n] when given.
 * `packed` comes from ck_pack; bias and residual may be NULL; residual may be out. */
void ck_linear(float *out, const float *inp, const float *packed, const float *bias, const float *residual,
               int m, int k, int n, int gelu);

/* Scratch floats ck_attention needs for `tokens` tokens of head width `hd`. */
size_t ck_attention_scratch(int tokens, int hd);
/* out[B, T, D] = concat_h softmax(q_h·k_hᵀ/√hd)·v_h over qkv [B, T, 3D] (each row [q | k | v]), for the query
 * rows q_begin ..< q_end of every sequence (threads split the rows). The T×T weights are never written out; when
 * cls_probs is given and q_begin is 0, the CLS query's row of each head's weights is written to
 * cls_probs[(b·heads + h)·cls_stride + j]. */
void ck_attention(float *out, float *cls_probs, size_t cls_stride, const float *qkv, float *scratch,
                  int batch, int tokens, int d, int heads, int q_begin, int q_end);

/* LayerNorm over rows of c channels; mean and rstd are written when not NULL. */
void ck_layernorm(float *out, const float *inp, const float *gamma, const float *beta, float *mean, float *rstd,
                  int rows, int c, float eps);

#endif
