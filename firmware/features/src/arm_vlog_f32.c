/* arm_vlog_f32: natural log of a float32 vector, linked INSTEAD of CMSIS-DSP's
 * FastMathFunctions/arm_vlog_f32.c (mcuforge.dsp.cmsis_dsp_sources.REPLACED) on the device and
 * in the host library the Python features run (mcuforge.dsp.host_dsp.vlog_f32 is this function).
 *
 * Why: CMSIS's version is `*pDst++ = logf(*pSrc++)`, so its bits are whatever the C library's
 * logf gives -- glibc's (vectorised libmvec under -ffast-math) on the host, newlib/picolibc's on
 * the device -- and they differ in the last bit. This one uses only float32 +, -, *, / (each a
 * single correctly rounded IEEE operation; compile with -ffp-contract=off so no FMA is formed)
 * and integer bit operations, so x86-64 SSE, Cortex-M4 FPU and Cortex-M3 soft float all give the
 * same bits. Accuracy against float64 log: < 1 ULP over the positive floats, subnormals
 * included (tests/test_vlog.py sweeps them).
 *
 * Method: x = 2^k * m with m in [sqrt(2)/2, sqrt(2)) (subnormals scaled by 2^25 first, exactly);
 * f = m - 1 (exact); s = f / (2 + f); log(m) = 2 atanh(s) = 2s + s*R, R = sum_j 2 z^j / (2j+1),
 * z = s^2 <= 0.0295, truncated after z^4 (the next term adds < 1e-9 relative). Written as
 * f - (hfsq - s*(hfsq + R)) with hfsq = f^2/2 (the same value: f - hfsq + s*hfsq = 2s), so the
 * exact f carries the result and the rounded s only enters the small correction. k*ln2 is split
 * into k*LN2_HI (exact: LN2_HI has 15 significant bits, |k| <= 150) + k*LN2_LO.
 * Special values as logf: log(+0) = log(-0) = -inf, log(x < 0) = NaN, log(NaN) = NaN,
 * log(+inf) = +inf.
 */
#include <stdint.h>
#include <string.h>

/* Only builds that compile CMSIS-DSP (features.block spectral / mfcc) have arm_math.h on their
 * include path; every other build globs this file too (all of firmware/features/src) and gets an
 * empty unit. */
#if defined(__has_include)
#if __has_include("arm_math.h")
#define MF_HAVE_CMSIS_DSP 1
#endif
#endif

#ifndef MF_HAVE_CMSIS_DSP
typedef int mf_vlog_unused; /* ISO C wants at least one declaration */
#else
#include "arm_math.h"

#define LN2_HI 0x1.62e4p-1f       /* ln 2 rounded to 15 significant bits */
#define LN2_LO 0x1.7f7d1cp-20f    /* float32(ln 2 - LN2_HI) */
#define C1 0x1.555556p-1f         /* 2/3 */
#define C2 0x1.99999ap-2f         /* 2/5 */
#define C3 0x1.24924ap-2f         /* 2/7 */
#define C4 0x1.c71c72p-3f         /* 2/9 */

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static float32_t log_one(float32_t x)
{
    uint32_t u = bits_of(x), mantissa;
    int32_t k = 0;
    float32_t f, s, z, w, r, hfsq, dk;

    if ((u & 0x7fffffffu) == 0)
        return float_of(0xff800000u);             /* -inf */
    if (u >= 0x7f800000u)                         /* negative, NaN or +inf */
        return (u == 0x7f800000u) ? x : float_of(0x7fc00000u);
    if (u < 0x00800000u) {                        /* subnormal: scale up exactly */
        u = bits_of(x * 0x1p25f);
        k = -25;
    }
    k += (int32_t)(u >> 23) - 127;
    mantissa = u & 0x007fffffu;
    if (mantissa > 0x3504f3u) {                   /* m >= sqrt(2): use m / 2, k + 1 */
        f = float_of(mantissa | 0x3f000000u) - 1.0f;
        k += 1;
    } else {
        f = float_of(mantissa | 0x3f800000u) - 1.0f;
    }
    s = f / (2.0f + f);
    z = s * s;
    w = z * z;
    r = z * (C1 + w * C3) + w * (C2 + w * C4);
    hfsq = 0.5f * f * f;
    dk = (float32_t)k;
    return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
}

ARM_DSP_ATTRIBUTE void arm_vlog_f32(const float32_t *pSrc, float32_t *pDst, uint32_t blockSize)
{
    uint32_t i;
    for (i = 0; i < blockSize; ++i)
        pDst[i] = log_one(pSrc[i]);
}
#endif /* MF_HAVE_CMSIS_DSP */
