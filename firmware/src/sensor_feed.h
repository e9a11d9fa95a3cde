/* Recorded samples through a sensor emulator (CONFIG_MCUFORGE_SENSOR_EMUL_FEED, the native_sim
 * test): before each fetch the next recorded sample is written into the emulator's registers;
 * the windows carry the Python int8 pipeline's class and logits. On a real board these are
 * no-ops and windows carry nothing to check. */
#ifndef MCUFORGE_SENSOR_FEED_H
#define MCUFORGE_SENSOR_FEED_H

#include <errno.h>
#include <stddef.h>

#include <zephyr/device.h>

#include "window_source.h"

#if defined(CONFIG_MCUFORGE_SENSOR_EMUL_FEED)
int sensor_feed_init(const struct device *dev);
/* 0, or -ENODATA after the last recorded sample */
int sensor_feed_next(const struct device *dev);
/* 0 when `window` is bit for bit the window the Python pipeline cut from the same samples, else -EIO */
int sensor_feed_check(const float *window, int floats);
void sensor_feed_expectation(struct window_expectation *expected);
#else
static inline int sensor_feed_init(const struct device *dev)
{
	ARG_UNUSED(dev);
	return 0;
}
static inline int sensor_feed_next(const struct device *dev)
{
	ARG_UNUSED(dev);
	return 0;
}
static inline int sensor_feed_check(const float *window, int floats)
{
	ARG_UNUSED(window);
	ARG_UNUSED(floats);
	return 0;
}
static inline void sensor_feed_expectation(struct window_expectation *expected)
{
	expected->label = -1;
	expected->logits = NULL;
}
#endif

#endif /* MCUFORGE_SENSOR_FEED_H */
