/* Streaming keyword-spotting harness (features block mfcc): one MFCC frame per hop into a ring
 * buffer, the classifier every MF_STREAM_EVERY hops, smoothing, threshold detection -- the loop is
 * firmware/src/kws_stream.c (shared with the Zephyr microphone app); this file feeds it a file.
 * Python twin: mcuforge.firmware.streaming (stream_reference, detect).
 *
 * Reads int16 PCM from MF_STREAM_PATH (semihosting) HOP_LENGTH samples per hop until end of file.
 * Hop h holds frame h = samples [h * HOP, h * HOP + FRAME_LENGTH); what a hop does: kws_stream.h.
 * Writes per classification: int32 hop, MF_OUTPUT_SIZE int8 logits, int8 detection (-1 none).
 * Each hop (frame + any classification) runs between mf_marker_begin / mf_marker_end.
 * Prints "hops: N", "classifications: N", "stack: B"; exits 0, 3 (file), 4 (features), 5 (invoke). */
#include <stdint.h>
#include <string.h>

#include "mcuforge/features.h"
#include "mcuforge_features_config.h"
#include "kws_stream.h"
#include "semihost.h"
#include "stack_watermark.h"

#define MF_CAT(a, b) a##b
#define MF_XCAT(a, b) MF_CAT(a, b)
#define MF_STR(a) #a
#define MF_XSTR(a) MF_STR(a)
#include MF_XSTR(MF_MODEL.h)
#define MF_INVOKE MF_XCAT(MF_XCAT(mcuforge_, MF_MODEL), _invoke)
#define MF_OUTPUT_SIZE MF_XCAT(MF_XCAT(MCUFORGE_, MF_MODEL_UPPER), _OUTPUT_SIZE)

#define FRAME MCUFORGE_FEATURES_FRAME_LENGTH
#define HOP MCUFORGE_FEATURES_HOP_LENGTH
#define N_FRAMES MCUFORGE_FEATURES_N_FRAMES
#define N_COEFFS MCUFORGE_FEATURES_N_COEFFS
#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE 0x05
#define SYS_READ 0x06

static int16_t pcm[FRAME + HOP];         /* the current frame, then room for the next hop */
static int8_t history[MF_STREAM_SMOOTH][MF_OUTPUT_SIZE];
static int32_t sums[MF_OUTPUT_SIZE];
static struct mf_kws_stream stream;

__attribute__((noinline)) void mf_marker_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void mf_marker_end(void) { __asm__ volatile("" ::: "memory"); }

static int32_t file_call(uint32_t op, uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t block[3] = {a, b, c};
    return semihost_call(op, block);
}

/* One hop (frame + any classification, in firmware/src/kws_stream.c). Returns 1 when a record was
 * written to *record, 0 when not, or -(exit code). */
static int hop_step(int8_t *record)
{
    int detected = -1;
    int wrote = mf_kws_stream_hop(&stream, pcm, (int8_t *)record + 4, &detected);
    if (wrote == 1)
        record[4 + MF_OUTPUT_SIZE] = (int8_t)detected;
    return wrote;
}

int main(void)
{
    const struct mf_kws_config cfg = {MF_INVOKE, MF_OUTPUT_SIZE, MF_STREAM_EVERY, MF_STREAM_SMOOTH,
                                      MF_STREAM_REFRACTORY, MF_STREAM_THRESHOLD, MF_STREAM_FIRST_KEYWORD,
                                      &history[0][0], sums};
    uint32_t hop = 0;
    int8_t record[4 + MF_OUTPUT_SIZE + 1];
    int status = 0;
    int32_t in, out;
    mf_stack_window_t stack = mf_stack_paint(16384);

    mf_kws_stream_init(&stream, &cfg);

    in = file_call(SYS_OPEN, (uint32_t)(uintptr_t)MF_STREAM_PATH, 1, sizeof MF_STREAM_PATH - 1);
    out = file_call(SYS_OPEN, (uint32_t)(uintptr_t)MF_RECORDS_PATH, 5, sizeof MF_RECORDS_PATH - 1);
    if (in < 0 || out < 0)
        return 3;
    /* prefill: the first frame but its last hop */
    if (file_call(SYS_READ, (uint32_t)in, (uint32_t)(uintptr_t)(pcm + HOP), (FRAME - HOP) * 2u) != 0)
        return 3;
    while (file_call(SYS_READ, (uint32_t)in, (uint32_t)(uintptr_t)(pcm + FRAME), HOP * 2u) == 0) {
        int wrote;
        memmove(pcm, pcm + HOP, FRAME * sizeof pcm[0]);
        mf_marker_begin();
        wrote = hop_step(record);
        mf_marker_end();
        if (wrote < 0) {
            status = -wrote;
            break;
        }
        if (wrote) {
            memcpy(record, &hop, 4);
            if (file_call(SYS_WRITE, (uint32_t)out, (uint32_t)(uintptr_t)record, sizeof record) != 0) {
                status = 3;
                break;
            }
        }
        ++hop;
    }
    file_call(SYS_CLOSE, (uint32_t)in, 0, 0);
    file_call(SYS_CLOSE, (uint32_t)out, 0, 0);
    semihost_write_count("hops: ", hop);
    semihost_write_count("classifications: ", stream.classified);
    semihost_write_count("stack: ", mf_stack_used_bytes(stack));
    return status;
}
