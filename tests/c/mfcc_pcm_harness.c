/* int16 PCM harness for the mfcc block's entry points (tests/test_mfcc.py).
 * Per clip of WINDOW_LENGTH int16 samples it emits, in order:
 *   N_FEATURES float32 from mcuforge_mfcc_features_pcm (whole clip from PCM),
 *   N_FEATURES float32 from mcuforge_mfcc_frame_pcm, frame by frame (the streaming call), then
 *   mcuforge_mfcc_clip_normalize (features.clip_norm over the clip),
 *   N_FEATURES float32 from mcuforge_features_float on pcm / 32768 (the float-window path),
 *   N_FEATURES int8 from mcuforge_features_pcm.
 * Host: clips on stdin, raw bytes on stdout. -DMF_QEMU: clips compiled in (mf_clips.h: MF_N_CLIPS,
 * mf_clips[]), the bytes written as hex over semihosting, then "done". */
#include <stdint.h>
#include <stdio.h>

#include "mcuforge_features_config.h"
#include "mcuforge/features.h"

#define WINDOW_LENGTH MCUFORGE_FEATURES_WINDOW_LENGTH
#define N_FEATURES MCUFORGE_FEATURES_N_FEATURES

static float pcm_features[N_FEATURES], frame_features[N_FEATURES], float_features[N_FEATURES];
static float window[WINDOW_LENGTH];
static int8_t model_input[N_FEATURES];

static int run_clip(const int16_t *pcm)
{
    int i, f;
    if (mcuforge_mfcc_features_pcm(pcm, pcm_features) != 0)
        return 4;
    for (f = 0; f < MCUFORGE_FEATURES_N_FRAMES; ++f)
        if (mcuforge_mfcc_frame_pcm(pcm + f * MCUFORGE_FEATURES_HOP_LENGTH,
                                    frame_features + f * MCUFORGE_FEATURES_N_COEFFS) != 0)
            return 4;
    mcuforge_mfcc_clip_normalize(frame_features);
    for (i = 0; i < WINDOW_LENGTH; ++i)
        window[i] = (float)pcm[i] * (1.0f / 32768.0f);
    if (mcuforge_features_float(window, float_features) != 0 ||
        mcuforge_features_pcm(pcm, model_input) != 0)
        return 4;
    return 0;
}

#ifdef MF_QEMU
#include "mf_clips.h"
#include "semihost.h"
#include "hex_out.h"

int main(void)
{
    int c;
    for (c = 0; c < MF_N_CLIPS; ++c) {
        if (run_clip(mf_clips[c]) != 0)
            semihost_exit(4);
        write_hex(pcm_features, sizeof pcm_features);
        write_hex(frame_features, sizeof frame_features);
        write_hex(float_features, sizeof float_features);
        write_hex(model_input, sizeof model_input);
    }
    semihost_write("done\n");
    semihost_exit(0);
}
#else
int main(void)
{
    static int16_t pcm[WINDOW_LENGTH];
    while (fread(pcm, sizeof(int16_t), WINDOW_LENGTH, stdin) == WINDOW_LENGTH) {
        if (run_clip(pcm) != 0)
            return 4;
        if (fwrite(pcm_features, sizeof(float), N_FEATURES, stdout) != N_FEATURES ||
            fwrite(frame_features, sizeof(float), N_FEATURES, stdout) != N_FEATURES ||
            fwrite(float_features, sizeof(float), N_FEATURES, stdout) != N_FEATURES ||
            fwrite(model_input, 1, N_FEATURES, stdout) != N_FEATURES)
            return 5;
    }
    return 0;
}
#endif
