/* Semihosting output and exit (implemented in startup.c; QEMU needs -semihosting-config enable=on). */
#ifndef MCUFORGE_BAREMETAL_SEMIHOST_H
#define MCUFORGE_BAREMETAL_SEMIHOST_H

#include <stdint.h>

void semihost_write(const char *text);
/* "<label><decimal value>\n" */
void semihost_write_count(const char *label, uint32_t value);
/* Any semihosting operation (SYS_OPEN 0x01, SYS_CLOSE 0x02, SYS_WRITE 0x05, SYS_READ 0x06, ...):
 * r0 = op, r1 = arg; returns r0. */
int32_t semihost_op(uint32_t op, const void *arg);
void semihost_exit(int code) __attribute__((noreturn));

#endif
