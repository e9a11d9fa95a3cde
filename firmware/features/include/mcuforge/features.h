/* The feature twin: raw sensor window -> model input, as the Python `features` stage computes it.
 *
 * Block (raw | spectral | mfcc, mcuforge.dsp.feature_blocks.compute_block) -> standardisation
 * (mcuforge.data.normalization.standardize) -> int8 quantisation (mcuforge.codegen.tflm_runtime.quantize_input).
 * The spectral block calls the same CMSIS-DSP functions, in the same order, as
 * mcuforge/dsp/kernels.py does through the cmsisdsp Python API.
 *
 * Sizes and constants come from the generated mcuforge_features_config.h
 * (mcuforge.codegen.emit_features). This header needs neither it nor CMSIS-DSP.
 * Not reentrant: the work buffers are static.
 */
#ifndef MCUFORGE_FEATURES_H
#define MCUFORGE_FEATURES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MCUFORGE_FEATURES_OK 0
#define MCUFORGE_FEATURES_ERROR_ARGUMENT (-1)   /* a NULL pointer */
#define MCUFORGE_FEATURES_ERROR_FFT_INIT (-2)   /* arm_rfft_fast_init_<N>_f32 failed */

/* window: WINDOW_LENGTH x N_CHANNELS floats, row-major as recorded (sample 0 of every channel
 * first); model_input: N_FEATURES int8. Equals quantize_input(standardize(block(window))). */
int mcuforge_features(const float *window, int8_t *model_input);

/* The block's features before standardisation (N_FEATURES floats): equals
 * mcuforge.dsp.feature_blocks.compute_block for one window (spectral_features for block spectral). */
int mcuforge_features_float(const float *window, float *features);

/* quantize_input(standardize(x)) of `count` block features starting at feature index `first`
 * (any block; streaming callers quantise one frame of N_COEFFS as it arrives). */
int mcuforge_features_quantize(const float *features, int first, int count, int8_t *model_input);

/* Block mfcc only (mcuforge.dsp.mfcc; CMSIS-DSP arm_mfcc_f32 / arm_mfcc_q15), from int16 PCM so no
 * float copy of the clip is needed; the float window above is pcm / 32768.
 * mcuforge_features_pcm: WINDOW_LENGTH samples -> N_FEATURES int8 (= mcuforge_features).
 * mcuforge_mfcc_features_pcm: WINDOW_LENGTH samples -> N_FRAMES x N_COEFFS floats.
 * mcuforge_mfcc_frame_pcm: one frame of FRAME_LENGTH samples -> N_COEFFS floats, the per-hop
 * call of a streaming caller (frame f of a window starts at sample f * HOP_LENGTH).
 * mcuforge_mfcc_clip_normalize: features.clip_norm over one clip's N_FRAMES x N_COEFFS (the whole-clip
 * entry points apply it; frames from mcuforge_mfcc_frame_pcm need it once the clip is complete). */
int mcuforge_features_pcm(const int16_t *pcm, int8_t *model_input);
int mcuforge_mfcc_features_pcm(const int16_t *pcm, float *features);
int mcuforge_mfcc_frame_pcm(const int16_t *pcm, float *coeffs);
void mcuforge_mfcc_clip_normalize(float *features);

#ifdef __cplusplus
}
#endif

#endif /* MCUFORGE_FEATURES_H */
