/* Inner product sum_i w[i] * (x[i] + x_offset) in int32: the accumulation of
 * TFLM's int8 ConvPerChannel / FullyConnected inner loops. Integer addition is
 * associative modulo 2^32, so any summation order is bit-exact.
 *
 * Cortex-M DSP fast path (__ARM_FEATURE_DSP, e.g. Cortex-M4/M7/M33): four int8 at a
 * time are loaded as one word, sign-extended into int16 pairs with SXTB16 (bytes 0,2
 * and, after a rotate, bytes 1,3 — the same split for x and w, so the products pair
 * up), offset with SADD16 (x + offset fits int16: |offset| <= 255), and accumulated
 * with SMLAD. MF_EMULATE_DSP substitutes C models of the four instructions so the
 * path is tested bit-exact on the (little-endian) host; elsewhere a portable loop runs. */
#ifndef MCUFORGE_DOT_H
#define MCUFORGE_DOT_H

#include <stdint.h>

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define MF_SXTB16(v) ((uint32_t)__sxtb16((int32_t)(v)))
#define MF_SADD16(a, b) ((uint32_t)__sadd16((int32_t)(a), (int32_t)(b)))
#define MF_SMLAD(a, b, acc) __smlad((int32_t)(a), (int32_t)(b), (acc))
#define MF_USE_DSP 1
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
#define MF_SXTB16(v) mf_emu_sxtb16(v)
#define MF_SADD16(a, b) mf_emu_sadd16((a), (b))
#define MF_SMLAD(a, b, acc) mf_emu_smlad((a), (b), (acc))
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
#else
static inline int32_t mf_dot_offset_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t x_offset)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; ++i)
        acc += w[i] * (x[i] + x_offset);
    return acc;
}
#endif

#endif /* MCUFORGE_DOT_H */
