/* Device harness for the firmware stage: raw float window -> mcuforge_features -> model invoke.
 * With -DMF_WINDOW_PCM (audio, block mfcc) a window is MF_WINDOW_FLOATS int16 PCM samples instead,
 * and the features come from mcuforge_features_pcm (the float window is pcm / 32768).
 *
 * Test image (default): reads MF_WINDOWS_PATH (a host file relative to QEMU's working folder,
 * semihosting SYS_READ, one window of MF_WINDOW_FLOATS float32 per call) until end of file; for
 * each window writes the MF_OUTPUT_SIZE int8 logits to MF_LOGITS_PATH (SYS_WRITE). Each
 * features + invoke runs between the noinline markers mf_marker_begin / mf_marker_end
 * (instruction counts from an exec trace).
 * Prints "windows: N", "stack: B" (peak stack of the loop, painted window) and exits 0, or
 * 3 (file error), 4 (features error), 5 (invoke error).
 *
 * Deployable image (-DMF_DEPLOY): the same code with one window buffer, no test data, no file
 * I/O: what a device links (the sensor driver fills mf_window, the application reads mf_logits).
 * Needs -DMF_MODEL=<ident> -DMF_MODEL_UPPER=<IDENT> and `<ident>.h`, `mcuforge/features.h`. */
#include <stdint.h>

#include "mcuforge/features.h"
#include "semihost.h"
#include "stack_watermark.h"

#define MF_CAT(a, b) a##b
#define MF_XCAT(a, b) MF_CAT(a, b)
#define MF_STR(a) #a
#define MF_XSTR(a) MF_STR(a)
#include MF_XSTR(MF_MODEL.h)
#define MF_PREFIX MF_XCAT(mcuforge_, MF_MODEL)
#define MF_INVOKE MF_XCAT(MF_PREFIX, _invoke)
#define MF_OUTPUT_SIZE MF_XCAT(MF_XCAT(MCUFORGE_, MF_MODEL_UPPER), _OUTPUT_SIZE)

#ifndef MF_WINDOW_FLOATS
#error "define MF_WINDOW_FLOATS (window length x channels)"
#endif

#ifdef MF_WINDOW_PCM
int16_t mf_window[MF_WINDOW_FLOATS];
#define MF_FEATURES mcuforge_features_pcm
#else
float mf_window[MF_WINDOW_FLOATS];
#define MF_FEATURES mcuforge_features
#endif
static int8_t mf_input[MF_XCAT(MF_XCAT(MCUFORGE_, MF_MODEL_UPPER), _INPUT_SIZE)];
volatile int8_t mf_logits[MF_OUTPUT_SIZE];

/* One inference: features of mf_window, then the model; 0 or the harness exit code. */
static int infer(void)
{
    int8_t output[MF_OUTPUT_SIZE];
    int i;
    if (MF_FEATURES(mf_window, mf_input) != MCUFORGE_FEATURES_OK)
        return 4;
    if (MF_INVOKE(mf_input, output) != 0)
        return 5;
    for (i = 0; i < MF_OUTPUT_SIZE; ++i)
        mf_logits[i] = output[i];
    return 0;
}

#ifdef MF_DEPLOY
int main(void)
{
    return infer();
}
#else

#define MF_STACK_PAINT_BYTES 32768
#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define MODE_RB 1  /* "rb" */
#define MODE_WB 5  /* "wb" */


__attribute__((noinline)) void mf_marker_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void mf_marker_end(void) { __asm__ volatile("" ::: "memory"); }

static uint32_t length(const char *text)
{
    uint32_t n = 0;
    while (text[n] != '\0')
        ++n;
    return n;
}

static int32_t open_file(const char *path, uint32_t mode)
{
    uint32_t block[3];
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = mode;
    block[2] = length(path);
    return semihost_call(SYS_OPEN, block);
}

/* SYS_READ / SYS_WRITE return the number of bytes NOT transferred. */
static int32_t transfer(uint32_t op, int32_t handle, const void *data, uint32_t bytes)
{
    uint32_t block[3];
    block[0] = (uint32_t)handle;
    block[1] = (uint32_t)(uintptr_t)data;
    block[2] = bytes;
    return semihost_call(op, block);
}

int main(void)
{
    uint32_t windows = 0;
    int32_t in, out;
    int status = 0;

    mf_stack_window_t stack = mf_stack_paint(MF_STACK_PAINT_BYTES);

    in = open_file(MF_WINDOWS_PATH, MODE_RB);
    out = open_file(MF_LOGITS_PATH, MODE_WB);
    if (in < 0 || out < 0)
        return 3;
    while (transfer(SYS_READ, in, mf_window, sizeof mf_window) == 0) {
        int8_t logits[MF_OUTPUT_SIZE];
        int i;
        mf_marker_begin();
        status = infer();
        mf_marker_end();
        if (status != 0)
            break;
        for (i = 0; i < MF_OUTPUT_SIZE; ++i)
            logits[i] = mf_logits[i];
        if (transfer(SYS_WRITE, out, logits, sizeof logits) != 0) {
            status = 3;
            break;
        }
        ++windows;
    }
    semihost_call(SYS_CLOSE, &in);
    semihost_call(SYS_CLOSE, &out);
    semihost_write_count("windows: ", windows);
    semihost_write_count("stack: ", mf_stack_used_bytes(stack));
    return status;
}
#endif
