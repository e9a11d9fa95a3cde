#include "mcuforge/kernels.h"

/* Plain byte copy so the runtime needs no libc. */
void mf_copy_s8(int8_t *dst, const int8_t *src, int32_t count)
{
    int32_t i;
    if (!dst || !src || dst == src)
        return;
    for (i = 0; i < count; ++i)
        dst[i] = src[i];
}
