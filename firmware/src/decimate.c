/* Decimation by 2 with a fixed integer half-band FIR: decimate.h. Python twin: mcuforge.dsp.decimate. */
#include "decimate.h"

#include <string.h>

static const int16_t taps[MF_DECIMATE_TAPS] = {
	-56, 0, 96, 0, -221, 0, 462, 0, -878, 0, 1609, 0, -3176, 0, 10342, 16412,
	10342, 0, -3176, 0, 1609, 0, -878, 0, 462, 0, -221, 0, 96, 0, -56};

void mf_decimator_init(struct mf_decimator *d)
{
	memset(d, 0, sizeof *d);
}

uint32_t mf_decimate2(struct mf_decimator *d, const int16_t *in, uint32_t count, int16_t *out)
{
	uint32_t written = 0;

	for (uint32_t i = 0; i < count; ++i) {
		const int16_t sample = in[i]; /* read before `out` (maybe `in`) is written */

		if (d->phase == 0u) { /* x[2n]: the newest sample of output n's window */
			int32_t acc = (int32_t)taps[MF_DECIMATE_TAPS - 1] * sample;

			for (int k = 0; k < MF_DECIMATE_TAPS - 1; ++k) {
				acc += (int32_t)taps[k] * d->history[k];
			}
			acc = (acc + 16384) >> 15;
			out[written++] = (int16_t)(acc > 32767 ? 32767 : (acc < -32768 ? -32768 : acc));
		}
		memmove(d->history, d->history + 1, sizeof d->history - sizeof d->history[0]);
		d->history[MF_DECIMATE_TAPS - 2] = sample;
		d->phase ^= 1u;
	}
	return written;
}
