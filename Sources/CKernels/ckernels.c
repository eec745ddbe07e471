/* The entry points: the instruction set this CPU runs, packing (the same for every instruction set), and each
 * kernel sent to its AVX-512 (avx512.c) or AVX2 (avx2.c) version. */
#include "ckernels.h"
#include "kernels.h"
#include <string.h>

#if defined(__x86_64__)

int ck_best_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) return CK_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CK_AVX2;
    return CK_NONE;
}

size_t ck_packed_count(int n, int k) { return (size_t)round_up(n, NR) * (size_t)k; }

void ck_pack(float *dst, const float *w, int n, int k) {
    int panels = (n + NR - 1) / NR;
    for (int p = 0; p < panels; p++) {
        float *panel = dst + (size_t)p * k * NR;
        for (int j = 0; j < NR; j++) {
            int o = p * NR + j;
            for (int i = 0; i < k; i++) panel[(size_t)i * NR + j] = o < n ? w[(size_t)o * k + i] : 0;
        }
    }
}

void ck_pack_keys(float *kt, const float *k, size_t ld, int t, int hd) {
    int panels = (t + NR - 1) / NR;
    memset(kt + (size_t)(panels - 1) * hd * NR, 0, sizeof(float) * hd * NR);
    for (int j = 0; j < t; j++) {
        float *col = kt + (size_t)(j / NR) * hd * NR + j % NR;
        for (int i = 0; i < hd; i++) col[i * NR] = k[(size_t)j * ld + i];
    }
}

size_t ck_attention_scratch(int tokens, int hd) {
    size_t tp = (size_t)round_up(tokens, NR);
    return (size_t)hd * tp + MR_MAX * tp + MR_MAX;
}

void ck_linear(int isa, float *out, const float *inp, const float *packed, const float *bias, const float *residual,
               int m, int k, int n, int gelu) {
    if (isa == CK_AVX512) ck512_linear(out, inp, packed, bias, residual, m, k, n, gelu);
    else ck256_linear(out, inp, packed, bias, residual, m, k, n, gelu);
}

void ck_attention(int isa, float *out, float *cls_probs, size_t cls_stride, const float *qkv, float *scratch,
                  int batch, int t, int d, int heads, int q_begin, int q_end) {
    if (isa == CK_AVX512) ck512_attention(out, cls_probs, cls_stride, qkv, scratch, batch, t, d, heads, q_begin, q_end);
    else ck256_attention(out, cls_probs, cls_stride, qkv, scratch, batch, t, d, heads, q_begin, q_end);
}

void ck_layernorm(int isa, float *out, const float *inp, const float *gamma, const float *beta, float *mean,
                  float *rstd, int rows, int c, float eps) {
    if (isa == CK_AVX512) ck512_layernorm(out, inp, gamma, beta, mean, rstd, rows, c, eps);
    else ck256_layernorm(out, inp, gamma, beta, mean, rstd, rows, c, eps);
}

#else
/* Other architectures: no instruction set, so nothing calls the kernels (the OpenBLAS path runs). */
int ck_best_isa(void) { return CK_NONE; }
size_t ck_packed_count(int n, int k) { (void)n; (void)k; return 0; }
void ck_pack(float *dst, const float *w, int n, int k) { (void)dst; (void)w; (void)n; (void)k; __builtin_trap(); }
void ck_linear(int isa, float *out, const float *inp, const float *packed, const float *bias, const float *residual,
               int m, int k, int n, int gelu) {
    (void)isa; (void)out; (void)inp; (void)packed; (void)bias; (void)residual; (void)m; (void)k; (void)n; (void)gelu;
    __builtin_trap();
}
size_t ck_attention_scratch(int tokens, int hd) { (void)tokens; (void)hd; return 0; }
void ck_attention(int isa, float *out, float *cls_probs, size_t cls_stride, const float *qkv, float *scratch,
                  int batch, int tokens, int d, int heads, int q_begin, int q_end) {
    (void)isa; (void)out; (void)cls_probs; (void)cls_stride; (void)qkv; (void)scratch; (void)batch; (void)tokens;
    (void)d; (void)heads; (void)q_begin; (void)q_end;
    __builtin_trap();
}
void ck_layernorm(int isa, float *out, const float *inp, const float *gamma, const float *beta, float *mean,
                  float *rstd, int rows, int c, float eps) {
    (void)isa; (void)out; (void)inp; (void)gamma; (void)beta; (void)mean; (void)rstd; (void)rows; (void)c; (void)eps;
    __builtin_trap();
}
#endif
