/* Semihosting output and exit (implemented in startup.c; QEMU needs -semihosting-config enable=on). */
#ifndef MCUFORGE_BAREMETAL_SEMIHOST_H
#define MCUFORGE_BAREMETAL_SEMIHOST_H

#include <stdint.h>

/* One semihosting call: operation + parameter block, the host's answer. Arm: BKPT 0xAB; RISC-V: the
 * uncompressed slli / ebreak / srai sequence in one page. */
#if defined(__riscv)
static inline int32_t semihost_call(uint32_t op, const void *arg)
{
    /* The RISC-V semihosting trap: these three uncompressed instructions, in one page. */
    register uint32_t a0 __asm__("a0") = op;
    register const void *a1 __asm__("a1") = arg;
    __asm__ volatile(".option push\n\t.option norvc\n\t.balign 16\n\t"
                     "slli x0, x0, 0x1f\n\tebreak\n\tsrai x0, x0, 7\n\t.option pop"
                     : "+r"(a0) : "r"(a1) : "memory");
    return (int32_t)a0;
}
#else
static inline int32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}
#endif
void semihost_write(const char *text);
/* "<label><decimal value>\n" */
void semihost_write_count(const char *label, uint32_t value);
void semihost_exit(int code) __attribute__((noreturn));

#endif
