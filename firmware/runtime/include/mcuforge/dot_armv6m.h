/* ARMv6-M (Cortex-M0/M0+: Thumb-1 only, no MLA, LDRSB only as [Rn, Rm]) inner loop of mf_dot4_body
 * in mcuforge/dot.h: acc[k] += sum_{i<n} w_k[i] * (x[i] + x_offset) for the four rows w_0..w_3.
 * gcc -Os spills three of the four accumulators to the stack on this core (the loop has 13 live
 * values, Thumb-1 arithmetic reaches only r0-r7), so it is scheduled by hand: the five end
 * pointers, the index and two temporaries in r0-r7, the accumulators and the offset in r8-r12
 * (ADD Rd, Rm reaches those). The index runs from -n up to 0 over end pointers, so its increment is
 * also the loop test: 2 + 3 per row + 2 = 16 instructions per 4 MACs. Same int32 sums, any order.
 * A naked function (arguments in one struct, r0) saves and restores every register it uses
 * itself: gcc's Thumb-1 register allocator cannot place that many inline-asm operands. MULS and
 * ADDS #imm are written as their encodings: their spelling differs between divided syntax (gcc
 * 12's Thumb-1 output) and unified syntax (newer gcc). */
#ifndef MCUFORGE_DOT_ARMV6M_H
#define MCUFORGE_DOT_ARMV6M_H

#include <stdint.h>

typedef struct {
    const int8_t *x_end, *w0_end, *w1_end, *w2_end, *w3_end; /* each row/vector start + n */
    int32_t minus_n;                                         /* -n, n > 0 */
    int32_t x_offset;
    int32_t *acc;                                            /* 4 accumulators, updated */
} mf_dot4_armv6m_args;

/* The loop's text; X_OFFSET_ADD is "add r6, r12\n\t" (x_offset in r12) or "" (no offset: the
 * specialised conv folds it into the bias, 15 instructions per 4 MACs). */
#define MF_DOT4_ARMV6M_ASM(X_OFFSET_ADD)                                        \
    __asm__ volatile(                                                           \
        "push {r4, r5, r6, r7}\n\t"                                             \
        "mov r4, r8\n\tmov r5, r9\n\tmov r6, r10\n\tmov r7, r11\n\t"            \
        "push {r4, r5, r6, r7}\n\t"                                             \
        "ldr r6, [r0, #24]\n\tmov r12, r6\n\t"          /* x_offset */         \
        "ldr r6, [r0, #28]\n\t"                          /* acc */              \
        "ldr r7, [r6, #0]\n\tmov r8, r7\n\t"                                    \
        "ldr r7, [r6, #4]\n\tmov r9, r7\n\t"                                    \
        "ldr r7, [r6, #8]\n\tmov r10, r7\n\t"                                   \
        "ldr r7, [r6, #12]\n\tmov r11, r7\n\t"                                  \
        "push {r6}\n\t"                                                         \
        "ldr r5, [r0, #20]\n\t"                          /* i = -n */           \
        "ldr r1, [r0, #4]\n\tldr r2, [r0, #8]\n\tldr r3, [r0, #12]\n\tldr r4, [r0, #16]\n\t" \
        "ldr r0, [r0, #0]\n"                                                    \
        "1:\n\t"                                                                \
        "ldrsb r6, [r0, r5]\n\t"                                                \
        X_OFFSET_ADD                                                            \
        "ldrsb r7, [r1, r5]\n\t"                                                \
        ".inst.n 0x4377\n\t" /* muls r7, r6 */                                  \
        "add r8, r7\n\t"                                                        \
        "ldrsb r7, [r2, r5]\n\t"                                                \
        ".inst.n 0x4377\n\t"                                                    \
        "add r9, r7\n\t"                                                        \
        "ldrsb r7, [r3, r5]\n\t"                                                \
        ".inst.n 0x4377\n\t"                                                    \
        "add r10, r7\n\t"                                                       \
        "ldrsb r7, [r4, r5]\n\t"                                                \
        ".inst.n 0x4377\n\t"                                                    \
        "add r11, r7\n\t"                                                       \
        ".inst.n 0x3501\n\t" /* adds r5, #1: ++i, Z at the end */               \
        "bne 1b\n\t"                                                            \
        "pop {r6}\n\t"                                                          \
        "mov r7, r8\n\tstr r7, [r6, #0]\n\t"                                    \
        "mov r7, r9\n\tstr r7, [r6, #4]\n\t"                                    \
        "mov r7, r10\n\tstr r7, [r6, #8]\n\t"                                   \
        "mov r7, r11\n\tstr r7, [r6, #12]\n\t"                                  \
        "pop {r4, r5, r6, r7}\n\t"                                              \
        "mov r8, r4\n\tmov r9, r5\n\tmov r10, r6\n\tmov r11, r7\n\t"            \
        "pop {r4, r5, r6, r7}\n\t"                                              \
        "bx lr\n\t")

__attribute__((naked, noinline, unused)) static void mf_dot4_armv6m_loop(const mf_dot4_armv6m_args *args)
{
    (void)args;
    MF_DOT4_ARMV6M_ASM("add r6, r12\n\t");
}

/* The same loop without the offset (args->x_offset unused). */
__attribute__((naked, noinline, unused)) static void mf_dot4_armv6m_loop_no_offset(const mf_dot4_armv6m_args *args)
{
    (void)args;
    MF_DOT4_ARMV6M_ASM("");
}

__attribute__((always_inline)) static inline void mf_dot4_armv6m(const int8_t *x, const int8_t *w0, int32_t w_stride,
                                                                int32_t n, int32_t x_offset, int32_t *acc)
{
    mf_dot4_armv6m_args args;
    if (n <= 0)
        return;
    args.x_end = x + n;
    args.w0_end = w0 + n;
    args.w1_end = w0 + w_stride + n;
    args.w2_end = w0 + 2 * w_stride + n;
    args.w3_end = w0 + 3 * w_stride + n;
    args.minus_n = -n;
    args.x_offset = x_offset;
    args.acc = acc;
    if (x_offset != 0)
        mf_dot4_armv6m_loop(&args);
    else
        mf_dot4_armv6m_loop_no_offset(&args);
}

/* acc[k] += sum_{i<n} w_k[i] * x[i] for the two rows w_0, w_1 (no offset): the same loop with two
 * rows, 9 instructions per 2 MACs, the accumulators in r3/r4 (no high registers). It runs the
 * specialised conv's leftover channels (out_c mod 4) that gcc's C loops spill on this core; x and
 * the rows are interchangeable (one channel of two pixels: x = the weights, rows = the patches).
 * Uses args->x_end, w0_end, w1_end, minus_n and acc. */
__attribute__((naked, noinline, unused)) static void mf_dot2_armv6m_loop(const mf_dot4_armv6m_args *args)
{
    (void)args;
    __asm__ volatile(
        "push {r4, r5, r6, r7}\n\t"
        "ldr r6, [r0, #28]\n\t"                         /* acc */
        "push {r6}\n\t"
        "ldr r3, [r6, #0]\n\tldr r4, [r6, #4]\n\t"
        "ldr r5, [r0, #20]\n\t"                         /* i = -n */
        "ldr r1, [r0, #4]\n\tldr r2, [r0, #8]\n\t"
        "ldr r0, [r0, #0]\n"
        "1:\n\t"
        "ldrsb r6, [r0, r5]\n\t"
        "ldrsb r7, [r1, r5]\n\t"
        ".inst.n 0x4377\n\t" /* muls r7, r6 */
        ".inst.n 0x19db\n\t" /* adds r3, r3, r7 */
        "ldrsb r7, [r2, r5]\n\t"
        ".inst.n 0x4377\n\t"
        ".inst.n 0x19e4\n\t" /* adds r4, r4, r7 */
        ".inst.n 0x3501\n\t" /* adds r5, #1: ++i, Z at the end */
        "bne 1b\n\t"
        "pop {r6}\n\t"
        "str r3, [r6, #0]\n\tstr r4, [r6, #4]\n\t"
        "pop {r4, r5, r6, r7}\n\t"
        "bx lr\n\t");
}

__attribute__((always_inline)) static inline void mf_dot2_armv6m(const int8_t *x, const int8_t *w0, const int8_t *w1,
                                                                int32_t n, int32_t *acc)
{
    mf_dot4_armv6m_args args;
    if (n <= 0)
        return;
    args.x_end = x + n;
    args.w0_end = w0 + n;
    args.w1_end = w1 + n;
    args.minus_n = -n;
    args.acc = acc;
    mf_dot2_armv6m_loop(&args);
}

#endif /* MCUFORGE_DOT_ARMV6M_H */
