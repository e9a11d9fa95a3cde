/* Streaming keyword-spotting harness (features block mfcc): one MFCC frame per hop into a ring
 * buffer, the classifier every MF_STREAM_EVERY hops, smoothing, threshold detection.
 * Python twin: mcuforge.firmware.streaming (stream_reference, detect).
 *
 * Reads int16 PCM from MF_STREAM_PATH (semihosting) HOP_LENGTH samples per hop until end of file.
 * Hop h holds frame h = samples [h * HOP, h * HOP + FRAME_LENGTH): its N_COEFFS coefficients
 * (mcuforge_mfcc_frame_pcm) are quantised to the model's int8 input at once
 * (mcuforge_features_quantize) into a ring of N_FRAMES rows. After hop h with h + 1 >= N_FRAMES and
 * (h + 1) % MF_STREAM_EVERY == 0 the ring, oldest row first, is the model input of the window of
 * frames h - N_FRAMES + 1 .. h. Its int8 logits enter a moving sum over the last MF_STREAM_SMOOTH
 * classifications (int32 per class: the smoothed log-posterior up to a constant); a detection of
 * class c fires when c = argmax (lowest index on ties) is a keyword (c >= MF_STREAM_FIRST_KEYWORD),
 * MF_STREAM_SMOOTH classifications exist, sum[c] - max over the others >= MF_STREAM_THRESHOLD (the
 * smoothed margin of log p(c) over the runner-up, in output quantisation steps x SMOOTH), and no
 * detection fired in the previous MF_STREAM_REFRACTORY classifications.
 * Writes per classification: int32 hop, MF_OUTPUT_SIZE int8 logits, int8 detection (-1 none).
 * Each hop (frame + any classification) runs between mf_marker_begin / mf_marker_end.
 * Prints "hops: N", "classifications: N", "stack: B"; exits 0, 3 (file), 4 (features), 5 (invoke). */
#include <stdint.h>
#include <string.h>

#include "mcuforge/features.h"
#include "mcuforge_features_config.h"
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
static int8_t ring[N_FRAMES][N_COEFFS];  /* quantised coefficients of the last N_FRAMES frames */
static int8_t model_input[N_FRAMES * N_COEFFS];
static int8_t history[MF_STREAM_SMOOTH][MF_OUTPUT_SIZE];
static int32_t sums[MF_OUTPUT_SIZE];

__attribute__((noinline)) void mf_marker_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void mf_marker_end(void) { __asm__ volatile("" ::: "memory"); }

static int32_t file_call(uint32_t op, uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t block[3] = {a, b, c};
    return semihost_op(op, block);
}

/* The smoothing and detection step of one classification: the detected class or -1. */
static int detect(const int8_t *logits, uint32_t classified, uint32_t *quiet)
{
    const uint32_t slot = classified % MF_STREAM_SMOOTH;
    int best = 0, c;
    int32_t runner_up = INT32_MIN;
    for (c = 0; c < MF_OUTPUT_SIZE; ++c) {
        sums[c] += (int32_t)logits[c] - (classified >= MF_STREAM_SMOOTH ? history[slot][c] : 0);
        history[slot][c] = logits[c];
        if (sums[c] > sums[best])
            best = c;
    }
    for (c = 0; c < MF_OUTPUT_SIZE; ++c)
        if (c != best && sums[c] > runner_up)
            runner_up = sums[c];
    if (*quiet > 0)
        --*quiet;
    if (classified + 1 < MF_STREAM_SMOOTH || best < MF_STREAM_FIRST_KEYWORD || *quiet > 0 ||
        sums[best] - runner_up < MF_STREAM_THRESHOLD)
        return -1;
    *quiet = MF_STREAM_REFRACTORY + 1;
    return best;
}

/* One hop: the frame's coefficients into the ring; every EVERY hops the classifier and detect.
 * Returns 1 when a record was written to *record, 0 when not, or -(exit code). */
static int hop_step(uint32_t hop, uint32_t *classified, uint32_t *quiet, int8_t *record)
{
    float coeffs[N_COEFFS];
    int8_t logits[MF_OUTPUT_SIZE];
    int f, c;
    if (mcuforge_mfcc_frame_pcm(pcm, coeffs) != MCUFORGE_FEATURES_OK ||
        mcuforge_features_quantize(coeffs, 0, N_COEFFS, ring[hop % N_FRAMES]) != MCUFORGE_FEATURES_OK)
        return -4;
    if (hop + 1 < N_FRAMES || (hop + 1) % MF_STREAM_EVERY != 0)
        return 0;
    for (f = 0; f < N_FRAMES; ++f) /* oldest first: frame hop - N_FRAMES + 1 + f */
        memcpy(model_input + f * N_COEFFS, ring[(hop + 1 + f) % N_FRAMES], N_COEFFS);
    if (MF_INVOKE(model_input, logits) != 0)
        return -5;
    for (c = 0; c < MF_OUTPUT_SIZE; ++c)
        record[4 + c] = logits[c];
    record[4 + MF_OUTPUT_SIZE] = (int8_t)detect(logits, *classified, quiet);
    ++*classified;
    return 1;
}

int main(void)
{
    uint32_t hop = 0, classified = 0, quiet = 0;
    int8_t record[4 + MF_OUTPUT_SIZE + 1];
    int status = 0;
    int32_t in, out;
    mf_stack_window_t stack = mf_stack_paint(16384);

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
        wrote = hop_step(hop, &classified, &quiet, record);
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
    semihost_write_count("classifications: ", classified);
    semihost_write_count("stack: ", mf_stack_used_bytes(stack));
    return status;
}
