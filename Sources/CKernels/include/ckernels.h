#ifndef ANOMALYD_CKERNELS_H
#define ANOMALYD_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/* Inference kernels for the ViT forward, in AVX-512 and in AVX2+FMA: a GEMM over weights packed once, with bias,
 * GELU and residual fused into its epilogue; attention in one pass per head and block of query rows; LayerNorm.
 * Both instruction sets read the same packed weights and scratch. Every function taking an `isa` needs a CPU
 * that runs it (ck_best_isa at least as wide); callers fall back to OpenBLAS when ck_best_isa is CK_NONE. */

/* The instruction sets the kernels come in, narrowest first. */
enum { CK_NONE = 0, CK_AVX2 = 1, CK_AVX512 = 2 };

/* The widest this CPU (and OS) runs: CK_AVX512 (AVX-512F), CK_AVX2 (AVX2 with FMA) or CK_NONE. */
int ck_best_isa(void);

/* Floats needed to pack an [n, k] weight (n outputs, k inputs): n rounded up to 32, times k. */
size_t ck_packed_count(int n, int k);
/* Packs w [n, k] row-major into panels of 32 outputs, each [k][32], zero-padded past n. */
void ck_pack(float *dst, const float *w, int n, int k);

/* out[m, n] = inp[m, k]·Wᵀ + bias, then GELU (erf form) when gelu != 0, then + residual[m, n] when given.
 * `packed` comes from ck_pack; bias and residual may be NULL; residual may be out. */
void ck_linear(int isa, float *out, const float *inp, const float *packed, const float *bias, const float *residual,
               int m, int k, int n, int gelu);

/* The bf16 GEMM, for CPUs with AVX512_BF16: weights rounded to bf16 once when packed, each row tile's inputs
 * rounded as it runs (both to nearest even), products summed in fp32; the epilogue is ck_linear's, in fp32. */
/* Whether this CPU (and OS) runs it: AVX-512 (ck_best_isa) and AVX512_BF16 (cpuid leaf 7 subleaf 1, EAX bit 5). */
int ck_has_bf16(void);
/* bf16 values (uint16) needed to pack an [n, k] weight: n rounded up to 32, times k rounded up to 2. */
size_t ck_packed_bf16_count(int n, int k);
/* Packs w [n, k] row-major into panels of 32 outputs, each [k/2][32][2] (two consecutive k of one output side by
 * side, as vdpbf16ps reads them), rounded to nearest even, zero-padded past n and past an odd k. */
void ck_pack_bf16(uint16_t *dst, const float *w, int n, int k);
/* ck_linear over weights from ck_pack_bf16. */
void ck_linear_bf16(float *out, const float *inp, const uint16_t *packed, const float *bias, const float *residual,
                    int m, int k, int n, int gelu);

/* The int8 GEMM, for CPUs with AVX512_VNNI: weights quantized once when packed, symmetric per output to s8
 * (scale max|w|/127, rounded to nearest even); each row of inputs quantized as it runs, asymmetric per row to u8
 * (scale (max − min)/255 over a range holding 0, zero point round(−min/scale)); exact int32 sums, dequantized in
 * fp32 before ck_linear's epilogue. Tests/Reference's Naive.linearInt8 repeats it step by step. */
/* Whether this CPU (and OS) runs it: AVX-512 (ck_best_isa) and AVX512_VNNI (cpuid leaf 7, ECX bit 11). */
int ck_has_vnni(void);
/* Bytes needed to pack an [n, k] weight: per 32 outputs, k rounded up to 4 bytes each, then 32 scales and sums. */
size_t ck_packed_int8_bytes(int n, int k);
/* Packs w [n, k] row-major into panels of 32 outputs, each [k/4][32][4] s8 (four consecutive k of one output side
 * by side, as vpdpbusd reads them), zero-padded past n and past k, followed by the panel's 32 scales (float) and
 * 32 sums of its quantized weights (int32, for the inputs' zero points). */
void ck_pack_int8(int8_t *dst, const float *w, int n, int k);
/* ck_linear over weights from ck_pack_int8. */
void ck_linear_int8(float *out, const float *inp, const int8_t *packed, const float *bias, const float *residual,
                    int m, int k, int n, int gelu);

/* Scratch floats ck_attention needs for `tokens` tokens of head width `hd`. */
size_t ck_attention_scratch(int tokens, int hd);
/* out[B, T, D] = concat_h softmax(q_h·k_hᵀ/√hd)·v_h over qkv [B, T, 3D] (each row [q | k | v]), for the query
 * rows q_begin ..< q_end of every sequence (threads split the rows). The T×T weights are never written out; when
 * cls_probs is given and q_begin is 0, the CLS query's row of each head's weights is written to
 * cls_probs[(b·heads + h)·cls_stride + j]. */
void ck_attention(int isa, float *out, float *cls_probs, size_t cls_stride, const float *qkv, float *scratch,
                  int batch, int tokens, int d, int heads, int q_begin, int q_end);

/* LayerNorm over rows of c channels; mean and rstd are written when not NULL. */
void ck_layernorm(int isa, float *out, const float *inp, const float *gamma, const float *beta, float *mean,
                  float *rstd, int rows, int c, float eps);

#endif
