/* Minimal bare-metal startup on QEMU for Cortex-M (mps2-an385 / mps2-an386 / microbit) and
 * RV32 (virt): vector table (Arm) or _start + trap vector (RISC-V), reset handler (copy .data,
 * zero .bss, enable the FPU when compiled for one, call main), fault handlers that exit QEMU
 * with a distinct code, and semihosting helpers. No libc, no interrupts: nothing is ever
 * enabled, so no handler but the faults can run. */
#include <stddef.h>
#include <stdint.h>

#include "semihost.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);

#define SEMIHOST_SYS_WRITE0 0x04
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026


void semihost_write(const char *text)
{
    semihost_call(SEMIHOST_SYS_WRITE0, text);
}

void semihost_write_count(const char *label, uint32_t value)
{
    char text[16];
    char *p = text + sizeof text - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    semihost_write(label);
    semihost_write(p);
    semihost_write("\n");
}

void semihost_exit(int code)
{
    /* SYS_EXIT_EXTENDED: QEMU exits with `code` (plain SYS_EXIT on 32-bit targets only knows 0/1). */
    static uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    semihost_call(SEMIHOST_SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    uint32_t *dst;
    for (dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
#if defined(__ARM_FP)
    /* CPACR: full access to CP10/CP11 before any floating-point instruction runs. */
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    semihost_exit(main());
}

static void fault(int code)
{
    semihost_write("FAULT\n");
    semihost_exit(code);
}

void NMI_Handler(void) { fault(120); }
void HardFault_Handler(void) { fault(121); }
void MemManage_Handler(void) { fault(122); }
void BusFault_Handler(void) { fault(123); }
void UsageFault_Handler(void) { fault(124); }
void Default_Handler(void) { fault(125); }

/* GCC may emit calls to these even in freestanding code (struct copies); gc-sections drops
 * them when unused, so they only count when the model needs them. */
void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memset(void *dst, int value, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = (uint8_t)value;
    return dst;
}

#if defined(__riscv)
/* _start: stack and global pointer from the linker script, every trap to fault 121, then C. */
__asm__(".section .text.start, \"ax\"\n"
        ".global _start\n"
        "_start:\n\t"
        ".option push\n\t.option norelax\n\t"
        "la gp, __global_pointer$\n\t"
        ".option pop\n\t"
        "la sp, _estack\n\t"
        "la t0, trap_entry\n\t"
        ".option push\n\t.option arch, +zicsr\n\t"
        "csrw mtvec, t0\n\t"
        ".option pop\n\t"
        "j Reset_Handler\n"
        ".balign 4\n"
        "trap_entry:\n\t"
        "j HardFault_Handler\n"
        ".previous");
#else
typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used)) const vector_t vector_table[16] = {
    (vector_t)(uintptr_t)&_estack,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
};
#endif
