/* Minimal GCC-only stand-in for CMSIS-Core's cmsis_compiler.h, for building the CMSIS-DSP f32
 * functions the feature twin uses where CMSIS-Core is absent (a host build without
 * __GNUC_PYTHON__, or a core without the DSP extension). arm_math_types.h includes it for any
 * compiler it does not know itself. Where CMSIS-Core's Include folder is also on the include path
 * (before or after this one) its cmsis_compiler.h is the one used: it also provides the
 * DSP-extension intrinsics (__QADD, __SMLAD, ...), which are not defined here.
 */
#ifndef MCUFORGE_CMSIS_COMPILER_H
#define MCUFORGE_CMSIS_COMPILER_H

/* A build that has CMSIS-Core further down the include path (a Zephyr application, whose own
 * include folders come before the modules'; TFLM's CMSIS-DSP puts arm_math.h in reach of
 * arm_vlog_f32.c) gets CMSIS-Core's header, intrinsics included, instead of this stand-in. */
#if defined(__has_include_next)
#if __has_include_next(<cmsis_compiler.h>)
#define MCUFORGE_CMSIS_COMPILER_IS_CMSIS_CORE 1
#endif
#endif

#if defined(MCUFORGE_CMSIS_COMPILER_IS_CMSIS_CORE)
#include_next <cmsis_compiler.h>
#else

#if !defined(__GNUC__)
#error "firmware/features/include/cmsis_compiler.h supports GCC-compatible compilers only; use CMSIS-Core"
#endif
#if defined(__ARM_FEATURE_DSP) && (__ARM_FEATURE_DSP == 1)
#error "this core has the DSP extension: CMSIS-DSP needs CMSIS-Core's intrinsics; add CMSIS-Core/Include to the include path"
#endif

#include <stdint.h>

#ifndef __ASM
#define __ASM __asm
#endif
#ifndef __INLINE
#define __INLINE inline
#endif
#ifndef __STATIC_INLINE
#define __STATIC_INLINE static inline
#endif
#ifndef __STATIC_FORCEINLINE
#define __STATIC_FORCEINLINE __attribute__((always_inline)) static inline
#endif
#ifndef __NO_RETURN
#define __NO_RETURN __attribute__((__noreturn__))
#endif
#ifndef __USED
#define __USED __attribute__((used))
#endif
#ifndef __WEAK
#define __WEAK __attribute__((weak))
#endif
#ifndef __PACKED
#define __PACKED __attribute__((packed, aligned(1)))
#endif
#ifndef __ALIGNED
#define __ALIGNED(x) __attribute__((aligned(x)))
#endif
#ifndef __RESTRICT
#define __RESTRICT __restrict
#endif

/* Count leading zeros (CLZ); 32 for 0. */
__STATIC_FORCEINLINE uint8_t __CLZ(uint32_t value)
{
    return value == 0U ? 32U : (uint8_t)__builtin_clz(value);
}

/* Signed saturate to `sat` bits (SSAT), 1 <= sat <= 32. */
__STATIC_FORCEINLINE int32_t __SSAT(int32_t value, uint32_t sat)
{
    if (sat >= 1U && sat <= 32U) {
        const int32_t max = (int32_t)((1U << (sat - 1U)) - 1U);
        const int32_t min = -1 - max;
        if (value > max)
            return max;
        if (value < min)
            return min;
    }
    return value;
}

/* Unsigned saturate to `sat` bits (USAT), 0 <= sat <= 31. */
__STATIC_FORCEINLINE uint32_t __USAT(int32_t value, uint32_t sat)
{
    if (sat <= 31U) {
        const uint32_t max = (1U << sat) - 1U;
        if (value > (int32_t)max)
            return max;
        if (value < 0)
            return 0U;
    }
    return (uint32_t)value;
}

/* Rotate right (ROR). */
__STATIC_FORCEINLINE uint32_t __ROR(uint32_t value, uint32_t shift)
{
    shift %= 32U;
    return shift == 0U ? value : (value >> shift) | (value << (32U - shift));
}

#endif /* MCUFORGE_CMSIS_COMPILER_IS_CMSIS_CORE */

#endif /* MCUFORGE_CMSIS_COMPILER_H */
