/* Inner product sum_i w[i] * (x[i] + x_offset) in int32: the accumulation of
 * TFLM's int8 ConvPerChannel / FullyConnected inner loops. Integer addition is
 * associative modulo 2^32, so any summation order is bit-exact.
 *
 * Cortex-M DSP fast path (__ARM_FEATURE_DSP, e.g. Cortex-M4/M7/M33): four int8 at a
 * time are loaded as one word, sign-extended into int16 pairs with SXTB16 (bytes 0,2
 * and, after a rotate, bytes 1,3 — the same split for x and w, so the products pair
 * up), offset with SADD16 (x + offset fits int16: |offset| <= 255), and accumulated
 * with SMLAD. MF_EMULATE_DSP substitutes C models of the four instructions so the
 * path is tested bit-exact on the (little-endian) host; elsewhere a portable loop runs
 * (on Thumb-2 without DSP, e.g. Cortex-M3, the 4-row loop is scheduled by hand in inline asm;
 * on ARMv6-M, Cortex-M0/M0+, by hand in mcuforge/dot_armv6m.h).
 *
 * mf_dot4_* / mf_matvec_* compute four rows per pass sharing the x loads (CMSIS-NN style);
 * mf_matvec_* also applies bias and the per-channel output stage. They are the hot loops of
 * CONV_2D (one valid contiguous span per output pixel) and FULLY_CONNECTED; the out-of-line
 * copies carry optimize("O2") because gcc -Os spills the accumulators. */
#ifndef MCUFORGE_DOT_H
#define MCUFORGE_DOT_H

#include <stdint.h>
#include "mcuforge/fixedpoint.h"

/* MF_ARMV6M: Cortex-M0/M0+ (Thumb-1 only). MF_ARMV6M_ONLY(a): the generated code's int32 array `a`
 * that only ARMv6-M kernels read (mcuforge.codegen.steps.ConstArray.guard), else a null pointer. */
#if defined(__thumb__) && !defined(__thumb2__)
#define MF_ARMV6M 1
#define MF_ARMV6M_ONLY(a) (a)
#else
#define MF_ARMV6M 0
#define MF_ARMV6M_ONLY(a) ((const int32_t *)0)
#endif

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define MF_SXTB16(v) ((uint32_t)__sxtb16((int32_t)(v)))
#define MF_SADD16(a, b) ((uint32_t)__sadd16((int32_t)(a), (int32_t)(b)))
#define MF_SMLAD(a, b, acc) __smlad((int32_t)(a), (int32_t)(b), (acc))
/* per-lane multiply-accumulate: bottom x bottom, top x top halfwords (depthwise: one channel a lane) */
#define MF_SMLABB(a, b, acc) __smlabb((int32_t)(a), (int32_t)(b), (acc))
#define MF_SMLATT(a, b, acc) __smlatt((int32_t)(a), (int32_t)(b), (acc))
#define MF_USE_DSP 1
#if defined(__arm__)
/* SXTB16 Rd, Rm, ROR #8 in one instruction (bytes 1 and 3). */
static inline uint32_t mf_sxtb16_ror8(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#define MF_SXTB16_ROR8(v) mf_sxtb16_ror8(v)
#else
#define MF_SXTB16_ROR8(v) MF_SXTB16(((v) >> 8) | ((v) << 24))
#endif
#elif defined(MF_EMULATE_DSP)
static inline uint32_t mf_emu_sxtb16(uint32_t v)
{
    const uint32_t lo = (uint32_t)(int32_t)(int8_t)(v & 0xFFu) & 0xFFFFu;
    const uint32_t hi = (uint32_t)(int32_t)(int8_t)((v >> 16) & 0xFFu) & 0xFFFFu;
    return lo | (hi << 16);
}
static inline uint32_t mf_emu_sadd16(uint32_t a, uint32_t b)
{
    const uint32_t lo = (a + b) & 0xFFFFu;
    const uint32_t hi = ((a >> 16) + (b >> 16)) & 0xFFFFu;
    return lo | (hi << 16);
}
static inline int32_t mf_emu_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    const int32_t lo = (int32_t)(int16_t)(a & 0xFFFFu) * (int32_t)(int16_t)(b & 0xFFFFu);
    const int32_t hi = (int32_t)(int16_t)(a >> 16) * (int32_t)(int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
}
static inline int32_t mf_emu_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)(a & 0xFFFFu) * (int32_t)(int16_t)(b & 0xFFFFu)));
}
static inline int32_t mf_emu_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)(a >> 16) * (int32_t)(int16_t)(b >> 16)));
}
#define MF_SMLABB(a, b, acc) mf_emu_smlabb((a), (b), (acc))
#define MF_SMLATT(a, b, acc) mf_emu_smlatt((a), (b), (acc))
#define MF_SXTB16(v) mf_emu_sxtb16(v)
#define MF_SADD16(a, b) mf_emu_sadd16((a), (b))
#define MF_SMLAD(a, b, acc) mf_emu_smlad((a), (b), (acc))
#define MF_SXTB16_ROR8(v) mf_emu_sxtb16(((v) >> 8) | ((v) << 24))
#define MF_USE_DSP 1
#endif

#if defined(MF_USE_DSP)
static inline uint32_t mf_load_u32(const int8_t *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, sizeof v); /* one (unaligned-capable) LDR on Cortex-M4+ */
    return v;
}

static inline uint32_t mf_ror8(uint32_t v)
{
    return (v >> 8) | (v << 24);
}

static inline int32_t mf_dot_offset_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t x_offset)
{
    const uint32_t offset2 = ((uint32_t)x_offset & 0xFFFFu) * 0x10001u;
    int32_t acc = 0;
    int32_t i = 0;
    for (; i + 3 < n; i += 4) {
        const uint32_t xv = mf_load_u32(x + i);
        const uint32_t wv = mf_load_u32(w + i);
        const uint32_t x02 = MF_SADD16(MF_SXTB16(xv), offset2);
        const uint32_t x13 = MF_SADD16(MF_SXTB16(mf_ror8(xv)), offset2);
        acc = MF_SMLAD(x02, MF_SXTB16(wv), acc);
        acc = MF_SMLAD(x13, MF_SXTB16(mf_ror8(wv)), acc);
    }
    for (; i < n; ++i)
        acc += w[i] * (x[i] + x_offset);
    return acc;
}

/* Four dot products at once sharing the x loads: acc[k] += sum_i w[k * w_stride + i] * (x[i] + x_offset)
 * for k = 0..3 (the CMSIS-NN multi-channel pattern). Same int32 sums as mf_dot_offset_s8. */
__attribute__((always_inline)) static inline void mf_dot4_body(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n,
                                                              int32_t x_offset, int32_t *acc)
{
    const uint32_t offset2 = ((uint32_t)x_offset & 0xFFFFu) * 0x10001u;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *const x_end4 = x + (n & ~3);
    const int8_t *const x_end = x + n;
    while (x != x_end4) {
        const uint32_t xv = mf_load_u32(x);
        const uint32_t x02 = MF_SADD16(MF_SXTB16(xv), offset2);
        const uint32_t x13 = MF_SADD16(MF_SXTB16_ROR8(xv), offset2);
        uint32_t wv;
        wv = mf_load_u32(w);
        a0 = MF_SMLAD(x02, MF_SXTB16(wv), a0);
        a0 = MF_SMLAD(x13, MF_SXTB16_ROR8(wv), a0);
        wv = mf_load_u32(w + w_stride);
        a1 = MF_SMLAD(x02, MF_SXTB16(wv), a1);
        a1 = MF_SMLAD(x13, MF_SXTB16_ROR8(wv), a1);
        wv = mf_load_u32(w + 2 * w_stride);
        a2 = MF_SMLAD(x02, MF_SXTB16(wv), a2);
        a2 = MF_SMLAD(x13, MF_SXTB16_ROR8(wv), a2);
        wv = mf_load_u32(w + 3 * w_stride);
        a3 = MF_SMLAD(x02, MF_SXTB16(wv), a3);
        a3 = MF_SMLAD(x13, MF_SXTB16_ROR8(wv), a3);
        x += 4;
        w += 4;
    }
    while (x != x_end) {
        const int32_t xi = *x++ + x_offset;
        a0 += w[0] * xi;
        a1 += w[w_stride] * xi;
        a2 += w[2 * w_stride] * xi;
        a3 += w[3 * w_stride] * xi;
        ++w;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#else
static inline int32_t mf_dot_offset_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t x_offset)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; ++i)
        acc += w[i] * (x[i] + x_offset);
    return acc;
}

#if defined(__thumb__) && !defined(__thumb2__) /* ARMv6-M (Cortex-M0/M0+): no Thumb-2 */
#include "mcuforge/dot_armv6m.h"
__attribute__((always_inline)) static inline void mf_dot4_body(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n,
                                                              int32_t x_offset, int32_t *acc)
{
    mf_dot4_armv6m(x, w, w_stride, n, x_offset, acc);
}
#else
__attribute__((always_inline)) static inline void mf_dot4_body(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n,
                                                              int32_t x_offset, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *w2 = w + 2 * w_stride;
    const int8_t *const x_end = x + n;
    if (n & 1) {
        const int32_t xi = *x++ + x_offset;
        a0 += w[0] * xi;
        a1 += w[w_stride] * xi;
        a2 += w2[0] * xi;
        a3 += w2[w_stride] * xi;
        ++w;
        ++w2;
    }
#if defined(__thumb2__)
    /* Thumb-2 without DSP (Cortex-M3): the same loop scheduled by hand, 10 instructions
     * per 4 MACs plus 2 per two elements (gcc spills at -Os). */
    if (x != x_end) {
        int32_t tx, tw;
        __asm__ volatile(
            "1:\n\t"
            "ldrsb %[tx], [%[x]], #1\n\t"
            "add %[tx], %[tx], %[off]\n\t"
            "ldrsb %[tw], [%[w], %[ws]]\n\t"
            "mla %[a1], %[tw], %[tx], %[a1]\n\t"
            "ldrsb %[tw], [%[w]], #1\n\t"
            "mla %[a0], %[tw], %[tx], %[a0]\n\t"
            "ldrsb %[tw], [%[w2], %[ws]]\n\t"
            "mla %[a3], %[tw], %[tx], %[a3]\n\t"
            "ldrsb %[tw], [%[w2]], #1\n\t"
            "mla %[a2], %[tw], %[tx], %[a2]\n\t"
            "ldrsb %[tx], [%[x]], #1\n\t"
            "add %[tx], %[tx], %[off]\n\t"
            "ldrsb %[tw], [%[w], %[ws]]\n\t"
            "mla %[a1], %[tw], %[tx], %[a1]\n\t"
            "ldrsb %[tw], [%[w]], #1\n\t"
            "mla %[a0], %[tw], %[tx], %[a0]\n\t"
            "ldrsb %[tw], [%[w2], %[ws]]\n\t"
            "mla %[a3], %[tw], %[tx], %[a3]\n\t"
            "ldrsb %[tw], [%[w2]], #1\n\t"
            "mla %[a2], %[tw], %[tx], %[a2]\n\t"
            "cmp %[x], %[xe]\n\t"
            "bne 1b\n\t"
            : [x] "+r"(x), [w] "+r"(w), [w2] "+r"(w2), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2),
              [a3] "+r"(a3), [tx] "=&r"(tx), [tw] "=&r"(tw)
            : [ws] "r"(w_stride), [off] "r"(x_offset), [xe] "r"(x_end)
            : "cc", "memory");
    }
#else
    while (x != x_end) {
        int32_t xi = x[0] + x_offset;
        a0 += w[0] * xi;
        a1 += w[w_stride] * xi;
        a2 += w2[0] * xi;
        a3 += w2[w_stride] * xi;
        xi = x[1] + x_offset;
        a0 += w[1] * xi;
        a1 += w[w_stride + 1] * xi;
        a2 += w2[1] * xi;
        a3 += w2[w_stride + 1] * xi;
        x += 2;
        w += 2;
        w2 += 2;
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif /* ARMv6-M */
#endif

/* acc[k] += sum_i w[k * w_stride + i] * (x[i] + x_offset), k = 0..3. */
__attribute__((noinline, unused, optimize("O2"))) static void mf_dot4_offset_s8(const int8_t *x, const int8_t *w,
                                                                              int32_t w_stride, int32_t n,
                                                                              int32_t x_offset, int32_t *acc)
{
    mf_dot4_body(x, w, w_stride, n, x_offset, acc);
}

/* Output stage parameters of mf_matvec_s8. */
typedef struct {
    const int32_t *bias;       /* may be NULL */
    const int32_t *multiplier; /* per row, or one entry when q_step == 0 */
    const int32_t *shift;
    int32_t q_step;            /* 1: per-channel multiplier/shift, 0: per tensor */
    int32_t x_offset, output_offset, act_min, act_max;
} mf_matvec_params;

/* out[r] = requantize(bias[r] + sum_{i<n} w[r * w_stride + i] * (x[i] + x_offset)) for r < rows:
 * a fully-connected layer, or one conv output pixel whose valid taps are one contiguous span.
 * Four rows per pass share the x loads. Same int32 sums as TFLM, any order (exact). */
__attribute__((always_inline)) static inline void mf_matvec_body(const int8_t *x, const int8_t *w, int32_t w_stride,
                                                                int32_t n, int32_t rows, const mf_matvec_params *mp,
                                                                int8_t *out)
{
    const int32_t *const bias = mp->bias;
    const int32_t *const multiplier = mp->multiplier;
    const int32_t *const shift = mp->shift;
    const int32_t q_step = mp->q_step, x_offset = mp->x_offset;
    const int32_t output_offset = mp->output_offset, act_min = mp->act_min, act_max = mp->act_max;
    int32_t r = 0, k;
    for (; r + 3 < rows; r += 4) {
        int32_t acc[4];
        for (k = 0; k < 4; ++k)
            acc[k] = bias ? bias[r + k] : 0;
        mf_dot4_body(x, w + r * w_stride, w_stride, n, x_offset, acc);
        for (k = 0; k < 4; ++k) {
            const int32_t q = (r + k) * q_step;
            out[r + k] = mf_requantize_s8(acc[k], multiplier[q], shift[q], output_offset, act_min, act_max);
        }
    }
    for (; r < rows; ++r) {
        const int32_t q = r * q_step;
        int32_t a = bias ? bias[r] : 0;
        a += mf_dot_offset_s8(x, w + r * w_stride, n, x_offset);
        out[r] = mf_requantize_s8(a, multiplier[q], shift[q], output_offset, act_min, act_max);
    }
}

/* Out-of-line mf_matvec_body (one copy per translation unit that uses it). */
__attribute__((noinline, unused, optimize("O2"))) static void mf_matvec_s8(const int8_t *x, const int8_t *w,
                                                                         int32_t w_stride, int32_t n, int32_t rows,
                                                                         const mf_matvec_params *mp, int8_t *out)
{
    mf_matvec_body(x, w, w_stride, n, rows, mp, out);
}

#endif /* MCUFORGE_DOT_H */
