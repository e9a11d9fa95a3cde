/* Semihosting output and exit (implemented in startup.c; QEMU needs -semihosting-config enable=on). */
#ifndef MCUFORGE_BAREMETAL_SEMIHOST_H
#define MCUFORGE_BAREMETAL_SEMIHOST_H

#include <stdint.h>

int32_t semihost_call(uint32_t op, const void *arg); /* bkpt 0xAB (Arm) / slli-ebreak-srai (RISC-V) */
void semihost_write(const char *text);
void semihost_exit(int code) __attribute__((noreturn));

#endif
