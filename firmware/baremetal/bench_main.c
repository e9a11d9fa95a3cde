/* Bare-metal benchmark harness: one inference of a generated native model between two marker
 * calls, then the outputs and the invoke's peak stack over semihosting.
 *
 * Build with -DMF_MODEL=<ident> -DMF_MODEL_UPPER=<IDENT> (`<ident>.h` on the include path), or with
 * -DMF_EMPTY for the baseline image (everything but the model). The input is
 * x[i] = ((i*13+5) % 101) - 50, written in place into the model's arena input slot.
 * Instructions per inference = trace lines between leaving mf_marker_begin and entering
 * mf_marker_end (the call into invoke and its return included). Exit code: 0, or 2 when
 * invoke returned an error. "stack" is the invoke's peak stack in bytes (painted window). */
#include <stdint.h>

#include "semihost.h"
#include "stack_watermark.h"

#ifndef MF_STACK_PAINT_BYTES
#define MF_STACK_PAINT_BYTES 16384 /* window below main's frame painted to measure peak stack */
#endif

#define MF_CAT(a, b) a##b
#define MF_XCAT(a, b) MF_CAT(a, b)
#define MF_STR(a) #a
#define MF_XSTR(a) MF_STR(a)

#ifndef MF_EMPTY
#include MF_XSTR(MF_MODEL.h)
#define MF_PREFIX MF_XCAT(mcuforge_, MF_MODEL)
#define MF_INVOKE MF_XCAT(MF_PREFIX, _invoke)
#define MF_INPUT_BUFFER MF_XCAT(MF_PREFIX, _input_buffer)
#define MF_INPUT_SIZE MF_XCAT(MF_XCAT(MCUFORGE_, MF_MODEL_UPPER), _INPUT_SIZE)
#define MF_OUTPUT_SIZE MF_XCAT(MF_XCAT(MCUFORGE_, MF_MODEL_UPPER), _OUTPUT_SIZE)
static int8_t output[MF_OUTPUT_SIZE];
#endif


__attribute__((noinline)) void mf_marker_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void mf_marker_end(void) { __asm__ volatile("" ::: "memory"); }

static void write_int(const char *label, int32_t value)
{
    char text[16];
    char *p = text + sizeof text - 1;
    uint32_t magnitude = value < 0 ? (uint32_t)0 - (uint32_t)value : (uint32_t)value;
    *p = '\0';
    do {
        *--p = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
    } while (magnitude != 0u);
    if (value < 0)
        *--p = '-';
    semihost_write(label);
    semihost_write(p);
}

int main(void)
{
    int status = 0;
    uint32_t stack_used;
    mf_stack_window_t stack = mf_stack_paint(MF_STACK_PAINT_BYTES);

#ifndef MF_EMPTY
    {
        int8_t *input = MF_INPUT_BUFFER();
        int32_t i;
        for (i = 0; i < MF_INPUT_SIZE; ++i)
            input[i] = (int8_t)(((i * 13 + 5) % 101) - 50);
        mf_marker_begin();
        status = MF_INVOKE(input, output);
        mf_marker_end();
        stack_used = mf_stack_used_bytes(stack);
        semihost_write("output:");
        for (i = 0; i < MF_OUTPUT_SIZE; ++i)
            write_int(" ", output[i]);
        semihost_write("\n");
    }
#else
    mf_marker_begin();
    mf_marker_end();
    stack_used = mf_stack_used_bytes(stack);
#endif
    write_int("status: ", status);
    write_int("\nstack: ", (int32_t)stack_used);
    semihost_write("\n");
    return status == 0 ? 0 : 2;
}
