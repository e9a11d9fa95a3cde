/* The mfcc block: CMSIS-DSP's own arm_mfcc_f32 (or arm_mfcc_q15), frame by frame, with the
 * tables mcuforge.dsp.mfcc.make_mfcc_plan built from cmsisdsp's helpers -- a transcription of
 * mcuforge.dsp.mfcc.mfcc_frame / mfcc_features. Compile with -ffp-contract=off.
 * Constants: mcuforge_features_config.h (mcuforge.codegen.emit_features).
 *
 * Memory (defaults: 256-point FFT, 40 mel bands, 10 coefficients, 61 frames):
 *   flash: window FFT_LENGTH, packed mel filters N_FILTER_COEFS, DCT N_COEFFS x MEL_BANDS
 *          (float32, or q15 for variant q15), filter positions/lengths 2 x MEL_BANDS uint32,
 *          plus the FFT tables of FFT_LENGTH only (arm_mfcc_init_<N>_*, --gc-sections);
 *   RAM:   frame buffer FFT_LENGTH samples + scratch FFT_LENGTH float32/q31 (+ N_COEFFS q15),
 *          the instance (~40 B); f32: 2 KB, q15: 1.5 KB. The whole-window entry points write
 *          N_FRAMES x N_COEFFS floats (2.4 KB, features.c's block_features); a streaming caller
 *          needs only mcuforge_mfcc_frame_pcm and one frame of int16 PCM.
 */
#include "mcuforge_features_config.h"

#if MCUFORGE_FEATURES_BLOCK == MCUFORGE_FEATURES_BLOCK_MFCC

#include <string.h>

#include "arm_math.h"
#include "mcuforge/features.h"
#include "mfcc.h"

#define FRAME_LENGTH MCUFORGE_FEATURES_FRAME_LENGTH
#define HOP_LENGTH MCUFORGE_FEATURES_HOP_LENGTH
#define N_FRAMES MCUFORGE_FEATURES_N_FRAMES
#define FFT_LENGTH MCUFORGE_FEATURES_FFT_LENGTH
#define MEL_BANDS MCUFORGE_FEATURES_MEL_BANDS
#define N_COEFFS MCUFORGE_FEATURES_N_COEFFS

/* arm_mfcc_init_<N>_<type> links only the FFT tables of length N (see spectral.c). */
#define MFCC_INIT_OF(n, type) arm_mfcc_init_##n##_##type
#define MFCC_INIT(n, type) MFCC_INIT_OF(n, type)

#if MCUFORGE_FEATURES_MFCC_Q15
typedef q15_t sample_t;
typedef arm_mfcc_instance_q15 instance_t;
static q31_t scratch[FFT_LENGTH];
static q15_t coeffs_q15[N_COEFFS];
#define INIT MFCC_INIT(FFT_LENGTH, q15)
#else
typedef float32_t sample_t;
typedef arm_mfcc_instance_f32 instance_t;
static float32_t scratch[FFT_LENGTH];
#define INIT MFCC_INIT(FFT_LENGTH, f32)
#endif

static const sample_t window_coefs[FFT_LENGTH] = MCUFORGE_FEATURES_MFCC_WINDOW;
static const uint32_t filter_pos[MEL_BANDS] = MCUFORGE_FEATURES_MFCC_FILTER_POS;
static const uint32_t filter_lengths[MEL_BANDS] = MCUFORGE_FEATURES_MFCC_FILTER_LENGTHS;
static const sample_t filter_coefs[MCUFORGE_FEATURES_N_FILTER_COEFS] =
    MCUFORGE_FEATURES_MFCC_FILTER_COEFS;
static const sample_t dct_coefs[N_COEFFS * MEL_BANDS] = MCUFORGE_FEATURES_MFCC_DCT;

static instance_t instance;
static int initialised;
static sample_t frame[FFT_LENGTH]; /* the frame, zero-padded; arm_mfcc_* uses it as scratch */

/* mcuforge.dsp.mfcc.mfcc_instance: arm_mfcc_init_<N>_<type> once. */
static int init_once(void)
{
    if (!initialised) {
        if (INIT(&instance, MEL_BANDS, N_COEFFS, dct_coefs, filter_pos, filter_lengths,
                 filter_coefs, window_coefs) != ARM_MATH_SUCCESS)
            return MCUFORGE_FEATURES_ERROR_FFT_INIT;
        initialised = 1;
    }
    return MCUFORGE_FEATURES_OK;
}

/* mcuforge.dsp.mfcc.mfcc_frame on `frame` (already filled and zero-padded). */
static int run_frame(float *coeffs)
{
    int status = init_once(), i;
    if (status != MCUFORGE_FEATURES_OK)
        return status;
#if MCUFORGE_FEATURES_MFCC_Q15
    if (arm_mfcc_q15(&instance, frame, coeffs_q15, scratch) != ARM_MATH_SUCCESS)
        return MCUFORGE_FEATURES_ERROR_FFT_INIT;
    for (i = 0; i < N_COEFFS; ++i)
        coeffs[i] = (float)coeffs_q15[i] * (1.0f / 128.0f); /* q8.7, exact */
#else
    (void)i;
    arm_mfcc_f32(&instance, frame, coeffs, scratch);
#endif
    return MCUFORGE_FEATURES_OK;
}

/* One frame of FRAME_LENGTH int16 PCM samples -> N_COEFFS floats: the per-hop entry point of a
 * streaming caller. f32: sample / 32768 (exact); q15: the PCM itself. */
int mcuforge_mfcc_frame_pcm(const int16_t *pcm, float *coeffs)
{
    int i;
    if (pcm == NULL || coeffs == NULL)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
    for (i = 0; i < FRAME_LENGTH; ++i)
#if MCUFORGE_FEATURES_MFCC_Q15
        frame[i] = pcm[i];
#else
        frame[i] = (float32_t)pcm[i] * (1.0f / 32768.0f);
#endif
    memset(frame + FRAME_LENGTH, 0, sizeof(sample_t) * (FFT_LENGTH - FRAME_LENGTH));
    return run_frame(coeffs);
}

/* The same frame from float samples (int16 PCM / 32768 for q15: * 32768 is exact). */
static int frame_from_float(const float *samples, float *coeffs)
{
    int i;
    for (i = 0; i < FRAME_LENGTH; ++i)
#if MCUFORGE_FEATURES_MFCC_Q15
        frame[i] = (q15_t)(samples[i] * 32768.0f);
#else
        frame[i] = samples[i];
#endif
    memset(frame + FRAME_LENGTH, 0, sizeof(sample_t) * (FFT_LENGTH - FRAME_LENGTH));
    return run_frame(coeffs);
}

/* mcuforge.dsp.mfcc.clip_normalize: features.clip_norm over one clip's N_FRAMES x N_COEFFS. mean:
 * each coefficient's float32 sum over the frames in order, / N_FRAMES, subtracted (no-op: none). */
void mcuforge_mfcc_clip_normalize(float *features)
{
#if MCUFORGE_FEATURES_MFCC_CLIP_NORM
    float mean[N_COEFFS];
    int f, i;
    for (i = 0; i < N_COEFFS; ++i)
        mean[i] = 0.0f;
    for (f = 0; f < N_FRAMES; ++f)
        for (i = 0; i < N_COEFFS; ++i)
            mean[i] += features[f * N_COEFFS + i];
    for (i = 0; i < N_COEFFS; ++i)
        mean[i] = mean[i] / (float)N_FRAMES;
    for (f = 0; f < N_FRAMES; ++f)
        for (i = 0; i < N_COEFFS; ++i)
            features[f * N_COEFFS + i] -= mean[i];
#else
    (void)features;
#endif
}

int mcuforge_mfcc_features(const float *window, float *features)
{
    int f, status = MCUFORGE_FEATURES_OK;
    for (f = 0; f < N_FRAMES && status == MCUFORGE_FEATURES_OK; ++f)
        status = frame_from_float(window + f * HOP_LENGTH, features + f * N_COEFFS);
    if (status == MCUFORGE_FEATURES_OK)
        mcuforge_mfcc_clip_normalize(features);
    return status;
}

int mcuforge_mfcc_features_pcm(const int16_t *pcm, float *features)
{
    int f, status = MCUFORGE_FEATURES_OK;
    if (pcm == NULL || features == NULL)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
    for (f = 0; f < N_FRAMES && status == MCUFORGE_FEATURES_OK; ++f)
        status = mcuforge_mfcc_frame_pcm(pcm + f * HOP_LENGTH, features + f * N_COEFFS);
    if (status == MCUFORGE_FEATURES_OK)
        mcuforge_mfcc_clip_normalize(features);
    return status;
}

#else /* another block: nothing to compile here (ISO C forbids an empty translation unit) */
typedef int mcuforge_features_mfcc_unused_t;
#endif
