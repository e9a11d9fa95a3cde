/* Private to firmware/features/src: the spectral block (spectral.c). */
#ifndef MCUFORGE_FEATURES_SPECTRAL_H
#define MCUFORGE_FEATURES_SPECTRAL_H

/* window: WINDOW_LENGTH x N_CHANNELS floats (row-major); features: N_FEATURES floats.
 * Equals mcuforge.dsp.spectral.spectral_features. Returns 0 or a MCUFORGE_FEATURES_ERROR_*. */
int mcuforge_spectral_features(const float *window, float *features);

#endif /* MCUFORGE_FEATURES_SPECTRAL_H */
