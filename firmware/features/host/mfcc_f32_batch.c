/* Host-only: the mfcc block's f32 features as the Python side computes them
 * (mcuforge.dsp.host_dsp.mfcc_f32_batch loads this with ctypes). It makes the calls
 * firmware/features/src/mfcc.c makes on the device -- per frame: copy frame_length samples,
 * zero-pad to fft_length, arm_mfcc_f32 -- against the same CMSIS-DSP C sources and the same
 * arm_vlog_f32 (firmware/features/src/arm_vlog_f32.c), compiled with the device's float
 * semantics (no -ffast-math, -ffp-contract=off), so the bits are the device's.
 * arm_mfcc_init_f32 (generic) builds the same instance as the device's arm_mfcc_init_<N>_f32.
 */
#include <stdlib.h>
#include <string.h>

#include "arm_math.h"

/* windows: n_windows x window_length floats; out: n_windows x n_frames x n_coeffs floats.
 * Returns 0, -1 (arm_mfcc_init_f32 rejected fft_length) or -2 (out of memory). */
int mf_mfcc_f32_batch(const float32_t *windows, uint32_t n_windows, uint32_t window_length,
                      uint32_t frame_length, uint32_t hop_length, uint32_t n_frames,
                      uint32_t fft_length, uint32_t mel_bands, uint32_t n_coeffs,
                      const float32_t *dct, const uint32_t *filter_pos,
                      const uint32_t *filter_lengths, const float32_t *filter_coefs,
                      const float32_t *window_coefs, float32_t *out)
{
    arm_mfcc_instance_f32 instance;
    float32_t *frame, *scratch;
    uint32_t w, f;

    if (arm_mfcc_init_f32(&instance, fft_length, mel_bands, n_coeffs, dct, filter_pos,
                          filter_lengths, filter_coefs, window_coefs) != ARM_MATH_SUCCESS)
        return -1;
    frame = malloc(sizeof(float32_t) * fft_length);
    scratch = malloc(sizeof(float32_t) * fft_length);
    if (frame == NULL || scratch == NULL) {
        free(frame);
        free(scratch);
        return -2;
    }
    for (w = 0; w < n_windows; ++w) {
        for (f = 0; f < n_frames; ++f) {
            memcpy(frame, windows + (size_t)w * window_length + (size_t)f * hop_length,
                   sizeof(float32_t) * frame_length);
            memset(frame + frame_length, 0, sizeof(float32_t) * (fft_length - frame_length));
            arm_mfcc_f32(&instance, frame, out + ((size_t)w * n_frames + f) * n_coeffs, scratch);
        }
    }
    free(frame);
    free(scratch);
    return 0;
}
