/* Where the application's raw sensor windows come from.
 *
 * A window is MCUFORGE_FEATURES_WINDOW_FLOATS floats, row-major as recorded (sample 0 of every
 * channel first), exactly what the Python `features` stage windows from the recordings. A source
 * fills one window per call; the application does not care whether it was read from an IMU
 * driver, a file or flash. This build links one source, chosen in Kconfig
 * (MCUFORGE_WINDOW_SOURCE_*); window_source_compiled.c is the sample build's: test windows of the
 * evaluated split, compiled in, with the class and int8 logits the Python pipeline computed. */
#ifndef MCUFORGE_WINDOW_SOURCE_H
#define MCUFORGE_WINDOW_SOURCE_H

#include <stdint.h>

/* What a source knows about a window besides its samples (unknown on a live sensor). */
struct window_expectation {
	int label;             /* the true class index, or -1 when unknown */
	const int8_t *logits;  /* the Python int8 pipeline's logits, or NULL when unknown */
};

/* 0 when the source is ready, or a negative errno. */
int window_source_init(void);

/* Fill `window` with the next window: 0, -ENODATA when the source has no more windows, or
 * another negative errno. `expected` may be NULL. */
int window_source_next(float *window, struct window_expectation *expected);

#endif /* MCUFORGE_WINDOW_SOURCE_H */
