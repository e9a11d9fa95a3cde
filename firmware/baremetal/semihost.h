/* Semihosting output and exit (implemented in startup.c; QEMU needs -semihosting-config enable=on). */
#ifndef MCUFORGE_BAREMETAL_SEMIHOST_H
#define MCUFORGE_BAREMETAL_SEMIHOST_H

void semihost_write(const char *text);
void semihost_exit(int code) __attribute__((noreturn));

#endif
