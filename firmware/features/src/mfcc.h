/* Private to firmware/features/src: the mfcc block (mfcc.c). */
#ifndef MCUFORGE_FEATURES_MFCC_H
#define MCUFORGE_FEATURES_MFCC_H

#include <stdint.h>

/* window: WINDOW_LENGTH floats (int16 PCM / 32768); features: N_FRAMES x N_COEFFS floats.
 * Equals mcuforge.dsp.mfcc.mfcc_features. Returns 0 or a MCUFORGE_FEATURES_ERROR_*. */
int mcuforge_mfcc_features(const float *window, float *features);

#endif /* MCUFORGE_FEATURES_MFCC_H */
