/* Minimal bare-metal startup for Cortex-M on QEMU (mps2-an385 / mps2-an386): vector table,
 * reset handler (copy .data, zero .bss, enable the FPU when compiled for one, call main),
 * fault handlers that exit QEMU with a distinct code, and semihosting helpers. No libc, no
 * interrupts: nothing is ever enabled, so no handler but the faults can run. */
#include <stddef.h>
#include <stdint.h>

#include "semihost.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);

#define SEMIHOST_SYS_WRITE0 0x04
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static uint32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_write(const char *text)
{
    semihost_call(SEMIHOST_SYS_WRITE0, text);
}

int32_t semihost_op(uint32_t op, const void *arg)
{
    return (int32_t)semihost_call(op, arg);
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
    /* SYS_EXIT_EXTENDED: QEMU exits with `code` (plain SYS_EXIT on A32/T32 only knows 0/1). */
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
