/* The spectral block: a line-by-line transcription of mcuforge/dsp/kernels.py and
 * mcuforge.dsp.spectral.axis_features, calling the same CMSIS-DSP C functions in the same order.
 * Scalar float32 expressions (skew, kurtosis, the constant test) are single IEEE float32
 * operations as in numpy: compile this file with -ffp-contract=off (no fused multiply-add).
 * Constants: mcuforge_features_config.h (mcuforge.codegen.emit_features).
 */
#include "mcuforge_features_config.h"

#if MCUFORGE_FEATURES_BLOCK == MCUFORGE_FEATURES_BLOCK_SPECTRAL

#include <string.h>

#include "arm_math.h"
#include "mcuforge/features.h"
#include "spectral.h"

#define WINDOW_LENGTH MCUFORGE_FEATURES_WINDOW_LENGTH
#define N_CHANNELS MCUFORGE_FEATURES_N_CHANNELS
#define FFT_LENGTH MCUFORGE_FEATURES_FFT_LENGTH
#define N_PSD_BINS MCUFORGE_FEATURES_N_PSD_BINS
#define N_BANDS MCUFORGE_FEATURES_N_BANDS
#define N_STATS MCUFORGE_FEATURES_N_STATS

/* arm_rfft_fast_init_<N>_f32 links only the twiddle/bit-reversal tables of length N (with
 * -ffunction-sections -fdata-sections -Wl,--gc-sections); the generic arm_rfft_fast_init_f32
 * would pull in every length's tables. */
#define RFFT_INIT_OF(n) arm_rfft_fast_init_##n##_f32
#define RFFT_INIT(n) RFFT_INIT_OF(n)

#if MCUFORGE_FEATURES_FILTER_ENABLED
#define N_BIQUAD_STAGES MCUFORGE_FEATURES_N_BIQUAD_STAGES
static const float32_t biquad_coeffs[5 * N_BIQUAD_STAGES] = MCUFORGE_FEATURES_BIQUAD_COEFFS;
static float32_t biquad_state[2 * N_BIQUAD_STAGES];
#endif
#if N_STATS > 0
static const int32_t stat_ids[N_STATS] = MCUFORGE_FEATURES_STAT_IDS;
#endif
static const float32_t hann_window[FFT_LENGTH] = MCUFORGE_FEATURES_HANN_WINDOW;
static const float32_t psd_scale[N_PSD_BINS] = MCUFORGE_FEATURES_PSD_SCALE;
static const int32_t band_bin_start[N_BANDS] = MCUFORGE_FEATURES_BAND_BIN_START;
static const int32_t band_bin_stop[N_BANDS] = MCUFORGE_FEATURES_BAND_BIN_STOP;

/* Work buffers (static: no malloc, not reentrant). */
static float32_t axis_samples[WINDOW_LENGTH];   /* one axis, contiguous (spectral_features' .T) */
#if MCUFORGE_FEATURES_FILTER_ENABLED
static float32_t filtered[WINDOW_LENGTH];
#endif
#if MCUFORGE_FEATURES_REMOVE_MEAN
static float32_t centred[WINDOW_LENGTH];
#endif
#if N_STATS > 0
static float32_t deviation[WINDOW_LENGTH];      /* d = x - mean */
static float32_t deviation_sq[WINDOW_LENGTH];   /* d^2 */
static float32_t deviation_pow[WINDOW_LENGTH];  /* d^3, then d^4 */
#endif
static float32_t segment[FFT_LENGTH];           /* windowed segment; rfft scratch */
static float32_t spectrum[FFT_LENGTH];          /* [DC, Nyquist, re1, im1, ...] */
static float32_t power[N_PSD_BINS];
static float32_t power_sum[N_PSD_BINS];
static float32_t psd[N_PSD_BINS];
static float32_t band_sums[N_BANDS];
static float32_t bands[N_BANDS];

/* kernels.biquad_filter: Butterworth cascade over one window from zero state. */
#if MCUFORGE_FEATURES_FILTER_ENABLED
static void biquad_filter(const float32_t *x, float32_t *y)
{
    arm_biquad_cascade_df2T_instance_f32 instance;
    arm_biquad_cascade_df2T_init_f32(&instance, (uint8_t)N_BIQUAD_STAGES, biquad_coeffs,
                                     biquad_state); /* zeroes the state */
    arm_biquad_cascade_df2T_f32(&instance, x, y, WINDOW_LENGTH);
}
#endif

#if N_STATS > 0
/* kernels.stat_mean: arm_mean_f32(x, T). */
static float32_t stat_mean(const float32_t *x)
{
    float32_t mean;
    arm_mean_f32(x, WINDOW_LENGTH, &mean);
    return mean;
}

/* kernels.stat_rms: arm_rms_f32(x, T). */
static float32_t stat_rms(const float32_t *x)
{
    float32_t rms;
    arm_rms_f32(x, WINDOW_LENGTH, &rms);
    return rms;
}

typedef struct {
    float32_t mean, m2, m3, m4;
} moments_t;

/* kernels.central_moments: (mean, m2, m3, m4), population central moments. */
static moments_t central_moments(const float32_t *x)
{
    moments_t m;
    arm_mean_f32(x, WINDOW_LENGTH, &m.mean);
    arm_offset_f32(x, -m.mean, deviation, WINDOW_LENGTH);
    arm_mult_f32(deviation, deviation, deviation_sq, WINDOW_LENGTH);
    arm_mean_f32(deviation_sq, WINDOW_LENGTH, &m.m2);
    arm_mult_f32(deviation_sq, deviation, deviation_pow, WINDOW_LENGTH);
    arm_mean_f32(deviation_pow, WINDOW_LENGTH, &m.m3);
    arm_mult_f32(deviation_sq, deviation_sq, deviation_pow, WINDOW_LENGTH);
    arm_mean_f32(deviation_pow, WINDOW_LENGTH, &m.m4);
    return m;
}

/* kernels.is_constant: m2 <= TOL * mean * mean, in float32. */
static int is_constant(float32_t mean, float32_t m2)
{
    const float32_t tol = MCUFORGE_FEATURES_CONSTANT_VAR_TOL;
    return m2 <= tol * mean * mean;
}

/* kernels.std_from_moments: sqrt(m2). */
static float32_t std_from_moments(float32_t m2)
{
    float32_t root;
    (void)arm_sqrt_f32(m2, &root);
    return root;
}

/* kernels.skew_from_moments: m3 / (m2 * sqrt(m2)); 0 for a constant axis. */
static float32_t skew_from_moments(float32_t mean, float32_t m2, float32_t m3)
{
    float32_t root;
    if (is_constant(mean, m2))
        return 0.0f;
    (void)arm_sqrt_f32(m2, &root);
    return m3 / (m2 * root);
}

/* kernels.kurtosis_from_moments: m4 / (m2 * m2) - 3; 0 for a constant axis. */
static float32_t kurtosis_from_moments(float32_t mean, float32_t m2, float32_t m4)
{
    if (is_constant(mean, m2))
        return 0.0f;
    return m4 / (m2 * m2) - 3.0f;
}

#endif /* N_STATS > 0 */

#if MCUFORGE_FEATURES_REMOVE_MEAN
/* kernels.remove_mean: x - mean(x). */
static void remove_mean(const float32_t *x, float32_t *y)
{
    float32_t mean;
    arm_mean_f32(x, WINDOW_LENGTH, &mean);
    arm_offset_f32(x, -mean, y, WINDOW_LENGTH);
}
#endif

/* kernels.welch_psd: one-sided Welch PSD, bins 0..N/2, into psd[]. */
static void welch_psd(const float32_t *x, const arm_rfft_fast_instance_f32 *rfft)
{
    float32_t edge[2];
    int s;
    memset(power_sum, 0, sizeof power_sum);
    for (s = 0; s < MCUFORGE_FEATURES_N_SEGMENTS; ++s) {
        /* the C rfft uses its input as scratch: window into a copy first */
        arm_mult_f32(x + s * MCUFORGE_FEATURES_FFT_STEP, hann_window, segment, FFT_LENGTH);
        arm_rfft_fast_f32(rfft, segment, spectrum, 0);
        arm_cmplx_mag_squared_f32(spectrum, power, FFT_LENGTH / 2); /* power[0] is wrong */
        arm_mult_f32(spectrum, spectrum, edge, 2);                  /* [DC^2, Nyquist^2] */
        power[0] = edge[0];
        power[FFT_LENGTH / 2] = edge[1];
        arm_add_f32(power_sum, power, power_sum, N_PSD_BINS);
    }
    arm_mult_f32(power_sum, psd_scale, psd, N_PSD_BINS);
}

/* kernels.band_powers: per band sum of psd[start, stop) times the bin width, optionally
 * log10(power + 1e-10) as ln(.) * (1/ln 10); into bands[]. */
static void band_powers(void)
{
    int b;
    for (b = 0; b < N_BANDS; ++b)
        arm_accumulate_f32(psd + band_bin_start[b], (uint32_t)(band_bin_stop[b] - band_bin_start[b]),
                           &band_sums[b]);
    arm_scale_f32(band_sums, MCUFORGE_FEATURES_BIN_WIDTH_HZ, bands, N_BANDS);
#if MCUFORGE_FEATURES_LOG_POWER
    arm_offset_f32(bands, MCUFORGE_FEATURES_LOG_FLOOR, bands, N_BANDS);
    arm_vlog_f32(bands, bands, N_BANDS);
    arm_scale_f32(bands, MCUFORGE_FEATURES_INV_LN10, bands, N_BANDS);
#endif
}

/* spectral.axis_features: features of one axis, [stats..., band powers...] into out. */
static void axis_features(const float32_t *axis, const arm_rfft_fast_instance_f32 *rfft,
                          float32_t *out)
{
    const float32_t *x = axis;
    int i;
#if N_STATS > 0
    float32_t axis_mean = 0.0f;
    int has_mean = 0, has_moments = 0;
    moments_t m = {0.0f, 0.0f, 0.0f, 0.0f};
    for (i = 0; i < N_STATS; ++i) {
        has_mean |= stat_ids[i] == MCUFORGE_FEATURES_STAT_MEAN;
        has_moments |= stat_ids[i] == MCUFORGE_FEATURES_STAT_STD ||
                       stat_ids[i] == MCUFORGE_FEATURES_STAT_SKEW ||
                       stat_ids[i] == MCUFORGE_FEATURES_STAT_KURTOSIS;
    }
#endif
#if MCUFORGE_FEATURES_FILTER_ENABLED
    biquad_filter(x, filtered);
    x = filtered;
#endif
#if N_STATS > 0
    /* the axis mean is taken before mean removal (it carries the orientation of gravity) */
    if (has_mean)
        axis_mean = stat_mean(x);
#endif
#if MCUFORGE_FEATURES_REMOVE_MEAN
    remove_mean(x, centred);
    x = centred;
#endif
#if N_STATS > 0
    if (has_moments)
        m = central_moments(x);
    for (i = 0; i < N_STATS; ++i) {
        switch (stat_ids[i]) {
        case MCUFORGE_FEATURES_STAT_MEAN: out[i] = axis_mean; break;
        case MCUFORGE_FEATURES_STAT_RMS: out[i] = stat_rms(x); break;
        case MCUFORGE_FEATURES_STAT_STD: out[i] = std_from_moments(m.m2); break;
        case MCUFORGE_FEATURES_STAT_SKEW: out[i] = skew_from_moments(m.mean, m.m2, m.m3); break;
        default: out[i] = kurtosis_from_moments(m.mean, m.m2, m.m4); break;
        }
    }
#endif
    welch_psd(x, rfft);
    band_powers();
    for (i = 0; i < N_BANDS; ++i)
        out[N_STATS + i] = bands[i];
}

/* spectral.spectral_features: per channel [stats..., bands...] of a (T, C) row-major window. */
int mcuforge_spectral_features(const float *window, float *features)
{
    arm_rfft_fast_instance_f32 rfft;
    int channel, t;
    if (RFFT_INIT(MCUFORGE_FEATURES_FFT_LENGTH)(&rfft) != ARM_MATH_SUCCESS)
        return MCUFORGE_FEATURES_ERROR_FFT_INIT;
    for (channel = 0; channel < N_CHANNELS; ++channel) {
        for (t = 0; t < WINDOW_LENGTH; ++t)
            axis_samples[t] = window[t * N_CHANNELS + channel];
        axis_features(axis_samples, &rfft,
                      features + channel * MCUFORGE_FEATURES_N_FEATURES_PER_CHANNEL);
    }
    return MCUFORGE_FEATURES_OK;
}

#else /* block raw: nothing to compile here (ISO C forbids an empty translation unit) */
typedef int mcuforge_features_spectral_unused_t;
#endif
