/* Host harness for firmware/src/sensor_window.c (tests/test_sensor_source.py).
 *
 *   sensor_window_harness windows W S C < rows.f32     every due window, float32, to stdout
 *   sensor_window_harness units < pairs                 per record (int32 val1, int32 val2, double
 *                                                       micro_per_unit): float32 in that unit
 *   sensor_window_harness config < row.f32              one accel+gyro row in SI micro-units
 *                                                       (6 int64) through mcuforge_sensor_config.h:
 *                                                       the dataset's channels in its units */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcuforge_sensor_config.h"
#include "sensor_window.h"

static int windows(int window_length, int stride, int n_channels)
{
	float *storage = malloc(sizeof(float) * window_length * n_channels);
	float *out = malloc(sizeof(float) * window_length * n_channels);
	float *row = malloc(sizeof(float) * n_channels);
	struct mf_sensor_ring ring;

	mf_sensor_ring_init(&ring, storage, window_length, n_channels, stride);
	while (fread(row, sizeof(float), n_channels, stdin) == (size_t)n_channels) {
		if (mf_sensor_ring_push(&ring, row)) {
			mf_sensor_ring_window(&ring, out);
			fwrite(out, sizeof(float), window_length * n_channels, stdout);
		}
	}
	free(storage);
	free(out);
	free(row);
	return 0;
}

static int units(void)
{
	int32_t val[2];
	double micro_per_unit;

	while (fread(val, sizeof val, 1, stdin) == 1 && fread(&micro_per_unit, sizeof micro_per_unit, 1, stdin) == 1) {
		float value = mf_sensor_to_unit(mf_sensor_micro(val[0], val[1]), micro_per_unit);

		fwrite(&value, sizeof value, 1, stdout);
	}
	return 0;
}

static int config(void)
{
#if MCUFORGE_SENSOR_OK
	static const int source[MCUFORGE_SENSOR_N_CHANNELS] = MCUFORGE_SENSOR_CHANNEL_SOURCE;
	static const double per_unit[MCUFORGE_SENSOR_N_CHANNELS] = MCUFORGE_SENSOR_MICRO_PER_UNIT;
	int64_t si[6];

	while (fread(si, sizeof si, 1, stdin) == 1) {
		for (int c = 0; c < MCUFORGE_SENSOR_N_CHANNELS; ++c) {
			float value = mf_sensor_to_unit(si[source[c]], per_unit[c]);

			fwrite(&value, sizeof value, 1, stdout);
		}
	}
	fprintf(stderr, "%d %d %d %d", MCUFORGE_SENSOR_PERIOD_US, MCUFORGE_SENSOR_WINDOW_LENGTH, MCUFORGE_SENSOR_STRIDE,
	       MCUFORGE_SENSOR_USES_GYRO);
	return 0;
#else
	fputs(MCUFORGE_SENSOR_REASON, stderr);
	return 3;
#endif
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "windows") == 0) {
		return windows(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	}
	if (argc == 2 && strcmp(argv[1], "units") == 0) {
		return units();
	}
	if (argc == 2 && strcmp(argv[1], "config") == 0) {
		return config();
	}
	fputs("usage: sensor_window_harness windows W S C | units | config\n", stderr);
	return 2;
}
