/* The entry points: the instruction set this CPU runs, packing (the same for every instruction set), and each
 * kernel sent to its AVX-512 (avx512.c) or AVX2 (avx2.c) version; the bf16 and int8 GEMMs' packing and entries
 * (AVX-512 only). */
#include "ckernels.h"
#include "kernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

int ck_best_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) return CK_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CK_AVX2;
    return CK_NONE;
}

int ck_has_bf16(void) {
    /* ck_best_isa's AVX-512 includes the OS saving zmm state (XCR0), which bf16 needs too; the flag itself is
     * in leaf 7's subleaf 1, present when subleaf 0 reports at least one more. */
    unsigned a, b, c, d;
    if (ck_best_isa() != CK_AVX512 || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1) return 0;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 5) & 1;
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

/* fp32 to bf16, rounded to nearest even as vcvtne2ps2bf16 rounds (NaN stays NaN, quiet). */
static uint16_t to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

size_t ck_packed_bf16_count(int n, int k) { return (size_t)round_up(n, NR) * (size_t)round_up(k, 2); }

void ck_pack_bf16(uint16_t *dst, const float *w, int n, int k) {
    int panels = (n + NR - 1) / NR, kp = (k + 1) / 2;
    for (int p = 0; p < panels; p++) {
        uint16_t *panel = dst + (size_t)p * kp * 2 * NR;
        for (int j = 0; j < NR; j++) {
            int o = p * NR + j;
            for (int i = 0; i < 2 * kp; i++)
                panel[(size_t)(i / 2) * 2 * NR + 2 * j + i % 2] = o < n && i < k ? to_bf16(w[(size_t)o * k + i]) : 0;
        }
    }
}

void ck_linear_bf16(float *out, const float *inp, const uint16_t *packed, const float *bias, const float *residual,
                    int m, int k, int n, int gelu) {
    ck512_linear_bf16(out, inp, packed, bias, residual, m, k, n, gelu);
}

int ck_has_vnni(void) {
    /* As for bf16: AVX-512 with the OS's zmm state, then AVX512_VNNI, leaf 7 subleaf 0, ECX bit 11. */
    unsigned a, b, c, d;
    if (ck_best_isa() != CK_AVX512 || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (c >> 11) & 1;
}

size_t ck_packed_int8_bytes(int n, int k) { return (size_t)((n + NR - 1) / NR) * ck_panel_int8_bytes(k); }

void ck_pack_int8(int8_t *dst, const float *w, int n, int k) {
    const int panels = (n + NR - 1) / NR, kq = (k + 3) / 4;
    for (int p = 0; p < panels; p++) {
        int8_t *panel = dst + (size_t)p * ck_panel_int8_bytes(k);
        float *scale = (float *)(panel + (size_t)kq * 4 * NR);
        int32_t *sum = (int32_t *)(scale + NR);
        for (int j = 0; j < NR; j++) {
            int o = p * NR + j;
            const float *row = w + (size_t)o * k;
            /* Symmetric per output: ±max|w| maps to ±127 (−128 unused, so the range is symmetric). */
            float m = 0;
            for (int i = 0; o < n && i < k; i++) m = fmaxf(m, fabsf(row[i]));
            float s = m > 0 ? m / 127 : 1;
            int32_t total = 0;
            for (int i = 0; i < 4 * kq; i++) {
                int8_t q = o < n && i < k ? (int8_t)fmaxf(-127, fminf(127, nearbyintf(row[i] / s))) : 0;
                panel[(size_t)(i / 4) * 4 * NR + 4 * j + i % 4] = q;
                total += q;
            }
            scale[j] = s;
            sum[j] = total;
        }
    }
}

void ck_linear_int8(float *out, const float *inp, const int8_t *packed, const float *bias, const float *residual,
                    int m, int k, int n, int gelu) {
    ck512_linear_int8(out, inp, packed, bias, residual, m, k, n, gelu);
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
int ck_has_bf16(void) { return 0; }
size_t ck_packed_bf16_count(int n, int k) { (void)n; (void)k; return 0; }
void ck_pack_bf16(uint16_t *dst, const float *w, int n, int k) { (void)dst; (void)w; (void)n; (void)k; __builtin_trap(); }
void ck_linear_bf16(float *out, const float *inp, const uint16_t *packed, const float *bias, const float *residual,
                    int m, int k, int n, int gelu) {
    (void)out; (void)inp; (void)packed; (void)bias; (void)residual; (void)m; (void)k; (void)n; (void)gelu;
    __builtin_trap();
}
int ck_has_vnni(void) { return 0; }
size_t ck_packed_int8_bytes(int n, int k) { (void)n; (void)k; return 0; }
void ck_pack_int8(int8_t *dst, const float *w, int n, int k) { (void)dst; (void)w; (void)n; (void)k; __builtin_trap(); }
void ck_linear_int8(float *out, const float *inp, const int8_t *packed, const float *bias, const float *residual,
                    int m, int k, int n, int gelu) {
    (void)out; (void)inp; (void)packed; (void)bias; (void)residual; (void)m; (void)k; (void)n; (void)gelu;
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
