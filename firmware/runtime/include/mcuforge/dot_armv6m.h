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

/* The loop's text; X_OFFSET_ADD is "add r6, r12\n\t" (x_offset in r12) or "" (an offset of 0:
 * 15 instructions per 4 MACs). The specialised conv has its own loop (mf_rows_armv6m, below). */
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

/* acc[r] = bias[r] + sum_{i<n} w[i * R + r] * x[i] for R = 1..5 rows whose int32 weights are
 * interleaved tap by tap (mcuforge.codegen.conv_fast.armv6m_rows lays them out): one LDM loads the R
 * weights of a tap, so a tap costs LDRB + SXTB + LDM + R (MULS + ADD), 13 instructions for 5 MACs
 * (2.6 per MAC against 3.75 for the int8 4-row loop above, which loads every weight by itself).
 * Registers: x in r0, the weight cursor in r1, the tap's x in r2, its weights in r3..r(2+R), the
 * accumulators in r8..r(7+R) (r12 is the call-clobbered ip), the loop end in lr. The first n mod 4
 * taps run one at a time (up to x_mid), then four per pass with literal offsets. Same int32 sums as
 * mf_dot_offset_s8 with the offset folded into the bias, any order. */
typedef struct {
    const int8_t *x, *x_mid, *x_end; /* x_mid = x + n mod 4, x_end = x + n */
    const int32_t *w;                /* n * R interleaved weights */
    const int32_t *bias;             /* R */
    int32_t *acc;                    /* R, written */
} mf_rows_armv6m_args;

/* One tap at byte offset K of r0 for R rows; MULS rW, r2 is encoded as 0x4350 + W. */
#define MF_ROWS_TAP(K, LIST, MACS) "ldrb r2, [r0, #" #K "]\n\tsxtb r2, r2\n\tldmia r1!, " LIST "\n\t" MACS
#define MF_ROWS_MAC(W, A) ".inst.n 0x435" #W "\n\tadd r" #A ", r" #W "\n\t"
#define MF_ROWS_INIT(W, A, OFF) "ldr r3, [r1, #" #OFF "]\n\tmov r" #A ", r3\n\t"
#define MF_ROWS_STORE(W, A, OFF) "mov r3, r" #A "\n\tstr r3, [r2, #" #OFF "]\n\t"
#define MF_ROWS_1(F) F(3, 8, 0)
#define MF_ROWS_2(F) MF_ROWS_1(F) F(4, 9, 4)
#define MF_ROWS_3(F) MF_ROWS_2(F) F(5, 10, 8)
#define MF_ROWS_4(F) MF_ROWS_3(F) F(6, 11, 12)
#define MF_ROWS_5(F) MF_ROWS_4(F) F(7, 12, 16)
#define MF_ROWS_MAC3(W, A, OFF) MF_ROWS_MAC(W, A)

#define MF_ROWS_ARMV6M_ASM(EACH, LIST)                                                                  \
    __asm__ volatile(                                                                                   \
        "push {r4, r5, r6, r7, lr}\n\t"                                                                 \
        "mov r4, r8\n\tmov r5, r9\n\tmov r6, r10\n\tmov r7, r11\n\t"                                    \
        "push {r4, r5, r6, r7}\n\t"                                                                     \
        "ldr r1, [r0, #16]\n\t" /* bias */                                                              \
        EACH(MF_ROWS_INIT)                                                                              \
        "ldr r3, [r0, #20]\n\tpush {r3}\n\t" /* acc */                                                  \
        "ldr r3, [r0, #8]\n\tpush {r3}\n\t"  /* x_end */                                                \
        "ldr r3, [r0, #4]\n\tmov lr, r3\n\t" /* x_mid */                                                \
        "ldr r1, [r0, #12]\n\t"                                                                         \
        "ldr r0, [r0, #0]\n\t"                                                                          \
        "cmp r0, lr\n\t"                                                                                \
        "beq 2f\n"                                                                                      \
        "1:\n\t" MF_ROWS_TAP(0, LIST, EACH(MF_ROWS_MAC3))                                               \
        ".inst.n 0x3001\n\t" /* adds r0, #1 */                                                          \
        "cmp r0, lr\n\t"                                                                                \
        "bne 1b\n"                                                                                      \
        "2:\n\t"                                                                                        \
        "pop {r3}\n\tmov lr, r3\n\t"                                                                    \
        "cmp r0, lr\n\t"                                                                                \
        "beq 4f\n"                                                                                      \
        "3:\n\t" MF_ROWS_TAP(0, LIST, EACH(MF_ROWS_MAC3)) MF_ROWS_TAP(1, LIST, EACH(MF_ROWS_MAC3))     \
        MF_ROWS_TAP(2, LIST, EACH(MF_ROWS_MAC3)) MF_ROWS_TAP(3, LIST, EACH(MF_ROWS_MAC3))             \
        ".inst.n 0x3004\n\t" /* adds r0, #4 */                                                          \
        "cmp r0, lr\n\t"                                                                                \
        "bne 3b\n"                                                                                      \
        "4:\n\t"                                                                                        \
        "pop {r2}\n\t"                                                                                  \
        EACH(MF_ROWS_STORE)                                                                             \
        "pop {r4, r5, r6, r7}\n\t"                                                                      \
        "mov r8, r4\n\tmov r9, r5\n\tmov r10, r6\n\tmov r11, r7\n\t"                                    \
        "pop {r4, r5, r6, r7, pc}\n\t")

#define MF_ROWS_ARMV6M_FN(R, LIST)                                                                      \
    __attribute__((naked, noinline, unused)) static void mf_rows##R##_armv6m(const mf_rows_armv6m_args *args) \
    {                                                                                                   \
        (void)args;                                                                                     \
        MF_ROWS_ARMV6M_ASM(MF_ROWS_##R, LIST);                                                          \
    }
MF_ROWS_ARMV6M_FN(1, "{r3}")
MF_ROWS_ARMV6M_FN(2, "{r3, r4}")
MF_ROWS_ARMV6M_FN(3, "{r3, r4, r5}")
MF_ROWS_ARMV6M_FN(4, "{r3, r4, r5, r6}")
MF_ROWS_ARMV6M_FN(5, "{r3, r4, r5, r6, r7}")

/* acc[r] = bias[r] + sum_{i<n} w[i * rows + r] * x[i], r < rows (1..5), n > 0. */
__attribute__((always_inline)) static inline void mf_rows_armv6m(const int8_t *x, int32_t n, const int32_t *w,
                                                                const int32_t *bias, int32_t rows, int32_t *acc)
{
    mf_rows_armv6m_args args;
    args.x = x;
    args.x_mid = x + (n & 3);
    args.x_end = x + n;
    args.w = w;
    args.bias = bias;
    args.acc = acc;
    switch (rows) {
    case 5: mf_rows5_armv6m(&args); break;
    case 4: mf_rows4_armv6m(&args); break;
    case 3: mf_rows3_armv6m(&args); break;
    case 2: mf_rows2_armv6m(&args); break;
    default: mf_rows1_armv6m(&args); break;
    }
}

#endif /* MCUFORGE_DOT_ARMV6M_H */
