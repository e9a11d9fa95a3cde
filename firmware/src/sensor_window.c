/* Ring buffer and windowing of the sensor window source: see sensor_window.h. */
#include "sensor_window.h"

void mf_sensor_ring_init(struct mf_sensor_ring *ring, float *storage, int window_length, int n_channels,
			 int stride)
{
	ring->rows = storage;
	ring->window_length = window_length;
	ring->n_channels = n_channels;
	ring->stride = stride;
	ring->head = 0;
	ring->filled = 0;
	ring->since_window = 0;
}

int mf_sensor_ring_push(struct mf_sensor_ring *ring, const float *row)
{
	float *slot = ring->rows + (long)ring->head * ring->n_channels;

	for (int c = 0; c < ring->n_channels; ++c) {
		slot[c] = row[c];
	}
	ring->head = ring->head + 1 == ring->window_length ? 0 : ring->head + 1;
	if (ring->filled < ring->window_length) {
		ring->filled++;
		/* the first window: as soon as the ring is full */
		return ring->filled == ring->window_length;
	}
	if (++ring->since_window == ring->stride) {
		ring->since_window = 0;
		return 1;
	}
	return 0;
}

void mf_sensor_ring_window(const struct mf_sensor_ring *ring, float *window)
{
	int row = ring->filled < ring->window_length ? 0 : ring->head;

	for (int i = 0; i < ring->filled; ++i) {
		const float *src = ring->rows + (long)row * ring->n_channels;

		for (int c = 0; c < ring->n_channels; ++c) {
			*window++ = src[c];
		}
		row = row + 1 == ring->window_length ? 0 : row + 1;
	}
}

int64_t mf_sensor_micro(int32_t val1, int32_t val2)
{
	return (int64_t)val1 * 1000000 + val2;
}

float mf_sensor_to_unit(int64_t micro, double micro_per_unit)
{
	return (float)((double)micro / micro_per_unit);
}
