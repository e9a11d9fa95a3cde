/* The sensor window source's portable part (no Zephyr): a ring buffer of samples in the dataset's
 * units, a window every `stride` samples once `window_length` have arrived -- the windows the
 * Python `features` stage cuts (mcuforge.data.windowing.make_windows: offsets 0, stride,
 * 2 stride, ...), and the SI -> dataset unit conversion (mcuforge.firmware.sensor_units).
 * tests/test_sensor_source.py compiles this file with the host gcc against both Python twins. */
#ifndef MCUFORGE_SENSOR_WINDOW_H
#define MCUFORGE_SENSOR_WINDOW_H

#include <stdint.h>

struct mf_sensor_ring {
	float *rows;         /* window_length x n_channels floats, row `head` is the oldest */
	int window_length;
	int n_channels;
	int stride;
	int head;            /* where the next row goes */
	int filled;          /* rows held, at most window_length */
	int since_window;    /* rows pushed since the last window was due */
};

/* `storage` holds window_length * n_channels floats. */
void mf_sensor_ring_init(struct mf_sensor_ring *ring, float *storage, int window_length, int n_channels,
			 int stride);

/* Append one sample (n_channels values, the dataset's channel order): 1 when a window is due
 * (copy it out with mf_sensor_ring_window before the next push), else 0. */
int mf_sensor_ring_push(struct mf_sensor_ring *ring, const float *row);

/* The last window_length rows, oldest first, row-major as recorded. */
void mf_sensor_ring_window(const struct mf_sensor_ring *ring, float *window);

/* A Zephyr sensor value (val1 + val2 / 1e6, SI units) as a whole number of micro-units. */
int64_t mf_sensor_micro(int32_t val1, int32_t val2);

/* micro-units of SI -> the dataset's unit: float(micro / micro_per_unit) in double
 * (9806650.0 per g, 1e6 per m/s^2 or rad/s, 1e6 * pi / 180 per deg/s). */
float mf_sensor_to_unit(int64_t micro, double micro_per_unit);

#endif /* MCUFORGE_SENSOR_WINDOW_H */
