/* Test harnesses on QEMU: write bytes as hex lines over semihosting (tests/qemu_features.py
 * parses them). Include after semihost.h. */
#ifndef MF_HEX_OUT_H
#define MF_HEX_OUT_H

static void write_hex(const void *data, unsigned long bytes)
{
    static const char digits[] = "0123456789abcdef";
    static char line[2 * 64 + 2];
    const unsigned char *p = data;
    unsigned long i = 0;
    while (i < bytes) {
        int n = 0;
        for (; n < 64 && i < bytes; ++n, ++i) {
            line[2 * n] = digits[p[i] >> 4];
            line[2 * n + 1] = digits[p[i] & 15];
        }
        line[2 * n] = '\n';
        line[2 * n + 1] = 0;
        semihost_write(line);
    }
}

#endif /* MF_HEX_OUT_H */
