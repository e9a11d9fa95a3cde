/* Peak stack of a bare-metal harness: paint a window just below main's frame (no red zone on
 * Cortex-M or RV32 ilp32), run the code, then find the deepest word that no longer holds the pattern. */
#ifndef MCUFORGE_STACK_WATERMARK_H
#define MCUFORGE_STACK_WATERMARK_H

#include <stdint.h>

#define MF_STACK_PATTERN 0xA5A5A5A5u

extern uint32_t _ebss; /* end of .bss (linker script): the window never reaches below it */

typedef struct {
    uint32_t *low; /* lowest painted word */
    uint32_t *top; /* the caller's stack pointer when painting */
} mf_stack_window_t;

/* Always inlined, so `sp` is the caller's (main's) stack pointer. */
static inline __attribute__((always_inline)) mf_stack_window_t mf_stack_paint(uint32_t bytes)
{
    mf_stack_window_t win;
    uint32_t *w;
#if defined(__riscv)
    __asm__ volatile("mv %0, sp" : "=r"(win.top));
#else
    __asm__ volatile("mov %0, sp" : "=r"(win.top));
#endif
    win.low = win.top - bytes / 4u;
    if (win.low < &_ebss)
        win.low = &_ebss;
    for (w = win.low; w < win.top; ++w)
        *(volatile uint32_t *)w = MF_STACK_PATTERN;
    return win;
}

/* Bytes of the window used since mf_stack_paint(). */
static inline uint32_t mf_stack_used_bytes(mf_stack_window_t win)
{
    uint32_t *w;
    for (w = win.low; w < win.top && *(volatile uint32_t *)w == MF_STACK_PATTERN; ++w) {
    }
    return (uint32_t)(win.top - w) * 4u;
}

#endif
